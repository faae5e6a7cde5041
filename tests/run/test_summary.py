"""summary.json (dsnbench/run/summary.py): metadata from the metric registry, one entry from its
rows, the document around the entries, the final tables."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from dsnbench.results import SEGMENT_COLUMNS, EntryKey, PartStore, frame, read_run, utterance_columns
from dsnbench.run.summary import entry_summary, finalize, metrics_meta, summary_document, versions


def test_metrics_meta_comes_from_the_registry():
    meta = metrics_meta(["sdr", "pesq"])
    assert list(meta) == ["sdr", "sdr_input", "sdri", "pesq", "pesq_input", "pesqi", "gmacs_per_s"]
    assert meta["pesqi"] == {"unit": "MOS-LQO", "higher_is_better": True, "tolerance": 0.02}
    assert meta["gmacs_per_s"] == {"unit": "GMAC/s", "higher_is_better": False, "tolerance": 0.001}


def test_versions_record_every_metric_library_in_order():
    v = versions()
    assert list(v) == ["dsnbench", "torch", "numpy", "scipy", "pandas", "pesq", "pystoi", "fvcore", "soundfile"]


def _rows(n: int, **values) -> pd.DataFrame:
    rows = [{"model": "m", "dataset": "d", "operating_point": 0.5, "utt_id": f"u{i}", "gmacs_per_s": 1.0 + i,
             "error": "", **{k: v[i] for k, v in values.items()}} for i in range(n)]
    return frame(rows, utterance_columns(["si_snr", "si_snr_input", "si_snri"]))


def test_entry_counts_failures_and_shares_widths():
    utt = _rows(4, si_snr=[1.0, np.nan, 3.0, 5.0], si_snr_input=[0.0] * 4, si_snri=[1.0, np.nan, 3.0, 5.0])
    utt.loc[3, "error"] = "separate: RuntimeError: boom"
    seg = frame([{"model": "m", "dataset": "d", "operating_point": 0.5, "utt_id": "u0", "segment": s, "width": w}
                 for s, w in enumerate([0.5, 1.0, 1.0, np.nan])], SEGMENT_COLUMNS)
    e = entry_summary(EntryKey.of("m", "d", 0.5), utt, seg, ["si_snr", "si_snr_input", "si_snri"], n_total=5,
                      family="dsn", model_info={"name": "m", "path": Path("/x")}, params=7)
    assert e["operating_point"] == 0.5 and e["family"] == "dsn" and e["params"] == 7
    assert e["model_info"] == {"name": "m", "path": "/x"}  # plain JSON
    assert e["n_utterances"] == {"total": 5, "evaluated": 3, "failed": {"separation": 1, "si_snr": 1, "si_snri": 1}}
    assert e["metrics"]["si_snr"]["mean"] == 3.0 and e["metrics"]["si_snr_input"]["mean"] == 0.0
    assert e["gmacs_per_s"]["mean"] == 2.5
    assert e["width_share"] == {"0.5": 1 / 3, "1": 2 / 3}
    none = entry_summary(EntryKey.of("m", "d", None), utt.iloc[:0], seg.iloc[:0], ["si_snr"], n_total=0)
    assert math.isnan(none["metrics"]["si_snr"]["mean"]) and none["width_share"] is None


def test_document_order_extra_keys_and_final_tables(tmp_path):
    doc = summary_document(created="c", run_id="r", config={"a": 1}, config_hash="h", datasets={}, metric_names=["stoi"],
                           metric_settings={}, entries=[], git_commit="g", versions={}, device="cpu", synthetic=True)
    assert list(doc) == ["schema_version", "run_id", "created", "synthetic", "config", "config_hash", "git_commit",
                         "versions", "device", "datasets", "metrics_meta", "metric_settings", "entries"]
    assert set(doc["metrics_meta"]) == {"stoi", "stoi_input", "stoii", "gmacs_per_s"}
    store = PartStore(tmp_path, utterance_columns([]))
    store.commit([{"model": "b", "dataset": "d", "operating_point": None, "utt_id": "2", "gmacs_per_s": float("nan")},
                  {"model": "a", "dataset": "d", "operating_point": None, "utt_id": "1"}], [])
    finalize(tmp_path, store, {**doc, "note": float("nan")})
    run = read_run(tmp_path)
    assert list(run.utterances["model"]) == ["a", "b"] and run.summary["note"] is None  # strict JSON: no NaN
