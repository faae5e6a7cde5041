"""Benchmark: the metrics of a four-model sweep, Asteroid-style vs dsnbench.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_metrics.py            # 50 utterances x 4 models, a few minutes
    .venv/bin/python benchmarks/bench_metrics.py --n-utts 4 # a quick smoke run

Data: ``--n-utts`` mixtures of ``--seconds`` s at 8 kHz, real speech of two different
LibriSpeech test-other speakers from ``../shared/data`` mixed the WSJ0-2mix way
(:func:`dsnbench.data.mixing.mix_wsj0_2mix`, "min" mode), and four sets of estimates of
different quality, as from four models: each estimate is its source plus a scaled residual of
the other source and of white noise (residual amplitude 0.5, 0.25, 0.1, 0.03 of the source, the
two worst also through a short FIR filter), cast to float32 like a model's output, with the
output order of the sources swapped on every other utterance so that PIT has work to do.

(a) Asteroid-style, one process (one BLAS thread, its fastest setting here): for each model
    and utterance, PIT by SI-SNR, then
    ``mir_eval.separation.bss_eval_sources`` + ``pesq`` + ``pystoi`` (STOI and ESTOI) on the
    aligned estimates, and all of them again on the mixture.
(b) dsnbench with default settings (all metrics) on ``--workers`` worker processes, starting
    with an empty input-metric cache, the way the run loop does it: each utterance is a
    :class:`dsnbench.run.jobs.MetricJob` handed to
    :func:`dsnbench.run.jobs.compute_metrics` in the run loop's pool
    (:func:`dsnbench.run.pool.make_executor`: workers forked from a forkserver that has preloaded
    the metric code, one BLAS thread each, no torch; while that pool starts, the first jobs
    are computed in the main process), models one after another, input metrics taken from
    :class:`dsnbench.metrics.cache.InputCache` once the first model has computed them. The time
    includes starting the server, its imports and the workers, not importing torch in the main
    process (the run loop has it loaded for the models already). (b) also computes what (a)
    does not: segment activity labels and segmental SI-SNR for segments.parquet.

Where (b)'s time goes, per model-utterance (4 s, 8 kHz, idle machine, worker CPU): PESQ
~55 ms for the two aligned pairs (the pesq package's C code; nothing to share between calls),
STOI+ESTOI ~15 ms (the clean reference's half, about half of the work, is computed once per
reference and cached in each worker: :mod:`dsnbench.metrics.intelligibility`), SDR ~5 ms,
SI-SNR with the segmental values ~3 ms, plus the mixture's metrics once per utterance.

Prints the load average before and after, both wall-clock times, their ratio (target: (b) at
least 8x faster), the CPU seconds of each (for (b): main process, forkserver and workers, read
from ``/proc`` because forkserver workers are not this process's children) and the largest
per-utterance difference of every column between (a) and (b) (SI-SNR and SDR within 1e-4 dB,
PESQ, STOI and ESTOI within 1e-6). Exit status 1 if the values differ beyond that.
"""
from __future__ import annotations

import os

# One BLAS/OpenMP thread everywhere, set before numpy loads: on a shared 2-core machine a
# multi-threaded BLAS inside mir_eval's 1024x1024 solves is several times slower, not faster,
# so this is the baseline's best configuration (and the workers of (b) use one thread anyway).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESIDUALS = (0.5, 0.25, 0.1, 0.03)
TOLERANCE = {"si_snr": 1e-4, "sdr": 1e-4, "pesq": 1e-6, "stoi": 1e-6, "estoi": 1e-6}


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------

def make_mixtures(n_utts: int, seconds: float, sample_rate: int, seed: int) -> list[dict]:
    """WSJ0-2mix-style mixtures of two different test-other speakers, ``seconds`` long."""
    from dsnbench.data.librispeech import list_utterances, read_audio
    from dsnbench.data.mixing import mix_wsj0_2mix
    n = int(round(seconds * sample_rate))
    rng = np.random.default_rng(seed)
    by_speaker = list_utterances("test-other")
    long_enough = {spk: [p for p in paths if read_audio(p, sample_rate).size >= n]
                   for spk, paths in by_speaker.items()}
    speakers = sorted(s for s, p in long_enough.items() if p)
    out = []
    for k in range(n_utts):
        s1, s2 = rng.choice(speakers, size=2, replace=False)
        p1 = long_enough[s1][int(rng.integers(len(long_enough[s1])))]
        p2 = long_enough[s2][int(rng.integers(len(long_enough[s2])))]
        a, b = read_audio(p1, sample_rate), read_audio(p2, sample_rate)
        a = a[(o := int(rng.integers(0, a.size - n + 1))): o + n]
        b = b[(o := int(rng.integers(0, b.size - n + 1))): o + n]
        m = mix_wsj0_2mix(a, b, rng, sample_rate, "min")
        out.append({"utt_id": f"{k:03d}_{p1.stem}_{p2.stem}", "mixture": m.mix,
                    "sources": np.stack([m.s1, m.s2])})
    return out


