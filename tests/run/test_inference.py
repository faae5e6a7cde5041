"""Inference at scale in the run engine (issue 23): batches bucketed by length, device and
precision, out-of-memory splitting, and GPU routing on Dask. Everything runs on the CPU; a
"GPU" worker is a Dask worker that declares the resource, and out of memory is simulated."""
from __future__ import annotations

import json
import logging
import random

import numpy as np
import pandas as pd
import pytest
import torch

from dsnbench.results import read_run
from dsnbench.run.config import build_config
from dsnbench.run.local_engine import run_experiment
from dsnbench.run.unit import UtteranceEvaluator, length_batches
from dsnbench.testing import write_wsj0_2mix

METRICS = ["si_snr", "sdr", "stoi"]


@pytest.fixture(scope="module")
def varied_root(tmp_path_factory):
    """7 WSJ0-2mix mixtures of 0.8-1.2 s (different lengths, so batches pad)."""
    return write_wsj0_2mix(tmp_path_factory.mktemp("varied") / "2speakers", n=7, seconds=1.0, seed=3)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    d = tmp_path_factory.mktemp("ckpt")
    prov = {"training_config": {}, "data": "test fixture: random init", "steps": 0, "val_si_snr": None,
            "val_si_snri": None}
    torch.manual_seed(0)
    dsn = DualPathDSN(DSNConfig.preset("tiny")).eval()
    with torch.no_grad():            # a gate whose choice varies from chunk to chunk
        dsn.gate.logits.weight.mul_(40.0)
    torch.manual_seed(1)
    static = DualPathDSN(DSNConfig.preset("tiny").static_at(0.5)).eval()
    return {"dsn": save_checkpoint(d / "tiny-dsn.safetensors", dsn, "dsn", prov, operating_points=[0.0, 2.0]),
            "static": save_checkpoint(d / "tiny-static.safetensors", static, "static", prov)}


def _cfg(root, checkpoints, **extra):
    return build_config({
        "models": [{"name": str(checkpoints["dsn"]), "label": "tiny-dsn"},
                   {"name": str(checkpoints["static"]), "label": "tiny-static"},
                   "oracle-irm", "oracle-mixture"],
        "datasets": [{"name": "wsj0-2mix", "root": str(root)}],
        "metrics": METRICS, "workers": 1, "chunk_size": 2, **extra})


