"""Run folders (dsnbench/results.py): the one entry key, the one operating-point key, the one
done-set, the columns of schema version 1, durable chunks and reading back."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from dsnbench.metrics import metric_columns
from dsnbench.results import (SEGMENT_COLUMNS, EntryKey, PartStore, ResultsError, committed_keys, frame, op_key,
                              op_keys, read_run, read_summary, utterance_columns, write_tables)

#: the utterance columns design section 7 lists, in order (with the shipped metrics)
SCHEMA_1_UTTERANCE_COLUMNS = [
    "model", "dataset", "operating_point", "utt_id", "duration_s",
    "si_snr", "si_snr_input", "si_snri", "sdr", "sdr_input", "sdri",
    "pesq", "pesq_input", "pesqi", "stoi", "stoi_input", "stoii", "estoi", "estoi_input", "estoii",
    "macs", "gmacs_per_s", "mean_width", "permutation", "error",
]


def test_utterance_columns_of_the_shipped_metrics_are_schema_1():
    assert utterance_columns(metric_columns()) == SCHEMA_1_UTTERANCE_COLUMNS


def test_op_key_is_the_one_normal_form():
    assert op_key(None) is None and op_key(float("nan")) is None and op_key(np.nan) is None
    assert op_key(1) == 1.0 and isinstance(op_key(1), float)
    assert op_key(0.1 * 3) == op_key(0.3)           # 0.30000000000000004 and 0.3: one operating point
    assert op_key(np.float32(0.5)) == 0.5
    with pytest.raises(ValueError, match="not a number"):
        op_key("high")
    ops = pd.Series([np.nan, 0.1 * 3, 2.0])
    keys = op_keys(ops)
    assert math.isnan(keys[0]) and keys[1] == op_key(0.3) and keys[2] == 2.0


def test_entry_key_rows_and_utterance_keys():
    key = EntryKey.of("dsn", "wham:sep_noisy", 0.1 * 3)
    assert key == EntryKey("dsn", "wham:sep_noisy", 0.3) and key.utterance("u1") == ("dsn", "wham:sep_noisy", 0.3, "u1")
    df = frame([{"model": "dsn", "dataset": "wham:sep_noisy", "operating_point": 0.3, "utt_id": "a"},
                {"model": "dsn", "dataset": "wham:sep_noisy", "operating_point": 0.30000000000000004, "utt_id": "b"},
                {"model": "dsn", "dataset": "wham:sep_noisy", "operating_point": 0.5, "utt_id": "c"},
                {"model": "dsn", "dataset": "wham:sep_noisy", "operating_point": None, "utt_id": "d"},
                {"model": "static", "dataset": "wham:sep_noisy", "operating_point": None, "utt_id": "e"}],
               ["model", "dataset", "operating_point", "utt_id"])
    assert list(key.rows(df)["utt_id"]) == ["a", "b"]
    assert list(EntryKey.of("dsn", "wham:sep_noisy", None).rows(df)["utt_id"]) == ["d"]
    assert EntryKey.of("x", "y", None).rows(df.iloc[:0]).empty


def test_part_store_commits_durable_chunks_and_the_done_set(tmp_path):
    cols = utterance_columns(["m", "m_input", "mi"])
    store = PartStore(tmp_path, cols)
    store.commit([{"model": "a", "dataset": "d", "operating_point": None, "utt_id": "u1", "m": 1.0}],
                 [{"model": "a", "dataset": "d", "operating_point": None, "utt_id": "u1", "segment": 0}])
    store.commit([{"model": "a", "dataset": "d", "operating_point": 2, "utt_id": "u2", "mi": 3.0}], [])
    store.commit([], [])  # nothing to commit: no chunk
    assert len(store.utterance_files()) == 2
    assert committed_keys(tmp_path) == store.done_keys() == {("a", "d", None, "u1"), ("a", "d", 2.0, "u2")}
    utt, seg = store.read()
    assert list(utt.columns) == cols and len(utt) == 2 and list(seg.columns) == SEGMENT_COLUMNS
    # an unfinished chunk (segments without their utterance file) is removed on open
    (tmp_path / "parts" / "seg-000009.parquet").write_bytes(b"partial")
    PartStore(tmp_path, cols)
    assert not (tmp_path / "parts" / "seg-000009.parquet").exists()
    assert committed_keys(tmp_path / "nowhere") == set()


def test_part_store_without_columns_keeps_the_rows_metric_columns_between_head_and_tail(tmp_path):
    store = PartStore(tmp_path)
    store.commit([{"error": "", "model": "a", "dataset": "d", "operating_point": None, "utt_id": "u", "x": 1.0,
                   "macs": 5.0}], [])
    utt, _ = store.read()
    assert list(utt.columns) == utterance_columns(["x"])


def test_write_and_read_back_sorted(tmp_path):
    cols = utterance_columns([])
    rows = [{"model": "b", "dataset": "d", "operating_point": None, "utt_id": "2"},
            {"model": "a", "dataset": "d", "operating_point": 1.0, "utt_id": "1"},
            {"model": "a", "dataset": "d", "operating_point": None, "utt_id": "3"}]
    write_tables(tmp_path, frame(rows, cols), frame([], SEGMENT_COLUMNS), {"schema_version": 1, "entries": []})
    run = read_run(tmp_path)
    assert list(run.utterances["utt_id"]) == ["3", "1", "2"]  # model, dataset, op (none first), utt
    assert run.entries() == [] and read_summary(tmp_path / "summary.json")["schema_version"] == 1


def test_unreadable_run_folders_are_one_line_errors(tmp_path):
    with pytest.raises(ResultsError, match="not a run folder"):
        read_run(tmp_path / "missing")
    (tmp_path / "summary.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ResultsError, match="schema_version 99"):
        read_summary(tmp_path)


def test_written_files_follow_the_umask(tmp_path):
    import os
    import stat

    from dsnbench.results import atomic_write_json
    old = os.umask(0o022)
    try:
        atomic_write_json({"a": 1}, tmp_path / "run" / "summary.json")
        assert stat.S_IMODE((tmp_path / "run" / "summary.json").stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write_json({"a": 2}, tmp_path / "private.json")
        assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)
