"""The walking skeleton end to end: CLI, run loop, results schema v1, layouts, resume."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dsnbench.run.config import build_config
from dsnbench.errors import UserError
from dsnbench.run.local_engine import run_experiment
from dsnbench.results import SEGMENT_COLUMNS, read_run
from dsnbench.run.folder import table_columns

UTTERANCE_COLUMNS = table_columns()


def _cli(exe, *args, cwd=None):
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_cli_run_wsj0_oracle_mixture_writes_schema_v1(dsnbench_exe, wsj0_root, tmp_path):
    out = tmp_path / "run"
    res = _cli(dsnbench_exe, "run", "--model", "oracle-mixture", "--dataset", "wsj0-2mix", "--root", wsj0_root,
               "--out", out, "--workers", "1", "--metrics", "si_snr", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "run folder:" in res.stdout and "oracle-mixture" in res.stdout
    run = read_run(out)
    s = run.summary
    assert s["schema_version"] == 1
    for key in ("run_id", "created", "config", "config_hash", "git_commit", "versions", "device",
                "datasets", "metrics_meta", "entries"):
        assert key in s
    assert s["datasets"]["wsj0-2mix"]["n_utterances"] == 4
    (entry,) = s["entries"]
    assert entry["n_utterances"] == {"total": 4, "evaluated": 4, "failed": {}}
    # the mixture oracle improves nothing, exactly
    assert abs(entry["metrics"]["si_snri"]["mean"]) < 1e-9
    assert entry["gmacs_per_s"]["mean"] == 0.0
    assert list(run.utterances.columns[: len(UTTERANCE_COLUMNS)]) == UTTERANCE_COLUMNS
    assert list(run.segments.columns[: len(SEGMENT_COLUMNS)]) == SEGMENT_COLUMNS
    assert len(run.utterances) == 4
    assert np.allclose(run.utterances["si_snri"], 0, atol=1e-9)
    assert set(run.segments["category"].dropna()) <= {"silence", "one", "overlap"}
    # every utterance has its segments, and segments tile the utterance
    for uid, g in run.segments.groupby("utt_id"):
        dur = run.utterances.set_index("utt_id").loc[uid, "duration_s"]
        assert g["start_s"].min() == 0 and abs(g["end_s"].max() - dur) < 1e-9


def test_cli_run_wham_task_and_oracle_irm(dsnbench_exe, wham_root, tmp_path):
    out = tmp_path / "run"
    res = _cli(dsnbench_exe, "run", "--model", "oracle-irm", "--dataset", "wham", "--task", "sep_noisy",
               "--root", wham_root, "--out", out, "--workers", "1", "--metrics", "si_snr", "--no-progress")
    assert res.returncode == 0, res.stderr
    run = read_run(out)
    (entry,) = run.summary["entries"]
    assert entry["dataset"] == "wham:sep_noisy"
    assert entry["metrics"]["si_snri"]["mean"] > 5  # the upper anchor separates
    assert run.summary["datasets"]["wham:sep_noisy"]["info"]["task"] == "sep_noisy"
    assert run.segments["noise_active"].notna().all()  # WHAM! has a noise reference
    assert np.isnan(run.utterances["gmacs_per_s"]).all()  # an oracle's compute is undefined, not 0


def test_experiment_yaml_with_overrides_and_hash(dsnbench_exe, wsj0_root, tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"""
models: [oracle-mixture, oracle-irm]
datasets:
  - {{name: wsj0-2mix, root: /nonexistent}}
