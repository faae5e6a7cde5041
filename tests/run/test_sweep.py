"""Sweep expansion (dsnbench/run/sweep.py): ranges, sweep products, globs, the hash of a sweep
and of its hand-written equivalent, errors, and the bundled sweep files."""
from __future__ import annotations

from pathlib import Path

import pytest

from dsnbench.run.config import build_config
from dsnbench.errors import UserError
from dsnbench.run.sweep import expand_document, expand_range

REPO = Path(__file__).resolve().parents[2]


def test_range_is_inclusive_rounded_and_typed():
    assert expand_range([0.0, 1.0, 0.25], "x") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert expand_range([0, 0.3, 0.1], "x") == [0.0, 0.1, 0.2, 0.3]  # not 0.30000000000000004
    assert expand_range([2, 0, -1], "x") == [2, 1, 0]
    assert expand_range([100, 25, -25], "x") == [100, 75, 50, 25]
    assert all(isinstance(v, int) for v in expand_range([1, 3, 1], "x"))
    assert expand_range([0, 1, 0.4], "x") == [0.0, 0.4, 0.8]  # stop off the grid is not added
    for bad, needle in (([0, 1, 0], "must not be 0"), ([0, 1, -0.5], "never reaches"),
                        ([0, 1], r"\[start, stop, step\]"), (["a", 1, 1], "numbers"),
                        ([0, 1, 1e-9], "at most")):
        with pytest.raises(UserError, match=needle):
            expand_range(bad, "exp.yaml: models[0].operating_points")


def test_sweep_product_templates_fields_and_operating_point_ranges():
    doc = {
        "models": [
            "oracle-mixture",
            {"name": "ckpt/dsn-l{lam}.safetensors", "label": "dsn-l{lam}", "sweep": {"lam": [0.01, 0.1]},
             "operating_points": [0.0, {"range": [1, 2, 0.5]}]},
            {"name": "supernet", "width": "{w}", "label": "slim-{w}", "sweep": {"w": {"range": [0.25, 1.0, 0.25]}}},
        ],
        "datasets": [
            {"name": "wham", "root": "/data/wham", "sweep": {"task": ["sep_clean", "sep_noisy"]}},
            {"name": "wsj0-2mix", "root": "/data/variants/ov{ov}", "label": "wsj0-2mix-ov{ov}",
             "sweep": {"ov": {"range": [100, 25, -25]}}},
        ],
    }
    out = expand_document(doc)
    names = [m if isinstance(m, str) else m["label"] for m in out["models"]]
    assert names == ["oracle-mixture", "dsn-l0.01", "dsn-l0.1", "slim-0.25", "slim-0.5", "slim-0.75", "slim-1.0"]
    dsn = out["models"][1]
    assert dsn["name"] == "ckpt/dsn-l0.01.safetensors" and dsn["operating_points"] == [0.0, 1.0, 1.5, 2.0]
    assert "lam" not in dsn and "sweep" not in dsn  # a mentioned variable is not also a field
    assert out["models"][3]["width"] == 0.25 and isinstance(out["models"][3]["width"], float)  # typed
    tasks = [(d["name"], d.get("task"), d.get("root")) for d in out["datasets"][:2]]
    assert tasks == [("wham", "sep_clean", "/data/wham"), ("wham", "sep_noisy", "/data/wham")]  # unmentioned -> field
    assert [d["label"] for d in out["datasets"][2:]] == ["wsj0-2mix-ov100", "wsj0-2mix-ov75", "wsj0-2mix-ov50",
                                                          "wsj0-2mix-ov25"]
    assert out["datasets"][3]["root"] == "/data/variants/ov75"
    # the product: first key slowest
    two = expand_document({"models": [{"name": "m-{a}-{b}", "sweep": {"a": [1, 2], "b": ["x", "y"]}}]})
    assert two["models"] == [{"name": n} for n in ("m-1-x", "m-1-y", "m-2-x", "m-2-y")]
    assert doc["models"][1]["sweep"] == {"lam": [0.01, 0.1]}  # the input is not modified


