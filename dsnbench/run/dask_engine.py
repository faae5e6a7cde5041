"""Scale-out: the run loop on a Dask distributed cluster (issue 10).

``dsnbench run EXPERIMENT --engine dask`` evaluates the same (model, dataset, operating point)
entries as the local engine (:func:`dsnbench.run.local_engine.run_experiment`) and writes the same
tables, but the work runs on Dask workers:

- **Where**: by default a ``LocalCluster`` sized to the machine (one worker process per CPU
  this process may use, one thread each, ``processes=True``, on 127.0.0.1, no dashboard);
  ``--workers N`` sets the number of processes. ``--scheduler ADDRESS`` (e.g.
  ``tcp://10.0.0.5:8786``) uses a running cluster instead (started by ``dask scheduler`` /
  ``dask worker``, dask-jobqueue on SLURM, ...). Every worker must be able to import dsnbench
  and read the datasets and checkpoint files at the same absolute paths as the driver.
- **Work units**: one unit is one entry's group of up to ``unit_size`` utterances of similar
  length (the dataset's utterances sorted by length, cut into units; default the experiment's
  ``chunk_size``, 8, made smaller when that would give fewer than about four units per worker:
  :func:`default_unit_size`; rounded up to a multiple of the inference ``batch_size``, so a
  unit's inference batches are those of the local engine). A worker loads the model itself
  from its spec (a registry name or checkpoint path: model objects are never shipped), puts it
  on the run's ``device`` in its ``precision``, reads the audio, runs the separator a batch at
  a time, prices the traces, computes the metrics, and returns the rows. The per-utterance code
  is the one both engines call (:class:`dsnbench.run.unit.UtteranceEvaluator`), so the rows
  are the same. Workers run one torch thread each (``torch.set_num_threads(1)``; design
  section 9).
- **GPU workers**: when some workers declare the resource ``GPU`` (``dask worker ADDRESS
  --resources GPU=1``), each unit is split in two tasks: inference (:func:`infer_unit`, which
  asks for ``GPU=1``, so it runs only on those workers, one at a time per GPU, with one model
  resident per worker) and scoring (:func:`score_unit`: the metrics and rows, on any worker,
  CPU workers included). The driver needs no GPU.
- **Input metrics** (``*_input``, which depend only on the data) are computed once per
  (dataset, batch) by an inputs task that every entry's unit of that batch depends on, so a
  sweep of ten models computes them once, not ten times. Across runs they are shared through
  :class:`dsnbench.metrics.cache.InputCache`: the inputs task reads the cache (each hit checked
  against the audio's fingerprint), and the driver stores what was computed.
- **Durability**: the driver commits each finished unit's rows as one chunk of the run folder's
  :class:`~dsnbench.results.PartStore`, as results stream back. A worker lost mid-run costs only
  the units it held: the scheduler runs them again elsewhere (a unit that failed for another
  reason is submitted once more, without the shared inputs). A driver stopped and started
  again with the same ``--out`` skips every committed utterance, whatever engine ran it.
- **Progress and report**: one bar over all utterances, a line per finished entry, and at the
  end a table of what ran where (worker address -> units, utterances, busy seconds), also
  written to ``engine.json`` in the run folder.

Which engine runs by default: :mod:`dsnbench.run.engines`.
"""
from __future__ import annotations

import collections
import logging
import math
import os
import re
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..data.manifest import load_utterance
from ..errors import UserError
from ..metrics.cache import InputCache, audio_fingerprint, cache_root
from ..metrics.suite import make_suite, suite_for
from ..results import EntryKey, atomic_write_json
from .config import ModelSpec, RunConfig
from .engines import EngineOptions
from .jobs import WORKER_THREAD_ENV, compute_metrics, init_worker
from .loading import load_model
from .plan import PreparedRun, place_for_inference, prepare_run
from .progress import progress_bar
from .summary import build_summary, finalize
from .unit import UtteranceEvaluator, length_batches, make_pricer, utterance_rows

