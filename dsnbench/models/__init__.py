"""Models: the registry of separators (built-in oracles, bundled checkpoints, adapters)."""
from __future__ import annotations

from ..registry import Registry

MODELS = Registry("model")

MODELS.register("oracle-mixture", "dsnbench.models.oracles:OracleMixture",
                help="each estimate is the mixture: every improvement is 0 (sanity anchor)",
                family="oracle")
MODELS.register("oracle-irm", "dsnbench.models.oracles:OracleIRM",
                help="ideal ratio mask from the references via STFT (upper anchor)",
                family="oracle")

# Bundled checkpoints (dsnbench/assets/checkpoints/*.safetensors|.pt): one name per file stem,
# plus slim-<w> names for a supernet; see dsnbench/models/bundled.py.
from .bundled import register_bundled  # noqa: E402

register_bundled(MODELS)
