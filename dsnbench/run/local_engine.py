"""The local engine: models x datasets x operating points -> a run folder (design section 2).

Per utterance the main process reads the audio and runs the separator (model inference,
:meth:`dsnbench.run.unit.UtteranceEvaluator.separate`), then hands the arrays to a pool of
metric worker processes (:mod:`dsnbench.run.pool`; one torch/BLAS thread each, see the torch
hazard in design section 9). Finished utterances are committed to the run folder in small
durable chunks (:class:`dsnbench.results.PartStore`), so a killed run started again with the
same ``--out`` continues where it stopped and ends with the same tables.
"""
from __future__ import annotations

import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..metrics.cache import InputCache
from ..metrics.suite import make_suite
from ..results import EntryKey
from .config import RunConfig
from .jobs import compute_metrics
from .plan import PreparedRun, prepare_run
from .pool import InlineExecutor, make_executor
from .progress import progress_bar
from .summary import build_summary, finalize
from .unit import UtteranceEvaluator, length_batches


_NOTED: set[str] = set()


def note_once(message: str) -> None:
    """A one-line note on stderr, once per process."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(message, file=sys.stderr)


def run_experiment(cfg: RunConfig, out: str | Path, options: Any = None, *, progress: bool = True,
                   log: Callable[[str], None] | None = None) -> dict:
    """Evaluate every (model, dataset, operating point) of ``cfg`` into the run folder ``out``.

    Returns the summary (also written to ``out/summary.json``). Validates every dataset and
    loads every model before any work starts, so a bad path fails in seconds, not hours.
    ``options`` (:class:`dsnbench.run.engines.EngineOptions`) has nothing for this engine: the
    number of metric processes is the config's ``workers``.
    """
    out = Path(out)
    run = prepare_run(cfg, out)
    try:
        bar = progress_bar(run.n_todo(), progress)
        executor = make_executor(cfg.workers)
        try:
            for key in run.plan.keys:
                todo = run.todo(key)
                if todo:
                    _run_entry(run, key, todo, executor, bar)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            bar.close()
        summary = build_summary(cfg, run.folder.created, run.plan, run.folder.store)
        finalize(out, run.folder.store, summary)
    finally:
        run.folder.release()
    return summary


def _run_entry(run: PreparedRun, key: EntryKey, todo: list, executor: Any, bar: Any) -> None:
    """Separate the utterances here, a batch at a time (``batch_size``, on ``device``), while
    the pool computes the metrics of the batches before; commit in chunks."""
    cfg, store = run.cfg, run.folder.store
    manifest = run.plan.manifests[key.dataset]
    run.plan.check_entry(key)
    sep = run.plan.separator(key)
    evaluator = UtteranceEvaluator(sep, key, manifest.sample_rate, cfg.metrics, cfg.pesq_mode,
                                   uncounted_ops=cfg.uncounted_ops)
    batch_size = cfg.batch_size
    if batch_size > 1 and not getattr(sep, "batchable", False):
        note_once(f"dsnbench run: model {key.model!r} cannot take a batch; it runs one mixture at a time")
        batch_size = 1
    cache = InputCache(manifest.hash(), make_suite(cfg.metrics, manifest.sample_rate, cfg.pesq_mode).settings())
    pending: list = []  # (separated, future)
    utt_rows: list[dict] = []
    seg_rows: list[dict] = []
    # inference of the next batch runs while up to this many metric jobs wait in the pool
    window = 0 if isinstance(executor, InlineExecutor) else 2 * cfg.workers + batch_size

    def drain(block_until: int) -> None:
        while len(pending) > block_until:
            done, fut = pending.pop(0)
            error = None
            try:
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    # a worker died (killed, out of memory, a crash in native code): retry the
                    # job once in a fresh process of its own, never here, where the same crash
                    # would end the run
                    res = executor.run_isolated(compute_metrics, done.job)
            except BrokenProcessPool:
                res, error = None, ("metrics: the process computing them died twice on this utterance "
                                    "(a crash in a metric's native code, or out of memory); not scored")
            except Exception as exc:  # a metric crash must not lose the run
                res, error = None, f"metrics: {type(exc).__name__}: {exc}"
            if res is not None and done.job.inputs is None:
                cache.put(done.job.utt_id, res.inputs, fingerprint=done.fingerprint)
            keep(*evaluator.rows(done, res, error))
            if len(utt_rows) >= cfg.chunk_size:
                flush()

    def keep(row: dict, segs: list[dict]) -> None:
        utt_rows.append(row)
        seg_rows.extend(segs)
        bar.update(1)

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

    wanted = {u.utt_id for u in todo}
    lookup = lambda uid, fp: cache.get(uid, fingerprint=fp)  # noqa: E731
    try:
        if batch_size == 1:
            batches = [[u] for u in todo]
        else:
            batches = [b for b in length_batches(run.plan.manifests[key.dataset].utterances, batch_size)
                       if any(u.utt_id in wanted for u in b)]
        for batch in batches:
            for done in evaluator.separate_batch(batch, lookup):
                if done.row["utt_id"] not in wanted:
                    continue  # committed before the run was stopped; run again only to fill the batch
                if done.job is None:
                    keep(*evaluator.rows(done, None))
                    continue
                fut = executor.submit(compute_metrics, done.job)
                pending.append((done, fut))
            drain(window)
        drain(0)
    except BaseException:
        # interrupted (Ctrl-C, a fatal error): keep every utterance whose metrics are done
        while pending and pending[0][1].done():
            drain(len(pending) - 1)
        if utt_rows:
            flush()
        raise
    if utt_rows:
        flush()
