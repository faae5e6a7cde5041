"""Gate statistics (dsnbench/analysis/gates.py): width share per category, segmental SI-SNR
by width, entry selection."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dsnbench.analysis import gates


def test_width_share_by_category(demo):
    seg = gates.select_entry(demo.segments, "dsn-l0.05", 0.0, "demo-wham-na50")
    share = gates.width_share_by_category(seg)
    widths = [c for c in share.columns if c != "n"]
    assert np.allclose(share[widths].sum(axis=1), 1.0)
    assert share["n"].sum() == len(seg)
    # noisy set: groups are split by noise activity
    assert any(g.endswith(", noise") for g in share.index) and any(g.endswith(", no noise") for g in share.index)
    # counts recomputed by hand for one group
    grp = share.index[0]
    cat, _, lab = grp.partition(", ")
    sub = seg[(seg["category"] == cat) & (seg["noise_active"] == (lab == "noise"))]
    assert share.loc[grp, "n"] == len(sub)


def test_width_share_counts_unlabelled_segments():
    seg = pd.DataFrame({"model": "dsn", "dataset": "d", "operating_point": 0.0, "utt_id": "u", "segment": range(4),
                        "width": [0.5, 1.0, 1.0, 0.5], "category": ["one", "overlap", None, None],
                        "noise_active": None, "seg_si_snr": 1.0})
    share = gates.width_share_by_category(seg)
    assert list(share.index) == ["one", "overlap", "unlabelled"] and share["n"].sum() == 4


def test_seg_snr_by_width_and_default_entry(demo):
    m, d, op = gates.default_entry(demo.segments)
    assert m.startswith("dsn") and op == 0.0
    seg = gates.select_entry(demo.segments, m, op, d)
    t = gates.seg_snr_by_width(seg)
    assert t["n"].sum() + t["n_nan"].sum() == len(seg)
    w = t["width"].iloc[0]
    v = seg[seg["width"] == w]["seg_si_snr"].dropna()
    assert t["mean"].iloc[0] == pytest.approx(v.mean())


def test_select_entry_errors(demo):
    from dsnbench.errors import UserError
    with pytest.raises(UserError, match="model 'nope'"):
        gates.select_entry(demo.segments, "nope")
    with pytest.raises(UserError, match="operating point"):
        gates.select_entry(demo.segments, "dsn-l0.05", 7.0)


def test_utterance_spans_tile_time(demo):
    seg = gates.select_entry(demo.segments, "dsn-l0.05", 0.0, "demo-2mix-ov100")
    uid = sorted(set(seg["utt_id"]))[0]
    g = gates.utterance_segments(seg, uid)
    assert g["span_start_s"].iloc[0] == 0.0
    assert np.allclose(g["span_start_s"].to_numpy()[1:], g["span_end_s"].to_numpy()[:-1])


def test_oracle_agreement_per_category_at_matched_compute():
    import pandas as pd

    from dsnbench.analysis.gates import oracle_agreement
    cats = ["silence", "silence", "one", "one", "overlap", "overlap"]
    noise = [True, False, False, False, False, False]
    rows = []
    dsn_w = [0.25, 0.25, 0.5, 1.0, 1.0, 1.0]
    for s, (c, n, w) in enumerate(zip(cats, noise, dsn_w)):
        rows.append({"model": "m", "dataset": "d", "operating_point": 0.0, "utt_id": "u", "segment": s,
                     "width": w, "macs": 100 * w, "category": c, "noise_active": n})
    # the oracle at mu=0 is costly (mean MACs 100), at mu=1 matches the gate's mean (75/100 ...)
    oracle = {0.0: [1.0] * 6, 1.0: [0.25, 0.5, 0.5, 0.5, 1.0, 1.0]}
    for mu, ws in oracle.items():
        for s, (c, n, w) in enumerate(zip(cats, noise, ws)):
            rows.append({"model": "m+oracle", "dataset": "d", "operating_point": mu, "utt_id": "u", "segment": s,
                         "width": w, "macs": 100 * w, "category": c, "noise_active": n})
    seg = pd.DataFrame(rows)
    agreement, mu = oracle_agreement(seg, "m", 0.0, "d")
    assert mu == 1.0
    assert agreement.loc["noise-only", "agreement"] == 1.0 and agreement.loc["noise-only", "n"] == 1
    assert agreement.loc["silence", "agreement"] == 0.0
    assert agreement.loc["one", "agreement"] == 0.5 and agreement.loc["overlap", "agreement"] == 1.0
    assert agreement.loc["all", "agreement"] == 4 / 6
    assert list(agreement.index) == ["silence", "noise-only", "one", "overlap", "all"]
    empty, none = oracle_agreement(seg[seg["model"] == "m"], "m", 0.0, "d")
    assert empty.empty and none is None