#: set in every LocalCluster worker before it starts, so numpy's BLAS runs one thread: with more,
#: matrix products sum in another order and values differ in the last bits from run to run
SINGLE_THREAD_ENV = dict(WORKER_THREAD_ENV)
#: how long to try reaching a --scheduler address
CONNECT_TIMEOUT = "20s"
#: seconds a --scheduler connection may take, handshake included, before the run gives up
HANDSHAKE_S = 45.0
#: models a worker keeps loaded at once (units arrive roughly in entry order)
MODEL_CACHE_SIZE = 4


def machine_workers() -> int:
    """Worker processes for a LocalCluster on this machine: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------
# what travels to the workers (picklable, small)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InputsJob:
    """Input metrics of one batch of one dataset."""

    dataset: str
    batch: int
    utterances: tuple[Any, ...]          # dsnbench.data.manifest.Utterance
    sample_rate: int
    metrics: tuple[str, ...] | None
    pesq_mode: str | None
    manifest_hash: str
    cache_dir: str | None                # the driver's InputCache root (read-only here)


@dataclass
class InputsResult:
    dataset: str
    values: dict[str, Any]               # utt_id -> UtteranceMetrics (hits and computed)
    computed: dict[str, tuple[Any, str]]  # utt_id -> (UtteranceMetrics, fingerprint): to store
    hits: int
    worker: str
    seconds: float


@dataclass(frozen=True)
class WorkUnit:
    """One entry's group of utterances: separate + metrics on a worker (or inference on a GPU
    worker, then scoring on any). ``members`` are all the group's utterances (they fix the
    inference batches), ``utterances`` those still to be committed."""

    index: int
    cfg: RunConfig
    spec: ModelSpec                      # as the worker loads it (checkpoint paths absolute)
    key: EntryKey                        # (result name, dataset, operating point)
    batch: int
    utterances: tuple[Any, ...]
    sample_rate: int
    members: tuple[Any, ...] = ()


@dataclass
class UnitResult:
    index: int
    utt_rows: list[dict]
    seg_rows: list[dict]
    worker: str
    host: str
    pid: int
    started: float
    seconds: float
    cpu_s: float = 0.0  # CPU time of this worker process during the unit (seconds / cpu_s: contention)
    inference_worker: str | None = None  # where infer_unit ran (GPU routing), None: here


@dataclass
class Inferred:
    """What :func:`infer_unit` hands to :func:`score_unit`: the separated utterances (their
    metric jobs carry the arrays) of one unit."""

    index: int
    separated: list[Any]
    worker: str
    seconds: float

# ---------------------------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------------------------

_SETUP_DONE = False
_LOCK = threading.Lock()
_MODELS: "collections.OrderedDict[tuple, Any]" = collections.OrderedDict()
_PRICERS: dict[tuple, Any] = {}
_CACHES: dict[tuple, Any] = {}


def _worker_setup() -> None:
    """Once per worker process: one torch/BLAS thread, fvcore's DeprecationWarning filtered."""
    global _SETUP_DONE
    if not _SETUP_DONE:
        init_worker()
        _SETUP_DONE = True


def _worker_address() -> tuple[str, str, int]:
    try:
        from distributed import get_worker
        addr = get_worker().address
    except (ImportError, ValueError):  # called outside a worker (tests, inline)
        addr = "local"
    return addr, socket.gethostname(), os.getpid()


