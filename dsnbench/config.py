"""Backwards-compatible name for :func:`dsnbench.documents.load_document`.

Kept only for ``dsnbench/train/config.py`` (outside issue 19's scope), which still imports
``load_document`` from here; the run configuration lives in :mod:`dsnbench.run.config`.
Pending: train/config.py imports ``dsnbench.documents`` and this module goes.
"""
from __future__ import annotations

from .documents import load_document

__all__ = ["load_document"]
