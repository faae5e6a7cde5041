"""The one run loop: models x datasets x operating points -> a run folder (design section 2).

Per utterance the main process reads the audio and runs the separator (model inference), then
hands the arrays to a pool of metric worker processes (one torch/BLAS thread each; see the
torch hazard in design section 9). Finished utterances are committed to the run folder in
small durable chunks (:class:`dsnbench.results.PartStore`), so a killed run started again with
the same ``--out`` continues where it stopped and ends with the same tables.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import DatasetSpec, ModelSpec, RunConfig
from .errors import UserError
from .results import PartStore, ResultsError, atomic_write_json

#: default segment grid for models that report no trace (seconds; 50 % overlap)
DEFAULT_SEGMENT_S = 0.25


# --------------------------------------------------------------------------------------
# worker side: pure functions of numpy arrays
# --------------------------------------------------------------------------------------

# the worker side lives in .metrics.jobs (no pandas there); these names stay importable from here
from .metrics.jobs import (WORKER_PRELOAD, WORKER_THREAD_ENV, MetricJob, MetricResult,  # noqa: F401
                           _init_worker, compute_metrics, make_suite)


# --------------------------------------------------------------------------------------
# main side
# --------------------------------------------------------------------------------------

class _InlineExecutor:
    """Same interface as ProcessPoolExecutor, for --workers 1 (no process start-up)."""

    def submit(self, fn: Callable, *args: Any) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as exc:  # surfaced by .result()
            f.set_exception(exc)
        return f

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _main_is_importable() -> bool:
    """Worker processes re-import ``__main__`` from its file; a script piped on stdin has none."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or Path(main_file).is_file()


def _noop() -> None:
    return None


class _WarmingPool:
    """A metric worker pool that starts in the background; until it is up, jobs run here.

    Starting the pool means starting the forkserver, which imports the metric code (scipy,
    pesq, pystoi: about a second), then forking the workers; a plain ``ProcessPoolExecutor``
    blocks the first ``submit`` for all of that while one core idles. Here a thread starts the
    pool and the first jobs are computed in this process meanwhile, so both cores work from the
    start; once a worker has answered, every job goes to the pool. Results are the same either
    way (the metric code is a pure function of the job). If the pool cannot start, every job
    runs here, after a one-line note.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        import threading
        self._pool: Any = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._start, args=(factory,), daemon=True,
                                        name="dsnbench-metric-pool-start")
        self._thread.start()

    def _start(self, factory: Callable[[], Any]) -> None:
        try:
            pool = factory()
            pool.submit(_noop).result()  # the first submit starts the workers
            self._pool = pool
        except Exception as exc:  # noqa: BLE001 - any failure means: compute here
            print(f"dsnbench: metric workers did not start ({type(exc).__name__}: {exc}); "
                  f"metrics run in this process", file=sys.stderr)
        finally:
            self._ready.set()

    def submit(self, fn: Callable, *args: Any) -> Future:
        if self._ready.is_set() and self._pool is not None:
            return self._pool.submit(fn, *args)
        return _InlineExecutor().submit(fn, *args)

    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes (empty while none has started)."""
        self._ready.wait()
        return list(getattr(self._pool, "_processes", None) or {})

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _executor(workers: int):
    if workers > 1 and not _main_is_importable():
        print("dsnbench: __main__ is not a file (stdin?): metrics run in this process", file=sys.stderr)
        workers = 1
    if workers <= 1:
        return _InlineExecutor()
    import multiprocessing as mp
    # forkserver: a clean server process (no model, no torch thread pool inherited) imports the
    # metric code once and forks each worker from itself, so workers start in milliseconds; the
    # preload list leaves out __main__, so runs from notebooks and stdin work too.
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        for k, v in WORKER_THREAD_ENV.items():
            os.environ.setdefault(k, v)  # inherited by the server when it starts
        ctx.set_forkserver_preload(WORKER_PRELOAD)
    else:
        ctx = mp.get_context("spawn")
    return _WarmingPool(lambda: ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                    initializer=_init_worker))


@dataclass
class EntryPlan:
    model: ModelSpec
    dataset: DatasetSpec
    operating_point: float | None