def _worker_model(spec: ModelSpec, cfg: RunConfig) -> Any:
    """The separator of ``spec`` for this thread, loaded once (LRU of MODEL_CACHE_SIZE) and
    placed on the run's device in its precision; on a GPU only one model stays resident."""
    key = (spec, threading.get_ident())
    with _LOCK:
        sep = _MODELS.get(key)
        if sep is not None:
            _MODELS.move_to_end(key)
            return sep
    sep = load_model(spec)
    place_for_inference(sep, cfg)
    on_gpu = str(getattr(sep, "device", "cpu")).startswith("cuda")
    with _LOCK:
        _MODELS[key] = sep
        while len(_MODELS) > (1 if on_gpu else MODEL_CACHE_SIZE):
            old, _ = _MODELS.popitem(last=False)
            for k in [k for k in _PRICERS if k[0] == old]:
                del _PRICERS[k]
    return sep


def _worker_pricer(spec: ModelSpec, sep: Any, sample_rate: int, op: float | None, uncounted_ops: str = "error") -> Any:
    """The MAC pricer of (model, rate, operating point), built once per worker as the local
    engine builds it once per entry."""
    key = ((spec, threading.get_ident()), sample_rate, op, uncounted_ops)
    pricer = _PRICERS.get(key)
    if pricer is None:
        pricer = _PRICERS[key] = make_pricer(sep, sample_rate, uncounted_ops)
    return pricer


def _worker_cache(job: InputsJob) -> Any:
    if job.cache_dir is None:
        return None
    settings = make_suite(job.metrics, job.sample_rate, job.pesq_mode).settings()
    key = (job.cache_dir, job.manifest_hash, repr(sorted(settings.items())))
    with _LOCK:
        cache = _CACHES.get(key)
        if cache is None:
            if len(_CACHES) > 8:
                _CACHES.clear()
            cache = _CACHES[key] = InputCache(job.manifest_hash, settings, directory=job.cache_dir)
    return cache


def compute_inputs(job: InputsJob) -> InputsResult:
    """Input metrics of a batch: from the cache when its entry matches the audio, else computed.

    Never raises for one utterance: an utterance whose audio cannot be read or whose input
    metrics fail is left out, and the units compute (and record) it themselves, exactly as
    the local engine would.
    """
    _worker_setup()
    t0 = time.perf_counter()
    suite = suite_for(job.metrics, job.sample_rate, job.pesq_mode)
    cache = _worker_cache(job)
    values: dict[str, Any] = {}
    computed: dict[str, tuple[Any, str]] = {}
    hits = 0
    for utt in job.utterances:
        try:
            mixture, sources, _ = load_utterance(utt)
            fingerprint = audio_fingerprint(mixture, sources)
            found = cache.get(utt.utt_id, fingerprint=fingerprint) if cache is not None else None
            if found is None:
                found = suite.input_values(mixture, sources)
                computed[utt.utt_id] = (found, fingerprint)
            else:
                hits += 1
        except Exception:  # noqa: BLE001 - the unit meets the same failure and records it
            continue
        values[utt.utt_id] = found
    return InputsResult(job.dataset, values, computed, hits, _worker_address()[0], time.perf_counter() - t0)


def _unit_evaluator(unit: WorkUnit) -> Any:
    key = unit.key
    sep = _worker_model(unit.spec, unit.cfg)
    sep.prepare(unit.sample_rate)
    sep.set_operating_point(key.operating_point)
    return UtteranceEvaluator(sep, key, unit.sample_rate, unit.cfg.metrics, unit.cfg.pesq_mode,
                              pricer=_worker_pricer(unit.spec, sep, unit.sample_rate, key.operating_point,
                                                    unit.cfg.uncounted_ops))


def _separate_unit(evaluator: Any, unit: WorkUnit, inputs: InputsResult | None) -> list[Any]:
    """The unit's utterances separated in the run's inference batches (the batches of the
    whole group, so a resumed unit computes what an uninterrupted one did); those still to be
    committed, in order."""
    shared = inputs.values if inputs is not None else {}
    wanted = {u.utt_id for u in unit.utterances}
    members = unit.members or unit.utterances
    size = unit.cfg.batch_size if getattr(evaluator.separator, "batchable", False) else 1
    out = []
    for batch in length_batches(members, size):
        out += [d for d in evaluator.separate_batch(batch, lambda uid, fp: shared.get(uid))
                if d.row["utt_id"] in wanted]
    return out