def make_estimates(utts: list[dict], seed: int) -> list[list[np.ndarray]]:
    """Four models' estimates for every utterance: ``[model][utt] -> [2, T]``."""
    rng = np.random.default_rng(seed + 1)
    kernel = np.array([1.0, 0.3, -0.15, 0.05])
    models = []
    for m, r in enumerate(RESIDUALS):
        ests = []
        for k, u in enumerate(utts):
            s = u["sources"]
            noise = rng.standard_normal(s.shape) * s.std(axis=1, keepdims=True)
            est = s + r * (s[::-1] + 0.3 * noise)
            if m < 2:
                est = np.stack([np.convolve(e, kernel)[: e.size] for e in est])
            if k % 2:
                est = est[::-1]
            ests.append(est.astype(np.float32).astype(np.float64))
        models.append(ests)
    return models


# ---------------------------------------------------------------------------------------
# (a) Asteroid-style
# ---------------------------------------------------------------------------------------

def _si_snr(s: np.ndarray, e: np.ndarray) -> float:
    s = s - s.mean()
    e = e - e.mean()
    target = np.dot(e, s) / np.dot(s, s) * s
    noise = e - target
    return float(10 * np.log10(np.dot(target, target) / np.dot(noise, noise)))


def asteroid_style(utts: list[dict], models: list[list[np.ndarray]], sample_rate: int) -> list[list[dict]]:
    """Per model, per utterance: the same columns dsnbench writes, from the peer libraries."""
    import mir_eval
    import pesq as pesq_pkg
    import pystoi
    mode = "nb" if sample_rate == 8000 else "wb"
    out = []
    for ests in models:
        rows = []
        for u, est in zip(utts, ests):
            refs, mix = u["sources"], u["mixture"]
            n = refs.shape[0]
            perm = max(itertools.permutations(range(n)),
                       key=lambda p: np.mean([_si_snr(refs[i], est[p[i]]) for i in range(n)]))
            al = est[list(perm)]
            mixes = np.stack([mix] * n)
            sdr = mir_eval.separation.bss_eval_sources(refs, al, compute_permutation=False)[0]
            sdr_in = mir_eval.separation.bss_eval_sources(refs, mixes, compute_permutation=False)[0]
            row = {
                "si_snr": np.mean([_si_snr(refs[i], al[i]) for i in range(n)]),
                "si_snr_input": np.mean([_si_snr(refs[i], mix) for i in range(n)]),
                "sdr": np.mean(sdr), "sdr_input": np.mean(sdr_in),
                "pesq": np.mean([pesq_pkg.pesq(sample_rate, refs[i], al[i], mode) for i in range(n)]),
                "pesq_input": np.mean([pesq_pkg.pesq(sample_rate, refs[i], mix, mode) for i in range(n)]),
                "stoi": np.mean([pystoi.stoi(refs[i], al[i], sample_rate) for i in range(n)]),
                "stoi_input": np.mean([pystoi.stoi(refs[i], mix, sample_rate) for i in range(n)]),
                "estoi": np.mean([pystoi.stoi(refs[i], al[i], sample_rate, extended=True) for i in range(n)]),
                "estoi_input": np.mean([pystoi.stoi(refs[i], mix, sample_rate, extended=True) for i in range(n)]),
            }
            for m in ("si_snr", "sdr", "pesq", "stoi", "estoi"):
                row[f"{m}i"] = row[m] - row[f"{m}_input"]
            rows.append({k: float(v) for k, v in row.items()})
        out.append(rows)
    return out


# ---------------------------------------------------------------------------------------
# (b) dsnbench, the run loop's way
# ---------------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process, from ``/proc/<pid>/stat`` (None if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _pool_cpu(executor: object) -> dict[str, float | None]:
    """CPU seconds of the pool's worker processes and of the forkserver that forked them
    (taken before shutdown, while they are alive; None where unknown or not used)."""
    pids = executor.worker_pids() if hasattr(executor, "worker_pids") else []
    per_worker = [_cpu_seconds(pid) for pid in pids]
    server = None
    try:
        from multiprocessing import forkserver
        pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
        server = _cpu_seconds(pid) if pid else None
    except ImportError:
        pass
    workers = None if not per_worker or None in per_worker else float(sum(per_worker))  # type: ignore[arg-type]
    return {"workers": workers, "n_workers": float(len(per_worker)), "server": server}