def dataset_label(spec: DatasetSpec, manifest: Any) -> str:
    """The dataset's name in results: its label, else the registry name plus ``:task`` for
    datasets that have tasks (WHAM!-like), so a WHAM! sep_noisy run is never mistaken for sep_clean."""
    if spec.label:
        return spec.label
    task = manifest.info.get("task")
    from .data import DATASETS
    import inspect
    takes_task = "task" in inspect.signature(DATASETS.get(spec.name)).parameters
    return f"{spec.name}:{task}" if task and takes_task else spec.name


def _load_datasets(cfg: RunConfig) -> dict[str, Any]:
    from .data import load_dataset
    manifests = {}
    for ds in cfg.datasets:
        manifest = load_dataset(ds.name, **ds.reader_options()).limit(cfg.limit)
        name = dataset_label(ds, manifest)
        if name in manifests:
            raise UserError(f"dataset {name!r} is listed twice; give one a 'label'")
        manifests[name] = manifest
    return manifests


def _pricer(separator: Any, sample_rate: int) -> Callable:
    """A function (trace, n_samples) -> (MACs per segment [n_seg], total MACs).

    ``complexity()`` None means the count is not defined (oracles that use the references):
    NaN. ``{"macs_per_second": r}`` is an exact closed form (e.g. 0 for the mixture oracle).
    Anything else goes to the fvcore MAC table, built once here per model.
    """
    c = separator.complexity()
    if c is None:
        return lambda trace, n: (np.full(trace.n_segments, np.nan), math.nan)
    if isinstance(c, dict) and "macs_per_second" in c:
        rate = float(c["macs_per_second"])

        def by_rate(trace, n):
            total = rate * n / sample_rate
            return np.full(trace.n_segments, total / trace.n_segments), total
        return by_rate
    from .complexity import build_mac_table
    table = build_mac_table(separator)

    def by_table(trace, n):
        priced = table.price(trace, n)
        return np.asarray(priced.macs_per_segment, dtype=np.float64), float(priced.total_macs)
    return by_table


