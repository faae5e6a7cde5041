"""Measured inference time per setting (dsnbench/complexity/latency.py)."""
from __future__ import annotations

import pytest
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


def test_a_batch_is_timed_as_one_forward_and_its_rtf_is_per_second_of_audio():
    """--batch-size: the batch's time over its audio, the same MACs per second as one mixture."""
    import torch
    from dsnbench.complexity.latency import measure_latency
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    from dsnbench.models.separators import DSNSeparator
    torch.manual_seed(0)
    sep = DSNSeparator(DualPathDSN(DSNConfig.preset("tiny")), betas=[0.0], name="tiny")
    one = measure_latency(sep, 0.5, 8000, torch.device("cpu"), repeats=2, warmup=1)
    four = measure_latency(sep, 0.5, 8000, torch.device("cpu"), repeats=2, warmup=1, batch_size=4)
    assert four["batch_size"] == 4 and [r["setting"] for r in one["results"]] == [r["setting"] for r in four["results"]]
    for a, b in zip(one["results"], four["results"]):
        assert b["rtf"] == pytest.approx(b["median_s"] / (4 * 0.5))
        if a["setting"].startswith("width"):
            assert a["gmacs_per_s"] == pytest.approx(b["gmacs_per_s"])
        assert a["peak_mib"] is None                  # memory is reported on a GPU only
    with pytest.raises(ValueError, match="batch size"):
        measure_latency(sep, 0.5, 8000, torch.device("cpu"), repeats=1, warmup=0, batch_size=0)
