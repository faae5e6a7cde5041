"""The metric worker pool (dsnbench/run/pool.py)."""
from __future__ import annotations


def _square(x: int) -> int:
    return x * x


def test_warming_pool_computes_here_until_its_workers_are_up() -> None:
    """Jobs submitted while the pool starts run in this process (done at once); later ones go
    to the workers; every future has the right result either way."""
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from dsnbench.run.pool import WarmingPool
    gate = threading.Event()

    def factory() -> ProcessPoolExecutor:
        gate.wait(30)  # the pool "starts" only when the test lets it
        return ProcessPoolExecutor(max_workers=1)

    pool = WarmingPool(factory)
    try:
        early = [pool.submit(_square, k) for k in range(3)]
        assert all(f.done() for f in early)               # computed here, not waiting
        gate.set()
        assert pool.worker_pids()                          # waits until a worker answered
        late = [pool.submit(_square, k) for k in range(3, 6)]
        assert [f.result(timeout=60) for f in early + late] == [k * k for k in range(6)]
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
