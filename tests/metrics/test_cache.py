"""The input-metric cache (dsnbench/metrics/cache.py)."""
from __future__ import annotations

import json
import math
import multiprocessing as mp
from pathlib import Path

import numpy as np

from dsnbench.metrics.cache import InputCache, audio_fingerprint
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
