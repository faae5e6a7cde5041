"""Backwards-compatible names for the run configuration's old module.

Kept only for callers outside issue 19's reach that still import the old path:
``dsnbench/train/config.py`` (``load_document``) and ``tests/test_train.py``
(``build_config``). New code imports :mod:`dsnbench.documents` and :mod:`dsnbench.run.config`.
Pending: those two callers move to the new paths and this module goes.
"""
from __future__ import annotations

from .documents import load_document
from .run.config import build_config

__all__ = ["build_config", "load_document"]