def _score(evaluator_rows: Callable, separated: list[Any]) -> tuple[list[dict], list[dict]]:
    utt_rows: list[dict] = []
    seg_rows: list[dict] = []
    for done in separated:
        result, error = None, None
        if done.job is not None:
            try:
                result = compute_metrics(done.job)
            except Exception as exc:  # a metric crash is this utterance's error row
                error = f"metrics: {type(exc).__name__}: {exc}"
        row, segs = evaluator_rows(done, result, error)
        utt_rows.append(row)
        seg_rows.extend(segs)
    return utt_rows, seg_rows


def run_unit(unit: WorkUnit, inputs: InputsResult | None = None) -> UnitResult:
    """Separate and evaluate one unit's utterances on this worker; returns its rows.

    The input metrics come from the inputs task this unit depends on (which already checked
    each cached entry against the audio's fingerprint); an utterance it has none for computes
    them itself. Nothing is stored here: the driver stores what workers computed.
    """
    _worker_setup()
    started = time.time()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    evaluator = _unit_evaluator(unit)
    utt_rows, seg_rows = _score(evaluator.rows, _separate_unit(evaluator, unit, inputs))
    addr, host, pid = _worker_address()
    return UnitResult(unit.index, utt_rows, seg_rows, addr, host, pid, started,
                      time.perf_counter() - t0, time.process_time() - cpu0)


def infer_unit(unit: WorkUnit, inputs: InputsResult | None = None) -> Inferred:
    """The inference half of a unit (on a GPU worker): separate and price its utterances."""
    _worker_setup()
    t0 = time.perf_counter()
    evaluator = _unit_evaluator(unit)
    separated = _separate_unit(evaluator, unit, inputs)
    return Inferred(unit.index, separated, _worker_address()[0], time.perf_counter() - t0)


def score_unit(unit: WorkUnit, inferred: Inferred) -> UnitResult:
    """The scoring half of a unit (on any worker): metrics and rows of what
    :func:`infer_unit` separated. Needs no model: the rows come from the separations."""
    _worker_setup()
    started = time.time()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    rows = lambda done, result, error=None: utterance_rows(done, result, unit.sample_rate, error)  # noqa: E731
    utt_rows, seg_rows = _score(rows, inferred.separated)
    addr, host, pid = _worker_address()
    return UnitResult(unit.index, utt_rows, seg_rows, addr, host, pid, started,
                      time.perf_counter() - t0 + inferred.seconds, time.process_time() - cpu0,
                      inference_worker=inferred.worker)


def gpu_workers(client: Any) -> list[str]:
    """Addresses of the workers that declare the ``GPU`` resource."""
    info = client.scheduler_info().get("workers", {})
    return sorted(a for a, w in info.items() if (w.get("resources") or {}).get("GPU", 0) > 0)


# ---------------------------------------------------------------------------------------------
# driver side
# ---------------------------------------------------------------------------------------------

@dataclass
class _EntryProgress:
    total: int
    done: int = 0
    units: int = 0
    busy_s: float = 0.0
    workers: set = field(default_factory=set)


@dataclass
class _WorkerStats:
    host: str
    units: int = 0
    utterances: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0
    input_units: int = 0
    input_s: float = 0.0
    inference_units: int = 0    # units whose inference ran here (GPU routing)


def _shippable_spec(spec: ModelSpec) -> ModelSpec:
    """The spec as a worker loads it: a checkpoint path made absolute (the result name kept)."""
    p = Path(spec.name)
    if not p.is_absolute() and p.is_file():
        return ModelSpec(str(p.resolve()), spec.operating_points, spec.result_name, spec.options)
    return spec


