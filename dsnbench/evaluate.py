"""Backwards-compatible name for the local engine's old module.

Kept only for ``tests/test_train.py`` (outside issue 19's reach), which still imports
``run_experiment`` from here. New code imports :mod:`dsnbench.run.local_engine`.
Pending: that caller moves to the new path and this module goes.
"""
from __future__ import annotations

from .run.local_engine import run_experiment

__all__ = ["run_experiment"]
