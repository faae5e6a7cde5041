"""The local engine's pool of metric worker processes (one BLAS/torch thread each; see the
torch hazard in design section 9), and an inline executor with the same interface.

:func:`make_executor` gives an :class:`InlineExecutor` for one worker (no process start-up) and
a :class:`WarmingPool` otherwise: a ``ProcessPoolExecutor`` on a forkserver that has preloaded
the metric code (:func:`dsnbench.run.jobs.worker_preload`), started in the background while the
first jobs run in this process.
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from .jobs import WORKER_THREAD_ENV, init_worker, worker_preload


class InlineExecutor:
    """Same interface as ProcessPoolExecutor, computing each job in this process at submit."""

    def submit(self, fn: Callable, *args: Any) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as exc:  # surfaced by .result()
            f.set_exception(exc)
        return f

    def run_isolated(self, fn: Callable, *args: Any) -> Any:
        """One worker means this process: nothing to isolate in (``workers: 1``)."""
        return fn(*args)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def main_is_importable() -> bool:
    """Worker processes re-import ``__main__`` from its file; a script piped on stdin has none."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or Path(main_file).is_file()


def _noop() -> None:
    return None


class WarmingPool:
    """A metric worker pool that starts in the background, while the run loads its models and
    separates its first batch.

    Starting the pool means starting the forkserver, which imports the metric code (scipy,
    pesq, pystoi: about a second), then forking the workers. A thread starts it as soon as the
    executor is made; the first ``submit`` waits for it (jobs never run in this process, where a
    crash in a metric's native code would end the run). A worker that dies breaks the pool: the
    next job starts a fresh one, and the dead worker's jobs are retried one by one, each in a
    process of its own (:meth:`run_isolated`). If the pool cannot start at all, every job runs
    here, after a one-line note.
    """

    def __init__(self, factory: Callable[..., Any]) -> None:
        self._factory = factory
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
        # a job waits for the workers rather than run here: a crash in a metric's native code
        # in this process would end the run (the start-up overlaps model loading and the first
        # separation, so the wait is short)
        self._ready.wait()
        if self._pool is not None:
            try:
                return self._pool.submit(fn, *args)
            except BrokenProcessPool:  # a worker died: the next jobs go to a fresh pool
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._factory()
                return self._pool.submit(fn, *args)
        return InlineExecutor().submit(fn, *args)

    def run_isolated(self, fn: Callable, *args: Any) -> Any:
        """``fn(*args)`` in a fresh process of its own (a job whose worker died is retried so,
        never in this process: a crash in native code would take the run with it). Raises
        BrokenProcessPool if that process dies too."""
        with self._factory(1) as one:
            return one.submit(fn, *args).result()

    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes (empty while none has started)."""
        self._ready.wait()
        return list(getattr(self._pool, "_processes", None) or {})

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def make_executor(workers: int) -> InlineExecutor | WarmingPool:
    """The executor of ``workers`` metric processes (1: inline, no process)."""
    if workers > 1 and not main_is_importable():
        print("dsnbench: __main__ is not a file (stdin?): metrics run in this process", file=sys.stderr)
        workers = 1
    if workers <= 1:
        return InlineExecutor()
    import multiprocessing as mp
    # forkserver: a clean server process (no model, no torch thread pool inherited) imports the
    # metric code once and forks each worker from itself, so workers start in milliseconds; the
    # preload list leaves out __main__, so runs from notebooks and stdin work too.
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        for k, v in WORKER_THREAD_ENV.items():
            os.environ.setdefault(k, v)  # inherited by the server when it starts
        ctx.set_forkserver_preload(worker_preload())
    else:
        ctx = mp.get_context("spawn")
    return WarmingPool(lambda n=workers: ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=init_worker,
                                                             initargs=(os.getpid(),)))
