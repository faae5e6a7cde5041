"""dsnbench: what a dynamic slimmable separation network buys over static ones, per segment."""
from __future__ import annotations

__version__ = "0.1.0"

from .types import Separation, SegmentTrace, Separator  # noqa: E402

__all__ = ["Separation", "SegmentTrace", "Separator", "__version__"]
