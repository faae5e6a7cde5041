"""Helpers shared by test modules."""
from __future__ import annotations

import subprocess


def cli(exe: list[str], *args, cwd=None) -> subprocess.CompletedProcess:
    """Run the ``dsnbench`` command line (``exe``, the ``dsnbench_exe`` fixture) with ``args``."""
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
