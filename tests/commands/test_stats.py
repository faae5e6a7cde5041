"""``dsnbench stats``: paired comparison of two models on the same utterances."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def test_stats_command(tmp_path: Path, capsys) -> None:
    from dsnbench.cli import main
    rng = np.random.default_rng(0)
    ids = [f"u{i:02d}" for i in range(30)]
    a = rng.normal(8, 2, 30)
    b = a + 1.0 + rng.normal(0, 0.3, 30)
    run_a = _write_run(tmp_path / "a", _rows("static", a, ids))
    run_b = _write_run(tmp_path / "b", _rows("dsn", b, ids))
    assert main(["stats", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out
    assert "si_snri" in out and "30 paired utterances" in out and "Wilcoxon" in out
    assert main(["stats", str(run_a), str(run_b), "--metric", "sdri", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metric"] == "sdri" and res["n"] == 30
    assert res["mean_diff"] == pytest.approx(np.mean(b - a))
    assert res["ci95"][0] > 0 and res["p_wilcoxon"] < 1e-4
    assert res["a"]["model"] == "static" and res["b"]["model"] == "dsn"

    # two models in one run: must be named; then the run can be compared with itself
    both = _write_run(tmp_path / "both", _rows("static", a, ids) + _rows("dsn", b, ids))
    assert main(["stats", str(both), str(both)]) == 2
    assert "--model-a" in capsys.readouterr().err
    assert main(["stats", str(both), str(both), "--model-a", "static", "--model-b", "dsn", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_diff"] == pytest.approx(res["mean_diff"])

    # different utterance sets: refused with exit 3, saying how they differ
    run_c = _write_run(tmp_path / "c", _rows("dsn", b[:-2], ids[:-2]) + _rows("dsn", b[:1], ["zz"]))
    assert main(["stats", str(run_a), str(run_c)]) == 3
    err = capsys.readouterr().err
    assert "utterance sets differ" in err and "2 id(s) only in A" in err and "1 only in B" in err

    assert main(["stats", str(run_a), str(run_b), "--metric", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    assert main(["stats", str(run_a), str(tmp_path / "missing")]) == 2


def test_stats_operating_points(tmp_path: Path, capsys) -> None:
    from dsnbench.cli import main
    ids = [f"u{i}" for i in range(10)]
    vals = np.arange(10.0)
    run = _write_run(tmp_path / "ops", _rows("dsn", vals, ids, 0.0) + _rows("dsn", vals + 2, ids, 0.5))
    assert main(["stats", str(run), str(run)]) == 2
    assert "operating points" in capsys.readouterr().err
    assert main(["stats", str(run), str(run), "--op-a", "0", "--op-b", "0.5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_diff"] == pytest.approx(2.0)


def _write_run(path: Path, rows: list[dict], manifest_hash: str | None = None) -> Path:
    from dsnbench.results import SEGMENT_COLUMNS, frame, write_tables
    from dsnbench.run.folder import table_columns
    summary = {"schema_version": 1, "run_id": path.name, "entries": []}
    if manifest_hash:
        summary["datasets"] = {"mini": {"manifest_hash": manifest_hash, "n_utterances": len(rows)}}
    write_tables(path, frame(rows, table_columns()), frame([], SEGMENT_COLUMNS), summary)
    return path


def _rows(model: str, values: np.ndarray, ids: list[str], op: float | None = None) -> list[dict]:
    return [{"model": model, "dataset": "mini", "operating_point": op, "utt_id": u, "si_snri": float(v),
             "sdri": float(v) - 1.0, "error": ""} for u, v in zip(ids, values)]


def test_stats_refuses_runs_on_different_audio_under_the_same_ids(tmp_path: Path, capsys) -> None:
    """An overlap variant keeps the utterance ids: equal ids, other mixtures (manifest hashes differ)."""
    from dsnbench.cli import main
    ids = [f"u{i}" for i in range(10)]
    original = _write_run(tmp_path / "orig", _rows("dsn", np.arange(10.0), ids), manifest_hash="a" * 16)
    variant = _write_run(tmp_path / "ov50", _rows("dsn", np.arange(10.0) + 1, ids), manifest_hash="b" * 16)
    same = _write_run(tmp_path / "again", _rows("static", np.arange(10.0) + 2, ids), manifest_hash="a" * 16)
    assert main(["stats", str(original), str(variant)]) == 3
    err = capsys.readouterr().err
    assert "different audio" in err and "--allow-different-audio" in err and err.count("\n") == 1
    assert main(["stats", str(original), str(variant), "--allow-different-audio", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_diff"] == pytest.approx(1.0)
    assert main(["stats", str(original), str(same)]) == 0
