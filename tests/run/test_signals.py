"""Killing the driver of ``dsnbench run`` (dsnbench/run/jobs.py ``exit_with``, dsnbench/cli.py):
no child survives it, and SIGTERM exits 143 with the finished rows committed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> dict[int, int]:
    """ppid of every process, from /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(entry.name)] = int(fields[1])
    return out


def _descendants(pid: int) -> set[int]:
    parents = _children(pid)
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(root: Path, out: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dsnbench", "run", "--model", "oracle-irm", "--dataset", "wsj0-2mix",
           "--root", str(root), "--workers", "2", "--set", "chunk_size=1", "--out", str(out), "--no-progress"]
    # output to a file: a pipe would stay open as long as any orphan holds it
    with open(log, "w") as f:
        return subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, what: str, limit_s: float = 240.0) -> None:
    """Wait for a state of the run (not a speed assertion: the limit only ends a hung test)."""
    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"never reached: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def longer_root(tmp_path_factory) -> Path:
    from dsnbench.testing import write_wsj0_2mix
    return write_wsj0_2mix(tmp_path_factory.mktemp("signals") / "2speakers", n=24, seconds=1.0, seed=5)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_child_survives_the_driver(longer_root, tmp_path, sig):
    out, log = tmp_path / "run", tmp_path / "log.txt"
    proc = _start(longer_root, out, log)
    family: set[int] = set()
    try:
        # the metric workers are up (driver -> forkserver -> workers) and rows are committed
        _wait_for(lambda: len(_descendants(proc.pid)) >= 4 and any((out / "parts").glob("utt-*.parquet"))
                  or proc.poll() is not None, "metric workers running and a committed row")
        assert proc.poll() is None, log.read_text()
        family = _descendants(proc.pid)
        committed = len(list((out / "parts").glob("utt-*.parquet")))
        os.kill(proc.pid, sig)
        proc.wait(timeout=240)
        err = log.read_text()
        _wait_for(lambda: not any(_alive(p) for p in family), "every child of the driver gone", 60.0)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in family:  # whatever this test started and left (only when it fails)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, err
        assert "terminated" in err and "Traceback" not in err
        assert len(list((out / "parts").glob("utt-*.parquet"))) >= committed   # finished rows kept
    else:
        assert proc.returncode == -signal.SIGKILL
