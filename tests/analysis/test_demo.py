"""The synthetic demo run (dsnbench/analysis/demo.py): schema-valid and deterministic."""
from __future__ import annotations

import json

import pandas as pd

from dsnbench.analysis.demo import write_demo_run
from dsnbench.results import SEGMENT_COLUMNS, read_run
from dsnbench.run.folder import table_columns


UTTERANCE_COLUMNS = table_columns()


def test_demo_run_is_schema_valid_and_deterministic(demo_run, demo, tmp_path):
    assert list(demo.utterances.columns[: len(UTTERANCE_COLUMNS)]) == UTTERANCE_COLUMNS
    assert list(demo.segments.columns[: len(SEGMENT_COLUMNS)]) == SEGMENT_COLUMNS
    assert set(demo.segments["category"]) <= {"silence", "one", "overlap"}
    assert demo.summary["synthetic"] is True
    small = dict(n_utterances=2, seconds=1.0, variants=False, perceptual=False)
    one = read_run(write_demo_run(tmp_path / "one", **small))
    two = read_run(write_demo_run(tmp_path / "two", **small))
    pd.testing.assert_frame_equal(one.utterances, two.utterances)
    pd.testing.assert_frame_equal(one.segments, two.segments)
    assert json.dumps(one.summary["entries"]) == json.dumps(two.summary["entries"])
