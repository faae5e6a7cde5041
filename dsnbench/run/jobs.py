"""The metric job of one utterance, as the metric worker processes compute it.

Kept apart from the engines (which import pandas and the results code) so that a worker process
imports only numpy, scipy, the metric libraries and the metric code: the worker server preloads
this module (:func:`worker_preload`), and pickled jobs refer to it. Here the metrics (the
suite) and the data (the segments' activity labels) meet, which is why this lives in the run
package and not in :mod:`dsnbench.metrics`.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.activity import label_segments
from ..metrics import METRICS
from ..metrics.functional import segmental_si_snr
from ..metrics.suite import suite_for

#: environment for metric worker processes: one BLAS/OpenMP thread each (design section 9)
WORKER_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def worker_preload() -> list[str]:
    """Modules the worker server imports once, so each worker starts with them loaded: this
    module, the suite, every registered metric's compute module and the libraries it names."""
    modules = [__name__, "dsnbench.metrics.suite", "dsnbench.metrics.functional", "dsnbench.data.activity"]
    for name in METRICS.in_order():
        spec = METRICS.get(name)
        if spec.compute is not None:
            modules.append(spec.compute.__module__)
        modules.extend(spec.libraries)
    return list(dict.fromkeys(modules))


def exit_with(driver_pid: int) -> None:
    """End this process as soon as ``driver_pid`` is gone (killed, even by SIGKILL).

    A metric worker is a child of the forkserver, not of the driver, and it holds the
    forkserver's and the resource tracker's pipes open, so without this a killed driver leaves
    all of them running. A daemon thread waits on a pidfd of the driver (Linux >= 5.3; else it
    checks every second whether the driver still exists) and ``os._exit`` s the worker; the
    forkserver and the resource tracker then see their pipes close and exit too.
    """
    import threading

    def watch() -> None:
        import select
        import time
        try:
            fd = os.pidfd_open(driver_pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                try:
                    os.kill(driver_pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os._exit(1)

    if driver_pid and driver_pid != os.getpid():
        threading.Thread(target=watch, daemon=True, name="dsnbench-driver-watch").start()


def init_worker(driver_pid: int | None = None) -> None:
    """Once per worker process: one thread for torch (if loaded) and BLAS; quiet fvcore; exit
    with the driver (``driver_pid``: :func:`exit_with`)."""
    if driver_pid:
        exit_with(driver_pid)
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


def compute_metrics(job: MetricJob) -> MetricResult:
    """Metrics, segment labels and segmental SI-SNR of one utterance (runs in a worker)."""
    suite = suite_for(job.metric_names, job.sample_rate, job.pesq_mode)
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
