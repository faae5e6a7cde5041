"""The local engine end to end (dsnbench/run/local_engine.py): CLI, run loop, results schema v1,
layouts, resume, a checkpoint through ``dsnbench run``."""
from __future__ import annotations

from dsnbench.models.checkpoint import save_checkpoint
from tests.models.test_separators import PROV, net, spread_gate

from tests.helpers import cli as _cli


import numpy as np
import pandas as pd
import pytest

from dsnbench.run.config import build_config
from dsnbench.run.local_engine import run_experiment
from dsnbench.results import SEGMENT_COLUMNS, read_run
from dsnbench.run.folder import table_columns

UTTERANCE_COLUMNS = table_columns()


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


def test_checkpoint_end_to_end_through_dsnbench_run(tmp_path, wsj0_root):
    """A DSN checkpoint file given to the run loop: traces, widths and MACs land in the tables."""
    pytest.importorskip("dsnbench.complexity.table")
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    from dsnbench.results import read_run
    path = save_checkpoint(tmp_path / "dsn-test.safetensors", spread_gate(net()), "dsn", PROV,
                           operating_points=[0.0, 100.0])
    doc = {"models": [str(path)], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1, "limit": 2}
    run_experiment(build_config(doc), tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    assert sorted(run.utterances["operating_point"].unique()) == [0.0, 100.0]
    assert run.utterances["error"].fillna("").eq("").all()
    narrow = run.segments[run.segments["operating_point"] == 100.0]
    assert (narrow["width"] == 0.25).all()
    assert (run.utterances["macs"] > 0).all()
    by_op = run.utterances.groupby("operating_point")["macs"].mean()
    assert by_op[100.0] < by_op[0.0] or (run.segments[run.segments["operating_point"] == 0.0]["width"] == 0.25).all()
