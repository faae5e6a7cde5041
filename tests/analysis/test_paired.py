"""A paired comparison from run folders (dsnbench/analysis/paired.py)."""
from __future__ import annotations

import pytest

from dsnbench.analysis.paired import compare_runs
from dsnbench.errors import UserError


def test_two_models_of_one_run_paired_by_utterance(demo_run):
    res = compare_runs(demo_run, demo_run, "si_snri", "static-0.25", "static-1", "demo-2mix-ov100")
    assert res["n_utterances"] == 2 and res["dataset"] == "demo-2mix-ov100"
    assert res["mean_diff"] == pytest.approx(res["mean_b"] - res["mean_a"])
    with pytest.raises(UserError, match="holds .* models"):
        compare_runs(demo_run, demo_run)
    with pytest.raises(UserError, match="no column 'nope'"):
        compare_runs(demo_run, demo_run, "nope", "static-1", "static-1", "demo-2mix-ov100")