def _grid_trace(trace: Any, n: int, sample_rate: int):
    from .types import SegmentTrace
    if trace is not None:
        return trace
    length = int(round(DEFAULT_SEGMENT_S * sample_rate))
    return SegmentTrace.constant(n, length, length // 2, width=float("nan"))


class RunFolder:
    """The run folder's identity file (``run.json``): which config it holds."""

    def __init__(self, path: Path, cfg: RunConfig) -> None:
        self.path = Path(path)
        self.cfg = cfg
        meta_file = self.path / "run.json"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the run folder ({exc.strerror})") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"{self.path}: run folder is not writable")
        if meta_file.exists():
            try:
                held = json.loads(meta_file.read_text())
            except (json.JSONDecodeError, OSError) as exc:
                raise UserError(f"{meta_file}: unreadable ({exc}); remove the run folder or choose another --out") from None
            if held.get("config_hash") != cfg.hash():
                raise UserError(f"{self.path}: holds a run of another configuration (config_hash "
                                f"{held.get('config_hash')} vs {cfg.hash()}); choose another --out")
            self.created = held["created"]
        else:
            self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            try:
                atomic_write_json({"config_hash": cfg.hash(), "created": self.created,
                                   "config": cfg.to_dict()}, meta_file)
            except OSError as exc:
                raise UserError(f"{meta_file}: cannot write ({exc.strerror})") from None


def prepare_run(cfg: RunConfig, out: Path) -> tuple[dict, dict, RunFolder, PartStore, set]:
    """Everything checked before work starts, for every engine: models loaded (names checked),
    datasets read and validated, the run folder claimed for this config, and the keys of the
    utterances already committed there. Returns (models, manifests, folder, store, done)."""
    from .loading import load_model
    models = {spec.result_name: (spec, load_model(spec)) for spec in cfg.models}
    manifests = _load_datasets(cfg)
    if len(models) != len(cfg.models):
        raise UserError("a model is listed twice; give one a 'label'")
    folder = RunFolder(out, cfg)
    try:
        store = PartStore(out)
        done = store.done_keys()
    except (OSError, ResultsError) as exc:
        raise UserError(f"{out}: cannot use the run folder ({exc})") from None
    return models, manifests, folder, store, done


def run_experiment(cfg: RunConfig, out: str | Path, *, progress: bool = True,
                   log: Callable[[str], None] | None = None) -> dict:
    """Evaluate every (model, dataset, operating point) of ``cfg`` into the run folder ``out``.

    Returns the summary (also written to ``out/summary.json``). Validates every dataset and
    loads every model before any work starts, so a bad path fails in seconds, not hours.
    """
    from .summarize import build_summary, finalize

    log = log or (lambda s: print(s, file=sys.stderr))
    out = Path(out)
    models, manifests, folder, store, done = prepare_run(cfg, out)

    plan: list[tuple[str, str, float | None]] = []
    for mname, (spec, sep) in models.items():
        ops = spec.operating_points if spec.operating_points is not None else tuple(sep.operating_points())
        for dname in manifests:
            for op in ops:
                plan.append((mname, dname, op))
    todo_total = sum(
        sum(1 for u in manifests[d] if (m, d, None if op is None else float(op), u.utt_id) not in done)
        for m, d, op in plan)
    bar = _progress(todo_total, progress)
    executor = _executor(cfg.workers)
    try:
        for mname, dname, op in plan:
            spec, sep = models[mname]
            manifest = manifests[dname]
            todo = [u for u in manifest if (mname, dname, None if op is None else float(op), u.utt_id) not in done]
            if not todo:
                continue
            try:
                sep.prepare(manifest.sample_rate)
                sep.set_operating_point(op)
            except ValueError as exc:
                raise UserError(f"model {mname!r} on dataset {dname!r}: {exc}") from None
            pricer = _pricer(sep, manifest.sample_rate)
            _run_entry(cfg, sep, mname, dname, op, todo, manifest.sample_rate,
                                        manifest.hash(), pricer, executor, store, bar)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        bar.close()
    summary = build_summary(cfg, folder.created, manifests, models, plan, store)
    finalize(out, store, summary)
    return summary


def _run_entry(cfg, sep, mname, dname, op, todo, sample_rate, manifest_hash, pricer, executor, store,
               bar) -> None:
    """Separate each utterance here, compute metrics in the pool, commit in chunks."""
    from .metrics.cache import InputCache
    suite = make_suite(cfg.metrics, sample_rate, cfg.pesq_mode)
    cache = InputCache(manifest_hash, suite.settings())
    pending: list[tuple[Any, dict, Future]] = []  # (utt, partial row, future)
    utt_rows: list[dict] = []
    seg_rows: list[dict] = []
    window = 0 if isinstance(executor, _InlineExecutor) else 2 * cfg.workers

    def drain(block_until: int) -> None:
        while len(pending) > block_until:
            utt, row, fut, extra = pending.pop(0)
            try:
                try:
                    res: MetricResult = fut.result()
                except BrokenProcessPool:
                    # a worker died (killed, out of memory, or no importable __main__ for
                    # spawn): compute this job here so no finished work is lost
                    res = compute_metrics(extra["job"])
            except Exception as exc:  # a metric crash must not lose the run
                res = None
                row["error"] = _join(row.get("error"), f"metrics: {type(exc).__name__}: {exc}")
            if res is not None and extra["job"].inputs is None:
                cache.put(utt.utt_id, res.inputs, fingerprint=extra["fingerprint"])
            _fill_rows(row, res, extra, utt_rows, seg_rows)
            bar.update(1)
            if len(utt_rows) >= cfg.chunk_size:
                flush()

    def flush() -> None:
        try:
            cache.flush()
        except OSError:
            pass  # the cache only saves time; a run never fails for it
        try:
            store.commit(utt_rows, seg_rows)
        except OSError as exc:
            raise UserError(f"{store.dir}: cannot write results ({exc.strerror or exc}); "
                            f"the rows written before are intact") from None
        utt_rows.clear()
        seg_rows.clear()

    try:
        for utt in todo:
            _separate_one(cfg, sep, mname, dname, op, utt, sample_rate, pricer, executor, pending,
                          utt_rows, seg_rows, bar, cache)
            drain(window)
        drain(0)
    except BaseException:
        # interrupted (Ctrl-C, a fatal error): keep every utterance whose metrics are done
        while pending and pending[0][2].done():
            drain(len(pending) - 1)
        if utt_rows:
            flush()
        raise
    if utt_rows:
        flush()


def _separate_one(cfg, sep, mname, dname, op, utt, sample_rate, pricer, executor, pending,
                  utt_rows, seg_rows, bar, cache) -> None:
    """Read one utterance, run the separator, price the trace, submit its metrics job."""
    import torch

    from .data.manifest import DatasetError, load_utterance

    row = {"model": mname, "dataset": dname, "operating_point": op, "utt_id": utt.utt_id,
           "duration_s": utt.duration_s, "error": ""}
    try:
        mixture, sources, noise = load_utterance(utt)
    except DatasetError as exc:
        # the layout was checked before the run; a body that fails to decode is this utterance's error
        row["error"] = f"data: {exc}"
        extra = {"trace": None, "seg_macs": np.zeros(0), "sample_rate": sample_rate}
        _fill_rows(row, None, extra, utt_rows, seg_rows)
        bar.update(1)
        return
    n = mixture.shape[0]
    estimates, trace, err = None, None, ""
    try:
        with torch.no_grad():
            sepn = sep.separate(torch.from_numpy(mixture.astype(np.float32)),
                                torch.from_numpy(sources.astype(np.float32)) if sep.needs_references else None)
        est = sepn.estimates.detach().cpu().numpy().astype(np.float64)
        if est.shape != sources.shape:
            raise ValueError(f"estimates have shape {tuple(est.shape)}, expected {tuple(sources.shape)}")
        if not np.all(np.isfinite(est)):
            bad = int((~np.isfinite(est)).sum())
            err = f"separate: {bad} non-finite sample(s) in the estimates"
        estimates, trace = est, sepn.trace
    except Exception as exc:  # one utterance's failure is an error row, never a lost run
        err = f"separate: {type(exc).__name__}: {exc}"
    grid = _grid_trace(trace, n, sample_rate)
    if estimates is not None:
        seg_macs, total_macs = pricer(grid, n)
    else:  # nothing was computed to completion: the count is undefined, not 0
        seg_macs, total_macs = np.full(grid.n_segments, np.nan), math.nan
    row.update(macs=total_macs, gmacs_per_s=total_macs / 1e9 / utt.duration_s,
               mean_width=float(np.mean(grid.width_of_segments())) if trace is not None else math.nan,
               error=err)
    from .metrics.cache import audio_fingerprint
    fingerprint = audio_fingerprint(mixture, sources)
    job = MetricJob(utt.utt_id, estimates, sources, mixture, noise, grid.length, grid.hop,
                    grid.n_segments, cfg.metrics, sample_rate, cfg.pesq_mode,
                    inputs=cache.get(utt.utt_id, fingerprint=fingerprint))
    extra = {"trace": grid, "has_trace": trace is not None, "seg_macs": seg_macs,
             "sample_rate": sample_rate, "n": n, "job": job, "fingerprint": fingerprint}
    try:
        fut = executor.submit(compute_metrics, job)
    except BrokenProcessPool:
        fut = _InlineExecutor().submit(compute_metrics, job)
    pending.append((utt, row, fut, extra))


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b


def _fill_rows(row: dict, res: MetricResult | None, extra: dict, utt_rows: list, seg_rows: list) -> None:
    if res is not None:
        row.update(res.values)
        row["permutation"] = json.dumps(list(res.permutation)) if res.permutation is not None else ""
        metric_errors = "; ".join(f"{k}: {v}" for k, v in sorted(res.errors.items()))
        if metric_errors:
            row["error"] = _join(row.get("error"), metric_errors)
    else:
        row.setdefault("permutation", "")
    utt_rows.append(row)
    grid = extra.get("trace")
    if grid is None:
        return
    sr = extra["sample_rate"]
    widths = grid.width_of_segments() if extra.get("has_trace") else np.full(grid.n_segments, np.nan)
    for s in range(grid.n_segments):
        start = s * grid.hop
        end = min(start + grid.length, extra["n"])
        seg_rows.append({
            "model": row["model"], "dataset": row["dataset"], "operating_point": row["operating_point"],
            "utt_id": row["utt_id"], "segment": s, "start_s": start / sr, "end_s": end / sr,
            "width": float(widths[s]), "macs": float(extra["seg_macs"][s]),
            "category": res.categories[s] if res is not None else None,
            "noise_active": res.noise_active[s] if res is not None else None,
            "seg_si_snr": res.seg_si_snr[s] if res is not None else math.nan,
        })


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, unit="utt", desc="dsnbench run", file=sys.stderr, dynamic_ncols=True)
