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
    assert {"mini-2mix", "mini-wham"} <= datasets, datasets
    assert len(run.utterances) > 0


def test_default_run_reproduces_the_committed_baseline(tmp_path):
    if not (BASELINE / "summary.json").exists():
        pytest.skip(f"no committed baseline at {BASELINE} yet (scripts/ci_regression.sh --update-baseline)")
    from dsnbench.cli import main
    from dsnbench.compare import compare_paths

    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--no-progress"]) == 0
    comparison = compare_paths(BASELINE, out)
    # within tolerance, not bit-identical: another CPU or BLAS may move the last digits
    assert comparison.exit_code == 0, comparison.to_text(show="changed")
    assert all(r.status != "only_in_new" for r in comparison.rows), comparison.to_text(show="changed")