metrics: [si_snr]
workers: 1
""")
    out = tmp_path / "run"
    res = _cli(dsnbench_exe, "run", exp, "--set", f"datasets.0.root={wsj0_root}", "--set", "limit=2",
               "--out", out, "--no-progress")
    assert res.returncode == 0, res.stderr
    s = read_run(out).summary
    assert [e["model"] for e in s["entries"]] == ["oracle-mixture", "oracle-irm"]
    assert s["config"]["datasets"][0]["root"] == str(wsj0_root)
    assert s["config"]["limit"] == 2
    cfg = build_config({"models": ["oracle-mixture", "oracle-irm"],
                        "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "metrics": ["si_snr"], "limit": 2, "workers": 7})
    assert s["config_hash"] == cfg.hash()  # workers do not change what is computed
    for e in s["entries"]:
        assert e["n_utterances"]["total"] == 2


@pytest.mark.parametrize("args, needle", [
    (["run", "--model", "oracle-mixtur", "--dataset", "wsj0-2mix", "--root", "."], "did you mean 'oracle-mixture'"),
    (["run", "--model", "oracle-mixture", "--dataset", "wsj-2mix", "--root", "."], "did you mean 'wsj0-2mix'"),
])
def test_unknown_names_get_did_you_mean(dsnbench_exe, args, needle, tmp_path):
    res = _cli(dsnbench_exe, *args, "--out", tmp_path / "r")
    assert res.returncode == 2
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_ls_lists_registries(dsnbench_exe):
    for what, name in (("models", "oracle-irm"), ("datasets", "wham"), ("metrics", "si_snr")):
        res = _cli(dsnbench_exe, "ls", what)
        assert res.returncode == 0 and name in res.stdout


def test_every_subcommand_help_shows_an_example(dsnbench_exe):
    from dsnbench.cli import COMMANDS
    for name in COMMANDS:
        res = _cli(dsnbench_exe, name, "--help")
        assert res.returncode == 0, (name, res.stderr)
        assert "example" in res.stdout.lower() and "dsnbench " + name in res.stdout, name


def _break(root: Path, how: str) -> str:
    base = root / "wav8k" / "min" / "tt"
    first = sorted((base / "mix").iterdir())[0]
    if how == "missing_folder":
        shutil.rmtree(base / "s2")
        return "s2"
    if how == "missing_id":
        (base / "s2" / first.name).unlink()
        return first.stem
    if how == "length":
        import soundfile as sf
        x, sr = sf.read(str(base / "s1" / first.name))
        sf.write(str(base / "s1" / first.name), x[:-10], sr, subtype="PCM_16")
        return first.stem
    if how == "rate":
        import soundfile as sf
        x, sr = sf.read(str(base / "s1" / first.name))
        sf.write(str(base / "s1" / first.name), x, 16000, subtype="PCM_16")
        return "16000"
    raise ValueError(how)


@pytest.mark.parametrize("how", ["missing_folder", "missing_id", "length", "rate"])
def test_broken_layout_is_a_one_line_error_naming_the_file(dsnbench_exe, wsj0_root, tmp_path, how):
    root = tmp_path / "2speakers"
    shutil.copytree(wsj0_root, root)
    needle = _break(root, how)
    res = _cli(dsnbench_exe, "run", "--model", "oracle-mixture", "--dataset", "wsj0-2mix", "--root", root,
               "--out", tmp_path / "run", "--no-progress")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(root) in lines[0] and needle in lines[0]
    assert not (tmp_path / "run").exists()  # nothing started


class _Crashing:
    """A separator wrapper that raises KeyboardInterrupt at the n-th call (a killed run)."""

    def __init__(self, after: int) -> None:
        self.after = after


def test_resume_after_interrupt_gives_identical_tables(wsj0_root, tmp_path, monkeypatch):
    from dsnbench.models.oracles import OracleIRM

    doc = {"models": ["oracle-irm", "oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1, "chunk_size": 1}
    cfg = build_config(doc)
    run_experiment(cfg, tmp_path / "full", progress=False)

    calls = {"n": 0}
    original = OracleIRM.separate

    def dying(self, mixture, references=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # like Ctrl-C or a kill between two utterances
        return original(self, mixture, references)

    monkeypatch.setattr(OracleIRM, "separate", dying)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "resumed", progress=False)
    parts = list((tmp_path / "resumed" / "parts").glob("utt-*.parquet"))
    assert len(parts) == 2  # two utterances landed before the kill
    monkeypatch.setattr(OracleIRM, "separate", original)
    run_experiment(cfg, tmp_path / "resumed", progress=False)
    a, b = read_run(tmp_path / "full"), read_run(tmp_path / "resumed")
    pd.testing.assert_frame_equal(a.utterances, b.utterances)
    pd.testing.assert_frame_equal(a.segments, b.segments)
    strip = lambda s: {k: v for k, v in s.items() if k not in ("created", "run_id")}
    assert strip(a.summary) == strip(b.summary)


def test_same_out_with_other_config_is_refused(wsj0_root, tmp_path):
    doc = {"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1}
    run_experiment(build_config(doc), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="another configuration"):
        run_experiment(build_config({**doc, "limit": 1}), tmp_path / "run", progress=False)


def test_model_that_fails_on_one_utterance_gets_an_error_row(wsj0_root, tmp_path, monkeypatch):
    from dsnbench.models.oracles import OracleMixture
    original = OracleMixture.separate
    calls = {"n": 0}

    def flaky(self, mixture, references=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("out of memory")
        if calls["n"] == 3:
            return original(self, mixture[:-5], references)  # wrong shape
        return original(self, mixture, references)

    monkeypatch.setattr(OracleMixture, "separate", flaky)
    doc = {"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1}
    s = run_experiment(build_config(doc), tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    assert len(run.utterances) == 4  # no row dropped
    errs = run.utterances["error"].tolist()
    assert sum("out of memory" in e for e in errs) == 1
    assert sum("shape" in e for e in errs) == 1
    (e,) = s["entries"]
    assert e["n_utterances"]["evaluated"] == 2
    assert e["n_utterances"]["failed"]["separation"] == 2
    assert e["n_utterances"]["failed"]["si_snri"] == 2
    bad = run.utterances[run.utterances["error"] != ""]
    assert bad["si_snri"].isna().all() and bad["macs"].isna().all()  # NaN, never 0