def _connect(options: EngineOptions) -> tuple[Any, Any, str]:
    """(client, cluster or None, description)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError("the dask engine needs the 'distributed' package (pip install distributed)") from None
    if options.scheduler:
        if not re.fullmatch(r"((tcp|tls|ws|wss|ucx)://)?[A-Za-z0-9._\-\[\]:]+:\d{1,5}", options.scheduler):
            raise UserError(f"--scheduler {options.scheduler!r} is not a Dask scheduler address "
                            f"(expected e.g. tcp://host:8786)")
        try:
            client = bounded_client(Client, options.scheduler, HANDSHAKE_S)
        except UserError:
            raise
        except (OSError, TimeoutError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {options.scheduler} ({exc})") from None
        except (ValueError, TypeError) as exc:
            raise UserError(f"--scheduler {options.scheduler!r} is not a Dask scheduler address ({exc})") from None
        except (MemoryError, Exception) as exc:  # noqa: BLE001 - a reply that is not Dask's protocol
            raise UserError(f"the server at {options.scheduler} answered something that is not a Dask "
                            f"scheduler's protocol ({type(exc).__name__})") from None
        try:
            client.wait_for_workers(1, timeout=60)
        except (TimeoutError, OSError):
            client.close()
            raise UserError(f"the Dask scheduler at {options.scheduler} has no workers (waited 60 s)") from None
        return client, None, f"scheduler {options.scheduler}"
    n = options.n_workers or machine_workers()
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR, env=dict(SINGLE_THREAD_ENV))
    client = Client(cluster)
    return client, cluster, f"LocalCluster of {n} worker process(es) x 1 thread on 127.0.0.1"


def bounded_client(client_class: Any, address: str, seconds: float) -> Any:
    """``client_class(address)`` within ``seconds``: something that accepts TCP but never
    completes Dask's handshake (an HTTP server, a silent listener) used to hang the run
    forever; here the connecting thread is left behind (a daemon) and the run gets one line."""
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_class(address, timeout=CONNECT_TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    t = threading.Thread(target=connect, name="dsnbench-dask-connect", daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise UserError(f"the Dask scheduler at {address} accepted the connection but completed no "
                        f"handshake in {seconds:g} s: is a Dask scheduler listening there?")
    if "error" in box:
        raise box["error"]
    return box["client"]


def default_unit_size(n_utterances: int, n_workers: int, chunk_size: int) -> int:
    """Utterances per unit: the config's chunk size, smaller when that would leave fewer than
    about four units per worker (so a small run still keeps every worker busy)."""
    return max(1, min(chunk_size, math.ceil(n_utterances / (4 * max(1, n_workers)))))


def _make_units(run: PreparedRun, unit_size: int
                ) -> tuple[list[WorkUnit], dict[EntryKey, _EntryProgress], dict[tuple[str, int], dict[str, Any]]]:
    """The work units in plan order; per entry its progress; per (dataset, batch) the
    utterances whose input metrics some unit needs. Groups are cut from the whole manifest
    sorted by length (:func:`dsnbench.run.unit.length_batches`), so every entry's group ``b``
    of a dataset holds the same utterances and shares its inputs."""
    manifests = run.plan.manifests
    batches = {d: [tuple(b) for b in length_batches(m.utterances, unit_size)] for d, m in manifests.items()}
    units: list[WorkUnit] = []
    entries: dict[EntryKey, _EntryProgress] = {}
    needed: dict[tuple[str, int], dict[str, Any]] = {}
    for key in run.plan.keys:
        spec = run.plan.models[key.model][0]
        sr = manifests[key.dataset].sample_rate
        n_entry = 0
        for b, batch in enumerate(batches[key.dataset]):
            todo = tuple(u for u in batch if key.utterance(u.utt_id) not in run.done)
            if not todo:
                continue
            n_entry += len(todo)
            units.append(WorkUnit(len(units), run.cfg, _shippable_spec(spec), key, b, todo, sr, batch))
            needed.setdefault((key.dataset, b), {}).update({u.utt_id: u for u in todo})
        if n_entry:
            entries[key] = _EntryProgress(total=n_entry)
    return units, entries, needed


def run_experiment_dask(cfg: RunConfig, out: str | Path, options: EngineOptions | None = None, *,
                        progress: bool = True, log: Callable[[str], None] | None = None,
                        on_unit_done: Callable[[Any, int], None] | None = None) -> dict:
    """Evaluate every entry of ``cfg`` on a Dask cluster into the run folder ``out``.

    Same contract as :func:`dsnbench.run.local_engine.run_experiment` (returns the summary,
    also written to ``out/summary.json``; validates every dataset and model before any work),
    plus ``out/engine.json`` (what ran where). ``on_unit_done(client, n_units_done)`` is called
    after each committed unit (tests use it to kill a worker mid-run).
    """
    options = options or EngineOptions(name="dask")
    log = log or (lambda s: print(s, file=sys.stderr))
    out = Path(out)
    wall0 = time.perf_counter()

    # -- everything is checked before a cluster starts ------------------------------------
    run = prepare_run(cfg, out)
    try:
        return _run_prepared(run, options, progress, log, on_unit_done, wall0)
    finally:
        run.folder.release()


def _run_prepared(run: PreparedRun, options: EngineOptions, progress: bool, log: Callable[[str], None],
                  on_unit_done: Callable[[Any, int], None] | None, wall0: float) -> dict:
    """:func:`run_experiment_dask` once its folder is claimed (the caller gives the folder's
    lock back however this ends)."""
    cfg, out = run.cfg, run.out
    manifests, store = run.plan.manifests, run.folder.store
    todo_total = run.n_todo()

    # input-metric caches (driver side: stores what workers computed)
    root = cache_root()
    caches: dict[str, Any] = {}
    for dname, m in manifests.items():
        try:
            settings = make_suite(cfg.metrics, m.sample_rate, cfg.pesq_mode).settings()
        except ValueError:  # invalid metric settings: every unit records the error itself
            continue
        caches[dname] = InputCache(m.hash(), settings)

    report: dict[str, Any] = {"engine": "dask", "units": 0, "utterances": todo_total}
    worker_stats: dict[str, _WorkerStats] = {}
    failed: list[tuple[WorkUnit, str]] = []
    entries: dict[tuple, _EntryProgress] = {}
    input_stats = {"tasks": 0, "computed": 0, "cache_hits": 0}

    if todo_total:
        client, cluster, where = _connect(options)
        report["cluster"] = where
        report["scheduler"] = client.scheduler.address
        try:
            workers_at_start = set(client.scheduler_info()["workers"])
            unit_size = options.unit_size or default_unit_size(todo_total, len(workers_at_start), cfg.chunk_size)
            unit_size = -(-unit_size // cfg.batch_size) * cfg.batch_size   # whole inference batches
            units, entries, needed = _make_units(run, unit_size)
            total_utts = sum(len(u.utterances) for u in units)
            gpus = gpu_workers(client)
            report.update(unit_size=unit_size, units=len(units), workers_at_start=len(workers_at_start),
                          gpu_workers=gpus)
            log(f"dask engine: {where}; {len(units)} units of <= {unit_size} utterances, "
                f"{len(entries)} entries, {total_utts} utterances"
                + (f"; inference on the {len(gpus)} GPU worker(s), metrics on any" if gpus else ""))
            token = uuid.uuid4().hex[:8]
            inputs_futures: dict[tuple[str, int], Any] = {}
            for (dname, b), utts in needed.items():
                if dname not in caches:
                    continue
                m = manifests[dname]
                job = InputsJob(dname, b, tuple(utts.values()), m.sample_rate, cfg.metrics, cfg.pesq_mode,
                                m.hash(), str(root) if root is not None and caches[dname].enabled else None)
                inputs_futures[(dname, b)] = client.submit(
                    compute_inputs, job, key=f"dsnbench-inputs-{token}-{dname}-{b}", pure=False)
            input_stats["tasks"] = len(inputs_futures)
            by_key: dict[str, tuple[str, Any]] = {}
            for f in inputs_futures.values():
                by_key[f.key] = ("inputs", None)
            unit_futures = []

            def submit(u: WorkUnit, inputs: Any, suffix: str = "") -> Any:
                """The unit as one task, or with GPU workers as inference (GPU=1) + scoring."""
                name = f"dsnbench-unit-{token}-{u.index}{suffix}"
                if not gpus:
                    return client.submit(run_unit, u, inputs, key=name, pure=False, retries=1)
                inferred = client.submit(infer_unit, u, inputs, key=name + "-infer", pure=False, retries=1,
                                         resources={"GPU": 1})
                return client.submit(score_unit, u, inferred, key=name, pure=False, retries=1)
            for u in units:
                f = submit(u, inputs_futures.get((u.key.dataset, u.batch)))
                by_key[f.key] = ("unit", u)
                unit_futures.append(f)
            self_retried: set[int] = set()
            from distributed import as_completed
            pending = as_completed(list(inputs_futures.values()) + unit_futures)
            inputs_futures.clear()  # the scheduler keeps each until its units have run
            del unit_futures
            bar = progress_bar(total_utts, progress)
            n_units_done = 0
            try:
                for fut in pending:
                    kind, unit = by_key.pop(fut.key)
                    if kind == "inputs":
                        _take_inputs(fut, caches, worker_stats, input_stats)
                        fut.release()
                        continue
                    try:
                        res: UnitResult = fut.result()
                    except Exception as exc:  # noqa: BLE001 - infrastructure, not one utterance
                        fut.release()
                        if unit.index not in self_retried:
                            self_retried.add(unit.index)  # once more, computing its own inputs
                            again = submit(unit, None, "-again")
                            by_key[again.key] = ("unit", unit)
                            pending.add(again)
                        else:
                            failed.append((unit, f"{type(exc).__name__}: {exc}"))
                        continue
                    fut.release()
                    try:
                        store.commit(res.utt_rows, res.seg_rows)
                    except OSError as exc:
                        raise UserError(f"{store.dir}: cannot write results ({exc.strerror or exc}); "
                                        f"the rows written before are intact") from None
                    n_units_done += 1
                    _account(unit, res, entries, worker_stats, bar, log if progress else None)
                    if on_unit_done is not None:
                        on_unit_done(client, n_units_done)
            finally:
                bar.close()
                for c in caches.values():
                    c.flush()
            workers_at_end = set(client.scheduler_info()["workers"])
            report["workers_lost"] = sorted(workers_at_start - workers_at_end)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    report["input_metrics"] = input_stats
    report["wall_s"] = round(time.perf_counter() - wall0, 3)
    report["workers"] = {a: {"host": s.host, "units": s.units, "utterances": s.utterances,
                             "busy_s": round(s.busy_s, 3), "cpu_s": round(s.cpu_s, 3),
                             "input_tasks": s.input_units,
                             "input_s": round(s.input_s, 3), "inference_units": s.inference_units}
                         for a, s in sorted(worker_stats.items())}
    report["entries"] = [{"model": k.model, "dataset": k.dataset, "operating_point": k.operating_point,
                          "utterances": e.done, "units": e.units, "busy_s": round(e.busy_s, 3),
                          "workers": sorted(e.workers)} for k, e in entries.items()]
    report["failed_units"] = [{"model": u.key.model, "dataset": u.key.dataset,
                               "operating_point": u.key.operating_point,
                               "utterances": [x.utt_id for x in u.utterances], "error": err}
                              for u, err in failed]
    try:
        atomic_write_json(report, out / "engine.json")
    except OSError:
        pass  # the report is a courtesy; the tables are what matter
    if todo_total:
        log(format_report(report))
    if failed:
        first = failed[0][1]
        raise UserError(f"{len(failed)} work unit(s) failed twice ({first}); every other unit is "
                        f"committed in {out}; run the same command again to retry them")
    # the summary sorts the committed rows first, whatever order the units finished in
    summary = build_summary(cfg, run.folder.created, run.plan, store)
    finalize(out, store, summary)
    return summary


def _take_inputs(fut: Any, caches: dict, worker_stats: dict, input_stats: dict) -> None:
    """Store the input metrics a worker computed (the units already have them)."""
    try:
        res: InputsResult = fut.result()
    except Exception:  # noqa: BLE001 - its units fail too and are retried without it
        return
    cache = caches.get(res.dataset)
    if cache is not None:
        for utt_id, (metrics, fingerprint) in res.computed.items():
            cache.put(utt_id, metrics, fingerprint=fingerprint)
    input_stats["computed"] += len(res.computed)
    input_stats["cache_hits"] += res.hits
    s = worker_stats.setdefault(res.worker, _WorkerStats(host="?"))
    s.input_units += 1
    s.input_s += res.seconds


def _account(unit: WorkUnit, res: UnitResult, entries: dict, worker_stats: dict, bar: Any,
             log: Callable[[str], None] | None) -> None:
    key = unit.key
    e = entries[key]
    e.done += len(res.utt_rows)
    e.units += 1
    e.busy_s += res.seconds
    e.workers.add(res.worker)
    s = worker_stats.setdefault(res.worker, _WorkerStats(host=res.host))
    if s.host == "?":
        s.host = res.host
    s.units += 1
    s.utterances += len(res.utt_rows)
    s.busy_s += res.seconds
    s.cpu_s += res.cpu_s
    if res.inference_worker is not None:
        worker_stats.setdefault(res.inference_worker, _WorkerStats(host="?")).inference_units += 1
    bar.update(len(res.utt_rows))
    if e.done < e.total:
        return
    n_done = sum(1 for x in entries.values() if x.done >= x.total)
    if hasattr(bar, "set_postfix_str"):
        bar.set_postfix_str(f"entries {n_done}/{len(entries)}")
    if log is not None:
        op = "-" if key.operating_point is None else f"{key.operating_point:g}"
        line = (f"entry {n_done}/{len(entries)} done: {key.model} | {key.dataset} | op {op}: "
                f"{e.done} utterances, {e.units} units, {e.busy_s:.1f} s on {len(e.workers)} worker(s)")
        (bar.write if hasattr(bar, "write") else log)(line)


def format_report(report: dict) -> str:
    """What ran where: one line per worker (address, host, units, utterances, busy seconds)."""
    workers = report.get("workers", {})
    header = ["worker", "host", "units", "utterances", "busy s", "cpu s", "input tasks", "input s"]
    rows = [[a, w["host"], str(w["units"]), str(w["utterances"]), f"{w['busy_s']:.1f}",
             f"{w.get('cpu_s', 0.0):.1f}", str(w["input_tasks"]), f"{w['input_s']:.1f}"]
            for a, w in workers.items()]
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                                   for j, (c, w) in enumerate(zip(cells, widths)))
    im = report.get("input_metrics", {})
    lines = [f"dask engine: {report.get('units', 0)} units, {report.get('utterances', 0)} utterances in "
             f"{report.get('wall_s', 0):.1f} s wall ({report.get('cluster', '?')})",
             line(header)] + [line(r) for r in rows]
    lines.append(f"input metrics: {im.get('tasks', 0)} tasks, {im.get('computed', 0)} computed, "
                 f"{im.get('cache_hits', 0)} from the cache")
    lost = report.get("workers_lost") or []
    if lost:
        lines.append(f"workers lost during the run (their units ran again elsewhere): {', '.join(lost)}")
    return "\n".join(lines)