def dsnbench_way(utts: list[dict], models: list[list[np.ndarray]], sample_rate: int, workers: int,
                 cache_dir: Path) -> tuple[list[list[dict]], dict]:
    from dsnbench.run.jobs import MetricJob, compute_metrics
    from dsnbench.run.pool import make_executor
    from dsnbench.metrics.cache import InputCache, audio_fingerprint
    from dsnbench.metrics.functional import default_grid
    from dsnbench.metrics.suite import MetricSuite
    from dsnbench.types import n_segments_for

    suite = MetricSuite(None, sample_rate)  # default settings: every metric
    cache = InputCache("bench-" + str(len(utts)), suite.settings(), directory=cache_dir)
    length, hop = default_grid(sample_rate)
    executor = make_executor(workers)
    window = max(2, 2 * workers)
    out: list[list[dict]] = []
    try:
        for ests in models:
            rows: list[dict | None] = [None] * len(utts)
            pending: list = []

            def drain(limit: int) -> None:
                while len(pending) > limit:
                    k, fp, had_inputs, fut = pending.pop(0)
                    res = fut.result()
                    if not had_inputs:
                        cache.put(utts[k]["utt_id"], res.inputs, fingerprint=fp)
                    rows[k] = dict(res.values)

            for k, (u, est) in enumerate(zip(utts, ests)):
                fp = audio_fingerprint(u["mixture"], u["sources"])
                inputs = cache.get(u["utt_id"], fingerprint=fp)
                t = u["mixture"].shape[0]
                job = MetricJob(u["utt_id"], est, u["sources"], u["mixture"], None, length, hop,
                                n_segments_for(t, length, hop), None, sample_rate, None, inputs)
                pending.append((k, fp, inputs is not None, executor.submit(compute_metrics, job)))
                drain(window)
            drain(0)
            cache.flush()
            out.append(rows)  # type: ignore[arg-type]
        cpu = _pool_cpu(executor)
    finally:
        executor.shutdown(wait=True)
    return out, {"hits": cache.hits, "misses": cache.misses, **cpu}


# ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-utts", type=int, default=50)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    sr = 8000

    t0 = time.perf_counter()
    utts = make_mixtures(args.n_utts, args.seconds, sr, args.seed)
    models = make_estimates(utts, args.seed)
    print(f"data: {len(utts)} mixtures of {args.seconds:g} s at {sr} Hz, {len(models)} models "
          f"(built in {time.perf_counter() - t0:.1f} s)", flush=True)

    def load() -> str:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs"

    print(f"before (a): {load()}", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    ref_rows = asteroid_style(utts, models, sr)
    t_a, cpu_a = time.perf_counter() - t0, time.process_time() - c0
    print(f"(a) Asteroid-style, 1 process (mir_eval + pesq + pystoi, estimate and mixture): {t_a:8.1f} s",
          flush=True)

    # The run loop's main process has torch loaded for the models before any metric is due, and
    # n_segments_for (the segment grid) lives in dsnbench.types next to the torch Separator
    # types, so torch is imported here, outside (b)'s clock (~1.3 CPU-s); the workers never
    # import it.
    import dsnbench.types  # noqa: F401

    print(f"before (b): {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dsnbench-bench-cache-") as cache_dir:
        import resource
        t0, c0 = time.perf_counter(), time.process_time()
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows, stats = dsnbench_way(utts, models, sr, args.workers, Path(cache_dir))
        t_b = time.perf_counter() - t0
        cpu_main = time.process_time() - c0
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # forkserver workers are the server's children, not ours: their CPU comes from /proc
    # (read before shutdown); reaped children (a spawn pool) show up in RUSAGE_CHILDREN
    cpu_workers = stats["workers"] if stats["workers"] is not None else \
        (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
    cpu_server = stats["server"] or 0.0
    cpu_b = cpu_main + cpu_workers + cpu_server
    print(f"(b) dsnbench, {args.workers} worker processes, empty input cache:               {t_b:8.1f} s "
          f"(cache hits {stats['hits']}, misses {stats['misses']})")
    print(f"after (b): {load()}")
    ratio = t_a / t_b
    print(f"speed-up (a)/(b), wall clock: {ratio:.1f}x  (target >= 8x: {'met' if ratio >= 8 else 'NOT met'})")
    n_jobs = sum(len(m) for m in models)
    print(f"CPU seconds: (a) {cpu_a:.1f} ({cpu_a / n_jobs:.3f} per model-utterance); (b) {cpu_b:.1f} "
          f"({cpu_b / n_jobs:.3f} per model-utterance) = main {cpu_main:.1f} + forkserver {cpu_server:.1f} "
          f"+ workers {cpu_workers:.1f} -> (a)/(b) {cpu_a / cpu_b:.1f}x")
    print(f"  (the work saved; wall clock gains up to another {args.workers}x from the workers, less on a "
          f"busy machine: (b) got {cpu_b / t_b:.2f} CPUs on average, (a) {cpu_a / t_a:.2f})")
    try:
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        autogroup = False
    if autogroup:
        print("  note: the kernel schedules by session (sched_autogroup_enabled=1): on a busy machine all "
              "processes of this session share one session's CPU share, so (b)'s workers together get "
              "about what (a)'s one process got, and the wall-clock ratio falls towards the CPU ratio")

    ok = True
    print("largest per-utterance |(a) - (b)| over all models:")
    for metric, tol in TOLERANCE.items():
        for col in (metric, f"{metric}_input", f"{metric}i"):
            diff = max(abs(r[col] - s[col]) for ra, rb in zip(ref_rows, rows) for r, s in zip(ra, rb))
            good = diff <= tol
            ok &= good
            print(f"  {col:<13} {diff:.2e}  (tolerance {tol:g}: {'ok' if good else 'DIFFERENT'})")
    nan = sum(np.isnan(v) for rb in rows for s in rb for v in s.values())
    if nan:
        ok = False
        print(f"  {nan} NaN values in (b)")
    print("values equal: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
