"""Pareto fronts, curve gaps and point gaps (dsnbench/analysis/pareto.py) on constructed points
and on the demo run."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dsnbench.analysis import pareto


def test_pareto_mask_on_constructed_points():
    cost = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    qual = np.array([5.0, 7.0, 6.0, 6.5, 9.0, 9.0, 20.0])
    # (2,6) is dominated by (2,7); (3,6.5) by (2,7); (5,9) by (4,9); NaN is never on the front
    assert pareto.pareto_mask(cost, qual).tolist() == [True, True, False, False, True, False, False]
    # lower-is-better quality flips the direction
    assert pareto.pareto_mask(cost, qual, higher_is_better=False).tolist() == [True, False, False, False, False, False, False]


def test_pareto_equal_points_and_front_order():
    cost = np.array([3.0, 1.0, 3.0, 2.0])
    qual = np.array([4.0, 1.0, 4.0, 3.0])
    assert pareto.pareto_mask(cost, qual).tolist() == [True, True, True, True]  # equal points do not dominate each other
    c, q = pareto.front(cost, qual)
    assert c.tolist() == [1.0, 2.0, 3.0] and q.tolist() == [1.0, 3.0, 4.0]


def test_pareto_rejects_bad_shapes():
    with pytest.raises(ValueError):
        pareto.pareto_mask(np.zeros(3), np.zeros(4))


def test_curve_gap_parallel_lines():
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    b = (np.array([0.0, 10.0]), np.array([-2.0, 8.0]))
    g = pareto.curve_gap(a, b)
    assert g.mean_gap == pytest.approx(2.0) and g.area == pytest.approx(20.0)
    assert (g.lo, g.hi) == (0.0, 10.0)
    assert pareto.curve_gap(b, a).mean_gap == pytest.approx(-2.0)


def test_curve_gap_known_piecewise_curves():
    # A: q = c on [0, 10]; B: (2,0) (6,4) (12,4). Overlap [2, 10]:
    # on [2,6] A-B = 2 (area 8); on [6,10] A-B = c-4 from 2 to 6 (area 16). Mean 24/8 = 3.
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    b = (np.array([2.0, 6.0, 12.0]), np.array([0.0, 4.0, 4.0]))
    g = pareto.curve_gap(a, b)
    assert g.area == pytest.approx(24.0) and g.mean_gap == pytest.approx(3.0)
    assert (g.lo, g.hi) == (2.0, 10.0)
    # lower-is-better: the sign flips so that positive still means "A better"
    assert pareto.curve_gap(a, b, higher_is_better=False).mean_gap == pytest.approx(-3.0)


def test_curve_gap_matches_dense_integration():
    rng = np.random.default_rng(3)
    for _ in range(20):
        ca = np.sort(rng.choice(np.arange(1, 40), size=5, replace=False)).astype(float)
        cb = np.sort(rng.choice(np.arange(1, 40), size=4, replace=False)).astype(float)
        qa, qb = rng.normal(size=5), rng.normal(size=4)
        g = pareto.curve_gap((ca, qa), (cb, qb))
        lo, hi = max(ca[0], cb[0]), min(ca[-1], cb[-1])
        if lo >= hi:
            continue
        x = np.linspace(lo, hi, 200001)
        trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
        dense = trapezoid(np.interp(x, ca, qa) - np.interp(x, cb, qb), x)
        assert g.area == pytest.approx(dense, abs=1e-6)


def test_curve_gap_without_overlap_is_nan_and_single_point():
    a = (np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    b = (np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    assert math.isnan(pareto.curve_gap(a, b).mean_gap)
    single = (np.array([1.5]), np.array([0.0]))
    g = pareto.curve_gap(a, single)
    assert g.mean_gap == pytest.approx(1.5) and g.area == 0.0
    with pytest.raises(ValueError):
        pareto.curve_gap((np.array([2.0, 1.0]), np.array([0.0, 0.0])), a)


def test_gap_table_has_every_curve_against_static(demo_entries):
    g = pareto.gap_table(demo_entries)
    ds = g[g["dataset"] == "demo-2mix-ov100"]
    assert set(ds["curve"]) == {"slim", "dsn λ=0.05", "dsn λ=0.2", "dsn (all)"}
    assert (ds["reference"] == "static").all()
    assert np.isfinite(ds["mean_gap"]).all()
    assert ((ds["mean_gap"] * (ds["hi"] - ds["lo"]) - ds["area"]).abs() < 1e-9).all()


def _points(*rows: tuple) -> pd.DataFrame:
    """Entries of one dataset 'd' from (label, family, gmacs, m) tuples; the curve is the family."""
    return pd.DataFrame([{"dataset": "d", "label": lab, "family": fam, "curve": fam, "gmacs": g, "m": m}
                         for lab, fam, g, m in rows])


def test_point_gaps_against_the_static_front():
    """Static front (1, 1) -> (2, 3); (1.5, 0.5) is dominated and not part of it."""
    e = _points(("s1", "static", 1.0, 1.0), ("s2", "static", 2.0, 3.0), ("s3", "static", 1.5, 0.5),
                ("a", "dsn", 1.5, 2.5), ("b", "slim", 1.25, 1.0), ("c", "dsn", 2.5, 9.0), ("o", "oracle", 0.0, 0.0))
    g = pareto.point_gaps(e, "m").set_index("label")
    assert list(g.index) == ["a", "b", "c"]                 # oracle and the reference left out
    assert g.loc["a", "reference_at_cost"] == pytest.approx(2.0) and g.loc["a", "gap"] == pytest.approx(0.5)
    assert g.loc["b", "gap"] == pytest.approx(-0.5)
    assert math.isnan(g.loc["c", "gap"])                    # beyond the front: not extrapolated
    low = pareto.point_gaps(e.assign(m=-e["m"]), "m", higher_is_better=False).set_index("label")
    assert low.loc["a", "gap"] == pytest.approx(0.5)        # positive still means better
    no_static = pareto.point_gaps(e[e["family"] != "static"], "m")
    assert set(no_static["reference"]) == {"slim"} and list(no_static["label"]) == ["a", "c"]
    assert pareto.point_gaps(e[e["family"].isin(["dsn", "oracle"])], "m").empty


def test_own_reference_interpolates_each_dsn_on_its_own_weights_curve():
    """reference='own' with known numbers: each DSN point against the fixed-width curve of the
    checkpoint it came from (same source, same run), never another DSN's or the supernet's."""
    rows = []
    for src, base in (("a.safetensors", 1.0), ("b.safetensors", 3.0)):
        for w, g, q in ((0.25, 0.2, base), (1.0, 0.4, base + 2.0)):
            rows.append({"dataset": "d", "run_path": "r", "family": "slim", "curve": f"slim ({src})",
                         "label": f"w{w} {src}", "source": src, "gmacs": g, "si_snri": q})
        rows.append({"dataset": "d", "run_path": "r", "family": "dsn", "curve": f"dsn {src}", "label": f"dsn {src}",
                     "source": src, "gmacs": 0.3, "si_snri": base + 1.5})
    rows.append({"dataset": "d", "run_path": "r", "family": "slim", "curve": "slim", "label": "supernet 0.3",
                 "source": "s.safetensors", "gmacs": 0.3, "si_snri": 10.0})
    g = pareto.point_gaps(pd.DataFrame(rows), "si_snri", reference="own").set_index("label")
    assert g.loc["dsn a.safetensors", "reference_at_cost"] == pytest.approx(2.0)  # halfway from 1 to 3
    assert g.loc["dsn a.safetensors", "gap"] == pytest.approx(0.5)
    assert g.loc["dsn b.safetensors", "reference_at_cost"] == pytest.approx(4.0)
    assert g.loc["dsn b.safetensors", "reference"] == "slim (b.safetensors)"
    assert len(g) == 2


def test_point_gaps_hold_the_front_flat_up_to_the_costliest_reference_member():
    """A dominated costly static (3.0, 2.0) does not lower the curve: between the front's last
    point (2, 3) and cost 3 a budget buys static quality 3; beyond cost 3 nothing is said."""
    e = _points(("s1", "static", 1.0, 1.0), ("s2", "static", 2.0, 3.0), ("s4", "static", 3.0, 2.0),
                ("in", "dsn", 2.5, 3.25), ("edge", "dsn", 3.0, 2.0), ("past", "dsn", 3.5, 9.0),
                ("cheap", "dsn", 0.5, 9.0))
    g = pareto.point_gaps(e, "m").set_index("label")
    assert g.loc["in", "reference_at_cost"] == pytest.approx(3.0) and g.loc["in", "gap"] == pytest.approx(0.25)
    assert g.loc["edge", "gap"] == pytest.approx(-1.0)
    assert math.isnan(g.loc["past", "gap"]) and math.isnan(g.loc["cheap", "gap"])
    low = pareto.point_gaps(e.assign(m=-e["m"]), "m", higher_is_better=False).set_index("label")
    assert low.loc["in", "gap"] == pytest.approx(0.25)


def test_paired_point_gaps_on_a_real_run_equal_a_hand_computation(dsn_run):
    """A real tiny run (untrained checkpoints, 2 utterances): the DSN points against the two
    static networks, interpolated on each utterance by hand; summary.json says the same."""
    import json

    from dsnbench.analysis import collect
    from dsnbench.results import read_run
    run = read_run(dsn_run)
    e = collect.entries_frame([run])
    g = pareto.point_gaps(e, "si_snri", values=pareto.utterance_values([run], "si_snri"), seed=0)
    u = run.utterances
    statics = e[e["family"] == "static"].sort_values("gmacs")
    (c0, m0), (c1, m1) = [(float(r["gmacs"]), r["model"]) for _, r in statics.iterrows()]
    v0 = u[u["model"] == m0].set_index("utt_id")["si_snri"]
    v1 = u[u["model"] == m1].set_index("utt_id")["si_snri"]
    saved = {(r["model"], r["operating_point"]): r for r in json.loads((dsn_run / "summary.json").read_text())["paired_gaps"]}
    checked = 0
    for _, p in e[e["family"] == "dsn"].iterrows():
        row = g[g["label"] == p["label"]].iloc[0]
        c = float(p["gmacs"])
        mine = u[(u["model"] == p["model"]) & (u["operating_point"] == p["operating_point"])].set_index("utt_id")["si_snri"]
        rec = saved[(p["model"], p["operating_point"])]
        if not c0 <= c <= c1:
            assert math.isnan(row["gap"]) and "outside" in row["note"]
            assert rec["gap"] is None and "outside" in rec["outside"]
            continue
        t = (c - c0) / (c1 - c0)
        by_hand = (mine - ((1 - t) * v0 + t * v1).reindex(mine.index)).mean()
        assert row["gap"] == pytest.approx(by_hand) and row["n"] == len(mine)
        assert row["ci_lo"] <= row["gap"] <= row["ci_hi"]
        assert rec["gap"] == pytest.approx(by_hand) and rec["ci95"] == pytest.approx([row["ci_lo"], row["ci_hi"]])
        checked += 1
    assert checked >= 1  # the tiny run places its DSN points between its two static networks


def test_paired_gaps_outside_the_range_say_so(demo, demo_entries):
    e = demo_entries[demo_entries["dataset"] == "demo-2mix-ov100"]
    values = pareto.utterance_values([demo], "si_snri")
    shifted = e.copy()
    shifted.loc[shifted["family"] == "slim", "gmacs"] = 1e-3  # below every static network
    g = pareto.point_gaps(shifted, "si_snri", values=values)
    slim = g[g["family"] == "slim"]
    assert len(slim) and slim["gap"].isna().all() and slim["note"].str.contains("outside").all()


def test_paired_area_table_and_hypervolumes(demo, demo_entries):
    e = demo_entries[demo_entries["dataset"] == "demo-2mix-ov100"]
    values = pareto.utterance_values([demo], "si_snri")
    paired = pareto.gap_table(e, values=values).set_index("curve")
    means = pareto.gap_table(e).set_index("curve")
    # no value is missing in the demo: the paired mean gap is the gap between the mean curves
    for curve in means.index:
        assert paired.loc[curve, "mean_gap"] == pytest.approx(means.loc[curve, "mean_gap"], abs=1e-9)
        assert paired.loc[curve, "ci_lo"] <= paired.loc[curve, "mean_gap"] <= paired.loc[curve, "ci_hi"]
    hv = pareto.hypervolumes(e).set_index("curve")
    ref = pareto.hypervolume_reference(e, "si_snri")
    assert ref == (float(e["gmacs"].max()), 0.0) and (hv["ref_gmacs"] == ref[0]).all()
    static = e[e["family"] == "static"]
    fc, fq = pareto.front(static["gmacs"].to_numpy(float), static["si_snri"].to_numpy(float))
    by_hand = sum((np.append(fc[1:], ref[0]) - fc) * fq)
    assert hv.loc["static", "hypervolume"] == pytest.approx(by_hand)


def test_gap_table_leaves_out_oracles_and_curves_that_do_not_meet_the_reference():
    import pandas as pd

    from dsnbench.analysis.pareto import gap_table
    rows = [("static", "static", 1.0, 5.0), ("static", "static", 2.0, 6.0),
            ("dsn", "dsn-l1", 1.2, 5.6), ("dsn", "dsn-l1", 1.8, 6.1),
            ("slim", "slim", 3.0, 6.5), ("slim", "slim", 4.0, 7.0),          # beyond the statics' range
            ("oracle", "oracle", 0.0, 0.0)]
    entries = pd.DataFrame([{"dataset": "d", "family": f, "curve": c, "gmacs": g, "si_snri": q} for f, c, g, q in rows])
    table = gap_table(entries)
    assert list(table["curve"]) == ["dsn-l1"]
    assert (table["lo"] <= table["hi"]).all() and table["mean_gap"].notna().all()
