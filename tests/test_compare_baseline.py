"""The default run on the mini benchmark reproduces the committed baseline within tolerance.

This is the same check as ``scripts/ci_regression.sh`` (which CI runs after the suite), kept in
the suite so that a change which moves the committed numbers is caught by ``pytest`` alone. The
baseline (``results/mini/baseline``) is made on purpose with
``scripts/ci_regression.sh --update-baseline``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "results" / "mini" / "baseline"


def test_baseline_is_a_complete_run_folder():
    if not (BASELINE / "summary.json").exists():
        pytest.skip(f"no committed baseline at {BASELINE} yet (scripts/ci_regression.sh --update-baseline)")
    from dsnbench.results import read_run
    run = read_run(BASELINE)
    datasets = {e["dataset"] for e in run.entries()}
    assert {"mini-2mix", "mini-wham:sep_noisy"} <= datasets, datasets
    assert len(run.utterances) > 0


def test_default_run_reproduces_the_committed_baseline(tmp_path):
    """The default experiment on the first utterances of each dataset gives the baseline's
    per-utterance values within each metric's tolerance (the full run and the summary-level
    comparison are ``scripts/ci_regression.sh``, which ``.ci/run`` calls after the suite)."""
    if not (BASELINE / "summary.json").exists():
        pytest.skip(f"no committed baseline at {BASELINE} yet (scripts/ci_regression.sh --update-baseline)")
    import numpy as np

    from dsnbench.cli import main
    from dsnbench.metrics import COSTS, METRICS
    from dsnbench.results import read_run

    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--no-progress", "--limit", "2"]) == 0
    base, new = read_run(BASELINE), read_run(out)
    keys = ["model", "dataset", "operating_point", "utt_id"]
    b = base.utterances.assign(operating_point=base.utterances["operating_point"].fillna(-1)).set_index(keys)
    n = new.utterances.assign(operating_point=new.utterances["operating_point"].fillna(-1)).set_index(keys)
    assert len(n) > 0 and n.index.isin(b.index).all(), "rows the baseline does not have"
    tol = {name: METRICS.get(name).tolerance for name in METRICS.names()}
    tol.update({name: COSTS.get(name).tolerance for name in COSTS.names()})
    checked = 0
    for col in n.columns:
        base_name = col[:-1] if col.endswith("i") and col[:-1] in tol else col.removesuffix("_input")
        if base_name not in tol:
            continue
        x, y = b.loc[n.index, col].to_numpy(float), n[col].to_numpy(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), col
        ok = np.isnan(x) | (np.abs(x - y) <= tol[base_name])
        assert ok.all(), (col, n.index[~ok].tolist()[:3])
        checked += 1
    assert checked >= 10
