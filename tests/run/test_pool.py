"""The metric worker pool (dsnbench/run/pool.py)."""
from __future__ import annotations

import math


def _square(x: int) -> int:
    return x * x


def test_warming_pool_jobs_wait_for_the_workers_and_never_run_here() -> None:
    """Jobs submitted while the pool starts wait for it (a crash in native code must not happen
    in the driver); every future has the right result, computed by a worker."""
    import os
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from dsnbench.run.pool import WarmingPool
    gate = threading.Event()

    def factory(n: int = 1) -> ProcessPoolExecutor:
        gate.wait(30)  # the pool "starts" only when the test lets it
        return ProcessPoolExecutor(max_workers=n)

    pool = WarmingPool(factory)
    try:
        threading.Timer(0.5, gate.set).start()
        early = [pool.submit(os.getpid) for _ in range(3)]   # blocks until the pool is up
        assert all(f.result(timeout=60) != os.getpid() for f in early)
        late = [pool.submit(_square, k) for k in range(3, 6)]
        assert [f.result(timeout=60) for f in late] == [k * k for k in range(3, 6)]
        assert pool.run_isolated(os.getpid) != os.getpid()
    finally:
        pool.shutdown()


def test_warming_pool_that_cannot_start_computes_everything_here(capsys) -> None:
    from dsnbench.run.pool import WarmingPool

    def factory():
        raise OSError("no processes here")

    pool = WarmingPool(factory)
    pool.shutdown()  # joins the start thread
    assert pool.submit(_square, 7).result() == 49
    assert "metric workers did not start (OSError: no processes here)" in capsys.readouterr().err


def test_a_job_that_kills_its_worker_becomes_an_error_row_and_the_run_goes_on(wsj0_root, tmp_path, monkeypatch):
    """Issue 21: a crash in native code (SIGSEGV) used to kill the run, because the job was then
    recomputed in the main process, and every resume died at the same utterance. Now it is
    retried once in a fresh process of its own; dying there too, it is an error row saying so,
    and every other utterance is scored by the (restarted) pool."""
    import functools

    from dsnbench.results import read_run
    from dsnbench.run import local_engine
    from dsnbench.run.config import build_config
    from tests.run.crash_helper import compute_or_crash

    cfg = build_config({"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "metrics": ["si_snr"], "workers": 2, "chunk_size": 1})
    ids = sorted(u.utt_id for u in __import__("dsnbench.data", fromlist=["load_dataset"]).load_dataset(
        "wsj0-2mix", root=str(wsj0_root)))
    victim = ids[1]
    monkeypatch.setattr(local_engine, "compute_metrics", functools.partial(compute_or_crash, crash_on=victim))
    local_engine.run_experiment(cfg, tmp_path / "run", progress=False)
    u = read_run(tmp_path / "run").utterances.set_index("utt_id")
    assert len(u) == len(ids)
    assert "died twice" in str(u.loc[victim, "error"]) and math.isnan(u.loc[victim, "si_snr"])
    others = u.drop(index=victim)
    assert (others["error"].fillna("") == "").all() and others["si_snri"].abs().max() < 1e-9
