"""Input-metric cache, bootstrap summaries, paired comparison and ``dsnbench stats``."""
from __future__ import annotations

import json
import math
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from dsnbench.metrics.cache import InputCache, audio_fingerprint
from dsnbench.metrics.stats import paired_comparison, summarize
from dsnbench.metrics.suite import MetricSuite, UtteranceMetrics

SETTINGS = MetricSuite(["si_snr", "sdr"], sample_rate=8000).settings()


def _m(v: float) -> UtteranceMetrics:
    return UtteranceMetrics({"si_snr_input": v, "sdr_input": math.nan}, None,
                            {"sdr_input": "silent reference 1"}, {"si_snr_input": [v, v]})


# ---------------------------------------------------------------------------------------
# InputCache
# ---------------------------------------------------------------------------------------

def test_cache_round_trip(tmp_path: Path) -> None:
    c = InputCache("abc", SETTINGS, directory=tmp_path)
    assert c.get("u1") is None
    c.put("u1", _m(1.5))
    c.flush()
    c2 = InputCache("abc", SETTINGS, directory=tmp_path)
    got = c2.get("u1")
    assert got is not None
    assert got.values["si_snr_input"] == 1.5 and math.isnan(got.values["sdr_input"])
    assert got.errors == {"sdr_input": "silent reference 1"}
    assert got.per_source["si_snr_input"] == [1.5, 1.5]
    assert (c2.hits, c2.misses) == (1, 0)
    # other settings or another dataset: another key, a miss
    other = MetricSuite(["si_snr"], sample_rate=8000).settings()
    assert InputCache("abc", other, directory=tmp_path).get("u1") is None
    assert InputCache("abd", SETTINGS, directory=tmp_path).get("u1") is None


def test_cache_fingerprint_detects_changed_audio(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mix, src = rng.standard_normal(100), rng.standard_normal((2, 100))
    fp = audio_fingerprint(mix, src)
    assert fp == audio_fingerprint(mix.astype(np.float32).astype(np.float64) * 0 + mix, src)
    c = InputCache("abc", SETTINGS, directory=tmp_path)
    c.put("u1", _m(2.0), fingerprint=fp)
    c.flush()
    c2 = InputCache("abc", SETTINGS, directory=tmp_path)
    assert c2.get("u1", fingerprint=fp) is not None
    assert c2.get("u1", fingerprint=audio_fingerprint(mix + 1e-9, src)) is None


def test_cache_disabled_and_corrupt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DSNBENCH_CACHE", "off")
    c = InputCache("abc", SETTINGS)
    c.put("u1", _m(1.0))
    c.flush()
    assert c.get("u1") is None and not c.enabled
    monkeypatch.setenv("DSNBENCH_CACHE", str(tmp_path))
    c = InputCache("abc", SETTINGS)
    assert c.path is not None and str(c.path).startswith(str(tmp_path))
    c.path.parent.mkdir(parents=True, exist_ok=True)
    c.path.write_text("{not json")
    c = InputCache("abc", SETTINGS)  # a corrupt file is an empty cache, rewritten on flush
    assert c.get("u1") is None
    c.put("u1", _m(1.0))
    c.flush()
    assert json.loads(c.path.read_text())["entries"]["u1"]["values"]["si_snr_input"] == 1.0


def _writer(directory: str, worker: int, n: int) -> None:
    c = InputCache("shared", SETTINGS, directory=directory)
    for i in range(n):
        c.put(f"w{worker}-u{i}", _m(float(i)))
        if i % 5 == 4:
            c.flush()
    c.flush()


def test_two_processes_writing_one_key_lose_nothing(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 20)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    c = InputCache("shared", SETTINGS, directory=tmp_path)
    assert len(c) == 40
    assert c.get("w1-u19").values["si_snr_input"] == 19.0


# ---------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------

def test_summarize_bootstrap_is_deterministic_and_counts_nan() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(10.0, 2.0, 200)
    x[:7] = np.nan
    a, b = summarize(x, seed=0), summarize(x, seed=0)
    assert a == b
    assert a["n"] == 193 and a["n_nan"] == 7
    assert a["mean"] == pytest.approx(np.nanmean(x))
    lo, hi = a["ci95"]
    assert lo < a["mean"] < hi
    # the interval is about +-1.96 standard errors wide
    se = np.nanstd(x) / np.sqrt(193)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert summarize(x, seed=1)["ci95"] != a["ci95"]
    empty = summarize([math.nan, math.nan])
    assert math.isnan(empty["mean"]) and empty["n_nan"] == 2 and empty["n"] == 0
    assert summarize([3.0])["ci95"] == [3.0, 3.0]


def test_paired_comparison() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(10, 3, 100)
    b = a + 0.5 + rng.normal(0, 0.2, 100)
    res = paired_comparison(a, b, seed=0)
    assert res["mean_diff"] == pytest.approx(np.mean(b - a))
    assert res["ci95"][0] < res["mean_diff"] < res["ci95"][1]
    assert res["ci95"][0] > 0
    assert res["p_wilcoxon"] < 1e-6 and res["p_ttest"] < 1e-6
    same = paired_comparison(a, a)
    assert same["mean_diff"] == 0 and same["p_wilcoxon"] == 1.0
    b2 = b.copy()
    b2[3] = np.nan
    assert paired_comparison(a, b2)["n_dropped"] == 1
    noise = paired_comparison(a, a + rng.normal(0, 0.2, 100))
    assert noise["ci95"][0] < 0 < noise["ci95"][1]  # no true difference: the interval holds 0
    assert noise["p_wilcoxon"] > 0.05 and noise["p_ttest"] > 0.05
    with pytest.raises(ValueError):
        paired_comparison(a, b[:-1])


# ---------------------------------------------------------------------------------------
# dsnbench stats
# ---------------------------------------------------------------------------------------

def _write_run(path: Path, rows: list[dict]) -> Path:
    from dsnbench.results import SEGMENT_COLUMNS, frame, write_tables
    from dsnbench.run.folder import table_columns
    summary = {"schema_version": 1, "run_id": path.name, "entries": []}
    write_tables(path, frame(rows, table_columns()), frame([], SEGMENT_COLUMNS), summary)
    return path


def _rows(model: str, values: np.ndarray, ids: list[str], op: float | None = None) -> list[dict]:
    return [{"model": model, "dataset": "mini", "operating_point": op, "utt_id": u, "si_snri": float(v),
             "sdri": float(v) - 1.0, "error": ""} for u, v in zip(ids, values)]


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
