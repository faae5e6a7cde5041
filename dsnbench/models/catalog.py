"""The model registry (built-in oracles and bundled checkpoints), and a separator from a
checkpoint file or a registered name."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ..registry import Registry
from .bundled import register_bundled

MODELS = Registry("model")

MODELS.register("oracle-mixture", "dsnbench.models.oracles:OracleMixture",
                help="each estimate is the mixture: every improvement is 0 (sanity anchor)",
                family="oracle")
MODELS.register("oracle-irm", "dsnbench.models.oracles:OracleIRM",
                help="ideal ratio mask from the references via STFT (upper anchor)",
                family="oracle")

# Bundled checkpoints (dsnbench/assets/checkpoints/*.safetensors|.pt): one name per file stem,
# plus slim-<w> names for a supernet; see dsnbench/models/bundled.py.
register_bundled(MODELS)


def load_separator(path_or_name: str | os.PathLike, name: str | None = None,
                   width: float | None = None, betas: Sequence[float] | None = None):
    """A separator from a checkpoint file, or from a registered model name.

    A path (an existing file, or anything ending in .safetensors/.pt/.pth) is loaded with
    :func:`dsnbench.models.checkpoint.load_checkpoint`; otherwise the name is looked up in
    :data:`MODELS` (did-you-mean error when unknown). Options: ``name`` (result name),
    ``width`` (slim-w of a supernet or DSN checkpoint), ``betas`` (operating points of a DSN).
    """
    from .checkpoint import CHECKPOINT_SUFFIXES, load_checkpoint, separator_from_checkpoint
    target = str(path_or_name)
    if Path(target).is_file() or target.endswith(CHECKPOINT_SUFFIXES):
        return separator_from_checkpoint(load_checkpoint(target), name=name, width=width, betas=betas)
    opts: dict[str, Any] = {k: v for k, v in (("name", name), ("width", width), ("betas", betas))
                            if v is not None}
    return MODELS.get(target)(**opts)
