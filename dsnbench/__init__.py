"""dsnbench: what a dynamic slimmable separation network buys over static ones, per segment.

The top-level names are imported lazily, so commands that need no torch (compare, history,
table) start quickly.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Separation", "SegmentTrace", "Separator", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Separation", "SegmentTrace", "Separator"):
        from . import types
        return getattr(types, name)
    raise AttributeError(f"module 'dsnbench' has no attribute {name!r}")
