"""The metric job of one utterance, as the run loop's worker processes compute it.

Kept apart from :mod:`dsnbench.evaluate` (which imports pandas and the results code) so that a
worker process imports only numpy, scipy, pesq, pystoi and the metric code: the worker server
preloads this module, and pickled jobs refer to it.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

#: environment for metric worker processes: one BLAS/OpenMP thread each (design section 9)
WORKER_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: modules the worker server imports once, so each worker starts with them loaded
WORKER_PRELOAD = ["dsnbench.metrics.jobs", "dsnbench.metrics.suite", "dsnbench.metrics.functional",
                  "dsnbench.metrics.intelligibility", "dsnbench.data.activity", "scipy.fft",
                  "scipy.linalg", "scipy.signal", "pesq", "pystoi"]


def _init_worker() -> None:
    """Once per worker process: one thread for torch (if loaded) and BLAS; quiet fvcore."""
    for k, v in WORKER_THREAD_ENV.items():
        os.environ.setdefault(k, v)
    if "torch" in sys.modules:  # metric workers never need to import it themselves
        sys.modules["torch"].set_num_threads(1)
    import warnings
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@dataclass
class MetricJob:
    """Everything one utterance's metrics need; picklable."""

    utt_id: str
    estimates: np.ndarray | None  # [n_src, T] or None when separation failed
    sources: np.ndarray           # [n_src, T]
    mixture: np.ndarray           # [T]
    noise: np.ndarray | None      # [T]
    seg_length: int
    seg_hop: int
    n_segments: int
    metric_names: tuple[str, ...] | None
    sample_rate: int
    pesq_mode: str | None
    inputs: Any = None            # cached input metrics (UtteranceMetrics) or None


@dataclass
class MetricResult:
    utt_id: str
    values: dict[str, float]
    permutation: tuple[int, ...] | None
    errors: dict[str, str]
    inputs: Any
    seg_si_snr: list[float]
    seg_reasons: list[str | None]
    categories: list[str]
    noise_active: list[bool | None]


def make_suite(names: tuple[str, ...] | None, sample_rate: int, pesq_mode: str | None):
    from .suite import MetricSuite
    kwargs = {"pesq_mode": pesq_mode} if pesq_mode is not None else {}
    return MetricSuite(names, sample_rate, **kwargs)


_SUITES: dict[tuple, Any] = {}


def compute_metrics(job: MetricJob) -> MetricResult:
    """Metrics, segment labels and segmental SI-SNR of one utterance (runs in a worker)."""
    from ..data.activity import label_segments
    from .functional import segmental_si_snr

    key = (job.metric_names, job.sample_rate, job.pesq_mode)
    suite = _SUITES.get(key)
    if suite is None:
        suite = _SUITES[key] = make_suite(job.metric_names, job.sample_rate, job.pesq_mode)
    inputs = job.inputs if job.inputs is not None else suite.input_values(job.mixture, job.sources)
    categories, noise_active = label_segments(job.sources, job.noise, job.seg_length, job.seg_hop,
                                              job.n_segments, job.sample_rate)
    if job.estimates is None:
        values = {c: float("nan") for c in suite.columns()}
        values.update({k: v for k, v in inputs.values.items()})
        return MetricResult(job.utt_id, values, None, {}, inputs, [math.nan] * job.n_segments,
                            ["separation failed"] * job.n_segments, categories, noise_active)
    result = suite.evaluate(job.estimates, job.sources, job.mixture, inputs)
    if result.permutation is not None:
        aligned = job.estimates[list(result.permutation)]
        seg, reasons = segmental_si_snr(job.sources, aligned, job.seg_length, job.seg_hop, job.n_segments)
    else:
        seg = [math.nan] * job.n_segments
        reasons = ["no permutation (SI-SNR failed)"] * job.n_segments
    return MetricResult(job.utt_id, result.values, result.permutation, result.errors, inputs,
                        [float(v) for v in seg], list(reasons), categories, noise_active)
