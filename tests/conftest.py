"""Shared fixtures: tiny datasets in the exact published layouts (written once per session)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("DSNBENCH_CACHE", str(REPO / ".pytest_cache" / "dsnbench-cache"))
# the suite's class: models are its own fixture modules; the refusal without this opt-in is
# tested in tests/models/test_adapters.py with the variable removed
os.environ.setdefault("DSNBENCH_TRUST_CLASS", "1")
# subprocesses (the CLI, workers) import this checkout's package, not whichever one the
# interpreter's environment has installed (an editable install may point at another tree)
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


@pytest.fixture(scope="session")
def wsj0_root(tmp_path_factory) -> Path:
    from dsnbench.testing import write_wsj0_2mix
    return write_wsj0_2mix(tmp_path_factory.mktemp("wsj0") / "2speakers", n=4, seconds=1.0, seed=1)


@pytest.fixture(scope="session")
def wham_root(tmp_path_factory) -> Path:
    from dsnbench.testing import write_wham
    return write_wham(tmp_path_factory.mktemp("wham") / "wham", n=3, seconds=1.0, seed=2)


@pytest.fixture(scope="session")
def dsnbench_exe() -> list[str]:
    """The CLI as a user runs it: the installed console script of this interpreter."""
    exe = Path(sys.executable).parent / "dsnbench"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dsnbench.cli"]