def test_sweep_and_its_written_out_form_have_the_same_config_and_hash():
    sweep = {"models": [{"name": "oracle-irm", "window_ms": "{w}", "label": "irm-{w}", "sweep": {"w": [16, 32]}}],
             "datasets": ["mini-2mix"]}
    plain = {"models": [{"name": "oracle-irm", "window_ms": 16, "label": "irm-16"},
                        {"name": "oracle-irm", "window_ms": 32, "label": "irm-32"}],
             "datasets": ["mini-2mix"]}
    a, b = build_config(sweep), build_config(plain)
    assert a == b and a.hash() == b.hash()
    # --set reaches into the sweep before it is expanded
    c = build_config(sweep, ["models.0.sweep.w=[8]"])
    assert [m.result_name for m in c.models] == ["irm-8"]


def test_glob_expands_checkpoint_files_sorted(tmp_path, monkeypatch):
    for lam in ("0.1", "0.01"):
        d = tmp_path / "runs" / f"dsn-l{lam}"
        d.mkdir(parents=True)
        (d / "best.safetensors").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    out = expand_document({"models": [{"glob": "runs/*/best.safetensors", "label": "{parent}",
                                       "operating_points": {"range": [0, 1, 1]}}]})
    assert out["models"] == [
        {"name": "runs/dsn-l0.01/best.safetensors", "label": "dsn-l0.01", "operating_points": [0, 1]},
        {"name": "runs/dsn-l0.1/best.safetensors", "label": "dsn-l0.1", "operating_points": [0, 1]},
    ]
    with pytest.raises(UserError, match=r"models\[0\]: glob 'nothing/\*.pt' matches no file"):
        expand_document({"models": [{"glob": "nothing/*.pt"}]})


@pytest.mark.parametrize("doc, needle", [
    ({"models": [{"name": "m-{lamda}", "sweep": {"lam": [1]}}]}, r"unknown sweep variable \{lamda\} \(known: lam\)"),
    ({"models": [{"name": "m", "sweep": {"lam": []}}]}, "has no values"),
    ({"models": [{"name": "m", "sweep": [1, 2]}]}, "sweep is a mapping"),
    ({"models": [{"name": "oracle-irm", "sweep": {"w": [1, 2]}}]}, "appears twice after expansion"),
    ({"models": [{"name": "m", "task": "a", "sweep": {"task": ["b"]}}]}, "also a field"),
    ({"models": [{"name": "m", "operating_points": {"ragne": [0, 1, 1]}}]}, "got keys"),
    ({"datasets": [{"name": "d", "glob": "*.wav"}]}, "a dataset is named by 'name'"),
    ({"models": ["oracle-irm", {"name": "oracle-irm"}]}, r"model 'oracle-irm' is listed twice \(items 0 and 1\)"),
])
def test_malformed_sweeps_are_one_line_errors_naming_the_item(doc, needle):
    with pytest.raises(UserError, match=needle) as info:
        expand_document(doc, where="exp.yaml")
    assert "\n" not in str(info.value) and str(info.value).startswith("exp.yaml")


def test_bundled_sweep_files_expand(tmp_path, monkeypatch):
    from dsnbench.documents import load_document
    from dsnbench.run.engines import engine_options
    mini = load_document(REPO / "experiments" / "sweeps" / "mini-sweep.yaml")
    assert engine_options(mini).name == "dask"  # the file's engine key, taken out of the config
    cfg = build_config(mini)
    assert [m.result_name for m in cfg.models] == ["oracle-mixture", "oracle-irm-16ms", "oracle-irm-32ms",
                                                   "oracle-irm-64ms", "static-1.0"]
    assert [dict(m.options) for m in cfg.models[1:4]] == [{"window_ms": w} for w in (16, 32, 64)]
    # the paper grid, with stand-in checkpoint files where its globs look
    grid = load_document(REPO / "experiments" / "sweeps" / "paper-grid.yaml")
    engine_options(grid)
    where = tmp_path / "dsnbench" / "assets" / "checkpoints"   # the folder the file's globs name
    where.mkdir(parents=True)
    for stem in ("dsn-l0.01", "dsn-l0.1", "static-0.25", "static-1.0", "supernet"):
        (where / f"{stem}.safetensors").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    cfg = build_config(grid)
    assert [m.result_name for m in cfg.models] == [
        "oracle-mixture", "oracle-irm", "dsn-l0.01", "dsn-l0.1", "static-0.25", "static-1.0",
        "slim-0.25", "slim-0.5", "slim-0.75", "slim-1.0"]
    assert cfg.models[2].operating_points == (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    assert [d.label or d.name for d in cfg.datasets] == ["wsj0-2mix", "wham", "wsj0-2mix-ov100",
                                                          "wsj0-2mix-ov50", "wsj0-2mix-ov25"]
