"""The committed experiment files build (the default one, the mini sweep, the corpus ones)."""
from __future__ import annotations

import shutil
from pathlib import Path

from dsnbench.commands.run import default_experiment_path
from dsnbench.run.config import build_config, load_document

REPO = Path(__file__).resolve().parent.parent


def test_default_and_mini_experiments_build():
    default = build_config(load_document(default_experiment_path()))
    mini = build_config(load_document(REPO / "experiments" / "mini.yaml"))
    assert {d.name for d in default.datasets} == {"mini-2mix", "mini-wham"}
    assert {m.name for m in default.models} <= {m.name for m in mini.models}
    families = {m.name.split("-")[0] for m in default.models}
    assert families == {"static", "slim", "dsn", "oracle"}


def test_corpus_experiments_expand_on_a_checkpoint_folder(tmp_path, monkeypatch):
    ckpts = tmp_path / "dsnbench" / "assets" / "checkpoints"   # where the files' globs look
    ckpts.mkdir(parents=True)
    bundled = REPO / "dsnbench" / "assets" / "checkpoints"
    for name in ("static-0.5", "dsn-l1"):
        shutil.copy(bundled / f"{name}.safetensors", ckpts)
    monkeypatch.chdir(tmp_path)
    for name in ("wsj0-2mix", "wham"):
        cfg = build_config(load_document(REPO / "experiments" / f"{name}.yaml"),
                           [f"datasets.0.root={tmp_path}"])
        assert [m.result_name for m in cfg.models] == ["oracle-mixture", "oracle-irm", "static-0.5", "dsn-l1"]
        assert cfg.datasets[0].root == str(tmp_path)


def test_overlap_effect_reads_several_operating_points_and_the_oracle_allocation(wsj0_root, tmp_path, dsnbench_exe,
                                                                                 capsys):
    """experiments/overlap_effect.py on a run shaped like overlap-variants.yaml plus
    overlap-variants-oracle.yaml (the tiny WSJ0-2mix layout stands in for each variant): one line
    per model and operating point, the oracle against the statics, and the widths per category."""
    import importlib.util
    import subprocess
    import yaml
    sets = [{"name": "wsj0-2mix", "root": str(wsj0_root), "label": lab} for lab in ("ov100", "ov25")]
    runs = []
    for name, models in (("plain", [{"name": "static-0.25"}, {"name": "static-1.0"},
                                    {"name": "dsn-l1", "operating_points": [0.0, 1.0]}]),
                         ("oracle", [{"name": "supernet", "allocation": "oracle", "operating_points": [0.5, 4.0]}])):
        exp = tmp_path / f"{name}.yaml"
        exp.write_text(yaml.safe_dump({"models": models, "datasets": sets, "metrics": ["si_snr"], "workers": 1}))
        out = tmp_path / name
        r = subprocess.run(dsnbench_exe + ["run", str(exp), "--limit", "2", "--out", str(out), "--no-progress"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append(str(out))
    spec = importlib.util.spec_from_file_location("overlap_effect", REPO / "experiments" / "overlap_effect.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(runs) == 0
    text = capsys.readouterr().out
    lines = {ln.split(":")[0]: ln for ln in text.splitlines() if "GMAC/s 25 % vs 100 % overlap" in ln}
    assert set(lines) == {"dsn-l1@0", "dsn-l1@1", "supernet+oracle@0.5", "supernet+oracle@4"}
    assert "static-0.25" not in lines
    assert "mean width per segment category" in text
    for ln in lines.values():
        assert "ov50: not in these runs" in ln
