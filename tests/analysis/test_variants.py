"""Overlap / noise-activity factors of variant datasets (dsnbench/analysis/variants.py)."""
from __future__ import annotations

from dsnbench.analysis import variants


def test_dataset_factors_from_info_and_names():
    assert variants.dataset_factors("x", {"info": {"overlap": 0.5, "noise_activity": 100}}) == (0.5, 1.0)
    assert variants.dataset_factors("wsj-ov25", {}) == (0.25, None)
    assert variants.dataset_factors("wham-overlap0.5-na50", None) == (0.5, 0.5)
    assert variants.dataset_factors("wham:sep_noisy", {"manifest_hash": "x"}) == (None, None)


def test_variant_table_holds_the_other_factor(demo, demo_entries):
    f = variants.factors_frame([demo])
    ov = variants.variant_table(demo_entries, f, "overlap")
    # the overlap axis uses the clean sets only (noise not varied), one row per entry and overlap
    assert sorted(set(ov["overlap"])) == [0.25, 0.5, 1.0]
    assert not ov.duplicated(["label", "overlap"]).any()
    na = variants.variant_table(demo_entries, f, "noise_activity")
    assert sorted(set(na["noise_activity"])) == [0.5, 1.0]
    lines = variants.default_lines(ov)
    assert set(lines["family"]) == {"static", "dsn"}
    assert set(lines.loc[lines["family"] == "dsn", "operating_point"]) == {0.0}


def test_the_unmodified_set_beside_its_variants_is_the_100_percent_point():
    from types import SimpleNamespace

    from dsnbench.analysis.variants import factors_frame, left_out
    run = SimpleNamespace(path="runs/ov", summary={"run_id": "r", "datasets": {
        "wsj0-2mix": {}, "wsj0-2mix-ov50": {}, "wsj0-2mix-ov25": {}, "other-set": {}}})
    f = factors_frame([run]).set_index("dataset")
    assert f.loc["wsj0-2mix", "overlap"] == 1.0 and f.loc["wsj0-2mix-ov50", "overlap"] == 0.5
    assert left_out(f.reset_index()) == ["other-set"]
