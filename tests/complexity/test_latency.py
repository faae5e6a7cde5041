"""Measured inference time per setting (dsnbench/complexity/latency.py)."""
from __future__ import annotations

import torch

from dsnbench.complexity.latency import measure_latency, time_call
from dsnbench.models.oracles import OracleMixture


def test_time_call_warms_up_then_times_each_repeat():
    calls = []
    times = time_call(lambda: calls.append(1), repeats=3, warmup=2, sync=lambda: None)
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)


def test_a_model_without_a_module_is_timed_whole_on_the_cpu():
    info = measure_latency(OracleMixture(), 0.5, None, torch.device("cpu"), repeats=2, warmup=0)
    (row,) = info["results"]
    assert row["setting"] == "full" and row["repeats"] == 2 and row["gmacs_per_s"] == 0.0
    assert info["seconds"] == 0.5 and info["sample_rate"] == 8000 and row["rtf"] > 0