@pytest.fixture(scope="module")
def unbatched(varied_root, checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("b1") / "run"
    run_experiment(_cfg(varied_root, checkpoints), out, progress=False)
    return read_run(out)


def test_batched_tables_equal_unbatched_and_the_macs_are_the_same(varied_root, checkpoints, unbatched, tmp_path):
    out = tmp_path / "b3"
    summary = run_experiment(_cfg(varied_root, checkpoints, batch_size=3), out, progress=False)
    run = read_run(out)
    a, b = unbatched.utterances, run.utterances
    assert list(a["utt_id"]) == list(b["utt_id"]) and a["error"].eq("").all() and b["error"].eq("").all()
    # the same table prices the same traces: MACs and widths identical, per utterance and segment
    assert np.array_equal(a["macs"].to_numpy(), b["macs"].to_numpy(), equal_nan=True)
    pd.testing.assert_frame_equal(unbatched.segments.drop(columns=["seg_si_snr"]),
                                  run.segments.drop(columns=["seg_si_snr"]), check_exact=True)
    assert unbatched.segments.query("model == 'tiny-dsn'")["width"].nunique() > 1
    for col in ("si_snr", "sdr", "stoi"):
        assert np.allclose(a[col], b[col], atol=1e-4, rtol=0), col
    # recorded, and not in the hash: the same computation
    assert summary["inference"]["batch_size"] == 3 and summary["config"]["batch_size"] == 3
    assert summary["config_hash"] == unbatched.summary["config_hash"]


def test_batches_do_not_depend_on_the_order_of_the_utterances(varied_root):
    from dsnbench.data.layouts import wsj0_2mix
    utts = list(wsj0_2mix(varied_root).utterances)
    ref = [[u.utt_id for u in b] for b in length_batches(utts, 3)]
    for seed in range(5):
        random.Random(seed).shuffle(utts)
        assert [[u.utt_id for u in b] for b in length_batches(utts, 3)] == ref
    lengths = [u.n_samples for b in length_batches(utts, 3) for u in b]
    assert lengths == sorted(lengths)


def test_a_resumed_batched_run_ends_with_the_same_tables(varied_root, checkpoints, tmp_path):
    cfg = _cfg(varied_root, checkpoints, batch_size=3)
    whole = tmp_path / "whole"
    run_experiment(cfg, whole, progress=False)
    cut = tmp_path / "cut"
    run_experiment(cfg, cut, progress=False)
    parts = sorted((cut / "parts").glob("utt-*.parquet"))
    for p in parts[len(parts) // 2:]:          # as if the run had been killed half way
        p.unlink()
        (p.parent / p.name.replace("utt-", "seg-")).unlink()
    (cut / "summary.json").unlink()
    run_experiment(cfg, cut, progress=False)
    pd.testing.assert_frame_equal(read_run(whole).utterances, read_run(cut).utterances, check_exact=True)
    pd.testing.assert_frame_equal(read_run(whole).segments, read_run(cut).segments, check_exact=True)


class _OOMAbove:
    """A batchable fake separator: a batch of more than ``limit`` mixtures, or the mixture
    longer than ``too_long`` samples even alone, runs out of (simulated) device memory."""

    name, family, n_src, sample_rate, needs_references, batchable = "oom", "other", 2, None, False, True

    def __init__(self, limit: int, too_long: int) -> None:
        self.limit, self.too_long, self.calls = limit, too_long, []

    def separate(self, mixture, references=None):
        return self.separate_batch([mixture])[0]

    def separate_batch(self, mixtures, references=None):
        from dsnbench.types import Separation
        self.calls.append(len(mixtures))
        if len(mixtures) > self.limit or any(m.numel() > self.too_long for m in mixtures):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
        return [Separation(torch.stack([0.5 * m, 0.5 * m])) for m in mixtures]


def test_out_of_memory_splits_the_batch_and_a_mixture_too_long_alone_is_an_error_row(varied_root):
    from dsnbench.data.layouts import wsj0_2mix
    from dsnbench.results import EntryKey
    utts = sorted(wsj0_2mix(varied_root).utterances, key=lambda u: u.n_samples)
    longest = utts[-1]
    sep = _OOMAbove(limit=2, too_long=longest.n_samples - 1)
    ev = UtteranceEvaluator(sep, EntryKey("oom", "wsj0-2mix", None), 8000, ("si_snr",), None,
                            pricer=lambda trace, n: (np.zeros(trace.n_segments), 0.0))
    done = ev.separate_batch(utts[:3] + [longest])
    assert [d.row["utt_id"] for d in done] == [u.utt_id for u in utts[:3]] + [longest.utt_id]
    assert [d.row["error"] for d in done[:3]] == ["", "", ""]
    assert done[3].row["error"].startswith("separate: MemoryError: out of memory on the device even for "
                                           "this utterance alone")
    assert done[3].job.estimates is None and np.isnan(done[3].row["macs"])
    assert sep.calls[0] == 4 and max(sep.calls[1:]) <= 2        # split, never retried at full size


def test_precision_is_recorded_hashed_and_compared(varied_root, checkpoints, unbatched, tmp_path):
    from dsnbench.compare import compare_paths
    out = tmp_path / "bf16"
    cfg = _cfg(varied_root, checkpoints, precision="bf16")
    summary = run_experiment(cfg, out, progress=False)
    assert summary["inference"]["precision"] == "bf16" and summary["inference"]["device"].startswith("cpu")
    assert summary["config_hash"] != unbatched.summary["config_hash"]
    run = read_run(out)
    # the gate and the signal path run in float32: the same widths, so the same MACs
    assert np.array_equal(run.utterances["macs"].to_numpy(), unbatched.utterances["macs"].to_numpy(), equal_nan=True)
    assert np.array_equal(run.segments["width"].to_numpy(), unbatched.segments["width"].to_numpy(), equal_nan=True)
    assert not np.allclose(run.utterances.query("model == 'tiny-static'")["si_snr"],
                           unbatched.utterances.query("model == 'tiny-static'")["si_snr"], atol=1e-6, rtol=0)
    refused = compare_paths(unbatched.path, out)
    assert refused.exit_code == 3 and any("precision differs" in r for r in refused.reasons)
    allowed = compare_paths(unbatched.path, out, allow_precision=True)
    assert allowed.comparable


def test_a_model_that_cannot_batch_runs_one_at_a_time_with_one_note(varied_root, tmp_path, capsys):
    from tests.models.adapter_fixture_models import TinyMaskNet
    torch.manual_seed(1)
    path = tmp_path / "tiny.pt"
    torch.save(TinyMaskNet(channels=8).state_dict(), path)
    spec = f"class:tests.models.adapter_fixture_models:TinyMaskNet@{path}"
    runs = {}
    for b in (1, 4):
        out = tmp_path / f"b{b}"
        run_experiment(build_config({"models": [{"name": spec, "label": "user"}],
                                     "datasets": [{"name": "wsj0-2mix", "root": str(varied_root)}],
                                     "metrics": ["si_snr"], "workers": 1, "batch_size": b}), out, progress=False)
        runs[b] = read_run(out)
    assert capsys.readouterr().err.count("cannot take a batch; it runs one mixture at a time") == 1
    pd.testing.assert_frame_equal(runs[1].utterances, runs[4].utterances, check_exact=True)


def test_device_flags_are_checked_before_any_work(varied_root, checkpoints, tmp_path):
    from dsnbench.errors import UserError
    with pytest.raises(UserError, match="device must be cpu, cuda, cuda:N or auto"):
        _cfg(varied_root, checkpoints, device="tpu")
    with pytest.raises(UserError, match="batch_size must be a positive integer"):
        _cfg(varied_root, checkpoints, batch_size=0)
    with pytest.raises(UserError, match="precision must be one of fp32, bf16, fp16"):
        _cfg(varied_root, checkpoints, precision="int8")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no usable CUDA device"):
            run_experiment(_cfg(varied_root, checkpoints, device="cuda"), tmp_path / "x", progress=False)
        assert not (tmp_path / "x" / "run.json").exists()      # refused before the folder was claimed


def test_dask_sends_inference_only_to_gpu_workers_and_gives_the_local_tables(varied_root, checkpoints,
                                                                            unbatched, tmp_path):
    distributed = pytest.importorskip("distributed")
    from distributed import Scheduler, SpecCluster, Worker
    from dsnbench.run.dask_engine import run_experiment_dask
    from dsnbench.run.engines import EngineOptions
    workers = {"cpu": {"cls": Worker, "options": {"nthreads": 1}},
               "gpu": {"cls": Worker, "options": {"nthreads": 1, "resources": {"GPU": 1}}}}
    with SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {"dashboard_address": None}},
                     silence_logs=logging.ERROR) as cluster:
        client = distributed.Client(cluster)
        client.wait_for_workers(2, timeout=60)
        gpu = [a for a, w in client.scheduler_info()["workers"].items() if w["resources"].get("GPU")]
        client.close()
        out = tmp_path / "dask"
        run_experiment_dask(_cfg(varied_root, checkpoints), out,
                            EngineOptions(name="dask", scheduler=cluster.scheduler_address, unit_size=2),
                            progress=False, log=lambda s: None)
    report = json.loads((out / "engine.json").read_text())
    assert report["gpu_workers"] == gpu
    inference = {a: w["inference_units"] for a, w in report["workers"].items()}
    assert inference[gpu[0]] == report["units"] and sum(inference.values()) == report["units"]
    run = read_run(out)
    pd.testing.assert_frame_equal(run.utterances.drop(columns=["error"]),
                                  unbatched.utterances.drop(columns=["error"]), check_exact=False, atol=1e-9)


def test_estimates_that_are_not_floating_point_are_an_error_row(varied_root):
    """int8/int64/bool estimates were cast and scored (SI-SNRi -3.6 / -20.7 dB)."""
    from dsnbench.data.layouts import wsj0_2mix
    from dsnbench.results import EntryKey
    from dsnbench.types import Separation

    class IntOut:
        name, family, n_src, sample_rate, needs_references, batchable = "int", "other", 2, None, False, False

        def __init__(self, dtype):
            self.dtype = dtype

        def separate(self, mixture, references=None):
            return Separation((torch.stack([mixture, mixture]) * 100).to(self.dtype))

        def separate_batch(self, mixtures, references=None):
            return [self.separate(m) for m in mixtures]
    utt = wsj0_2mix(varied_root).utterances[0]
    for dtype in (torch.int8, torch.int64, torch.bool):
        ev = UtteranceEvaluator(IntOut(dtype), EntryKey("int", "wsj0-2mix", None), 8000, ("si_snr",), None,
                                pricer=lambda trace, n: (np.zeros(trace.n_segments), 0.0))
        done = ev.separate(utt)
        assert done.row["error"] == f"separate: TypeError: estimates are {dtype}, expected floating point samples"
        assert done.job.estimates is None
