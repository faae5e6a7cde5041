"""Models: the registry of separators (built-in oracles, bundled checkpoints, adapters), the
bundled DSN reconstruction, checkpoint I/O and adapters for models from elsewhere."""
from __future__ import annotations

from .catalog import MODELS, load_separator

__all__ = ["MODELS", "load_separator"]
