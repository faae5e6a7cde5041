"""Paired gaps, paired areas and hypervolume (dsnbench/metrics/tradeoff.py) on hand-built values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dsnbench.metrics import tradeoff


def test_paired_gap_equals_a_hand_computation():
    ref_costs = [1.0, 3.0, 5.0]
    ref = np.array([[1.0, 2.0, 3.0, 4.0],
                    [3.0, 6.0, 9.0, 8.0],
                    [4.0, 7.0, 9.5, 9.0]])
    point = np.array([3.0, 3.0, 3.0, 7.0])
    res = tradeoff.paired_gap(point, 2.5, ref_costs, ref, seed=3)
    # cost 2.5 is 3/4 of the way from member 0 (cost 1) to member 1 (cost 3), on every utterance
    by_hand = 0.25 * ref[0] + 0.75 * ref[1]
    diffs = point - by_hand
    assert res["gap"] == pytest.approx(diffs.mean())
    assert res["reference"] == pytest.approx(by_hand.mean())
    assert res["n"] == 4 and res["n_dropped"] == 0 and res["bracket"] == [0, 1]
    assert res["p_ttest"] == pytest.approx(stats.ttest_rel(point, by_hand).pvalue)
    assert res["p_wilcoxon"] == pytest.approx(stats.wilcoxon(point, by_hand).pvalue)
    rng = np.random.default_rng(3)
    boot = diffs[rng.integers(0, 4, size=(1000, 4))].mean(axis=1)
    assert res["ci95"] == pytest.approx(list(np.percentile(boot, [2.5, 97.5])))
    # the same seed gives the same interval; a lower-is-better metric flips the sign
    assert tradeoff.paired_gap(point, 2.5, ref_costs, ref, seed=3)["ci95"] == res["ci95"]
    low = tradeoff.paired_gap(-point, 2.5, ref_costs, -ref, higher_is_better=False, seed=3)
    assert low["gap"] == pytest.approx(res["gap"])


def test_paired_gap_leaves_out_and_counts_missing_pairs():
    ref = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]])
    res = tradeoff.paired_gap(np.array([2.0, np.nan, 9.0]), 2.0, [1.0, 3.0], ref)
    assert res["n"] == 1 and res["n_dropped"] == 2 and res["gap"] == pytest.approx(0.0)


def test_points_outside_the_reference_range_are_refused():
    ref = np.array([[1.0, 2.0], [3.0, 4.0], [2.5, 3.0]])  # the costliest member (cost 4) is dominated
    costs = [1.0, 2.0, 4.0]
    for c in (0.5, 4.5, math.nan):
        with pytest.raises(tradeoff.OutsideRange, match="outside|finite"):
            tradeoff.paired_gap(np.array([1.0, 1.0]), c, costs, ref)
    # between the front's costliest point and the costliest member the curve is flat
    res = tradeoff.paired_gap(np.array([4.0, 4.0]), 3.0, costs, ref)
    assert res["gap"] == pytest.approx(0.5) and res["bracket"] == [1]
    # at a member's own cost the reference is that member
    assert tradeoff.paired_gap(np.array([1.0, 2.0]), 1.0, costs, ref)["gap"] == pytest.approx(0.0)


def test_the_interval_covers_a_known_offset_in_about_95_percent_of_seeds():
    true_gap, n_utt, trials = 0.4, 40, 300
    covered = 0
    for seed in range(trials):
        rng = np.random.default_rng(1000 + seed)
        difficulty = rng.normal(8.0, 3.0, n_utt)          # utterances differ a lot ...
        ref = np.stack([difficulty - 2.0 + rng.normal(0, 0.5, n_utt),
                        difficulty + 2.0 + rng.normal(0, 0.5, n_utt)])
        truth = 0.5 * (ref[0] + ref[1])                     # ... the point is paired with them
        point = truth + true_gap + rng.normal(0, 1.0, n_utt)
        res = tradeoff.paired_gap(point, 2.0, [1.0, 3.0], ref, seed=seed, n_boot=500)
        covered += res["ci95"][0] <= true_gap <= res["ci95"][1]
    assert 0.90 <= covered / trials <= 0.99


def test_paired_area_of_parallel_curves_and_its_agreement_with_the_mean_curves():
    rng = np.random.default_rng(0)
    base = rng.normal(5, 2, 30)
    va = np.stack([base + 1.0, base + 3.0, base + 4.0])     # costs 1, 2, 4
    vb = np.stack([base + 0.5, base + 2.5])                 # costs 1.5, 3.5
    res = tradeoff.paired_area([1.0, 2.0, 4.0], va, [1.5, 3.5], vb, seed=0)
    assert (res["lo"], res["hi"]) == (1.5, 3.5)
    # the same integral on the mean curves, densely sampled
    xs = np.linspace(1.5, 3.5, 20001)
    qa = np.interp(xs, [1.0, 2.0, 4.0], va.mean(axis=1))
    qb = np.interp(xs, [1.5, 3.5], vb.mean(axis=1))
    assert res["mean_gap"] == pytest.approx(np.trapezoid(qa - qb, xs) / 2.0, abs=1e-6)
    assert res["area"] == pytest.approx(res["mean_gap"] * 2.0)
    assert res["n"] == 30
    # every utterance has the same gap curve here, so the interval is that one number
    assert res["ci95"] == pytest.approx([res["mean_gap"]] * 2)
    # no shared range: NaN
    far = tradeoff.paired_area([1.0, 2.0], va[:2], [5.0, 6.0], vb)
    assert math.isnan(far["mean_gap"]) and far["n"] == 0


def test_hypervolume_by_hand():
    cost = np.array([1.0, 2.0, 3.0, 2.5])
    quality = np.array([2.0, 5.0, 6.0, 4.0])  # (2.5, 4) is dominated by (2, 5)
    # slabs: [1,2) x 2, [2,3) x 5, [3,4] x 6 above quality 0, up to cost 4
    assert tradeoff.hypervolume(cost, quality, (4.0, 0.0)) == pytest.approx(1 * 2 + 1 * 5 + 1 * 6)
    assert tradeoff.hypervolume(cost, quality, (2.0, 3.0)) == pytest.approx(0 * 0 + 0 + 0.0)
    assert tradeoff.hypervolume(cost, quality, (2.5, 3.0)) == pytest.approx(0.5 * 2.0)
    assert tradeoff.hypervolume(cost, -quality, (4.0, 0.0), higher_is_better=False) == pytest.approx(13.0)
    assert tradeoff.hypervolume(cost, quality, (0.5, 0.0)) == 0.0


def test_significant():
    assert tradeoff.significant([0.1, 0.3]) and tradeoff.significant([-0.3, -0.1])
    assert not tradeoff.significant([-0.1, 0.3]) and not tradeoff.significant([math.nan, 1.0])
