"""Checkpoint I/O of the trainer, on top of :mod:`dsnbench.models.checkpoint` (the
self-describing safetensors format with provenance).

``export`` copies a finished training into the bundled folder: ``<dest>/<name>.safetensors``
(picked up by the model registry under its stem) and, beside it in ``<dest>/training/``, the
training config (``<name>.yaml``) and the per-epoch log (``<name>.csv``).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from ..errors import UserError
from ..models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..models.dualpath import DualPathDSN

SUFFIX = ".safetensors"
FAMILY_OF_STAGE = {"static": "static", "supernet": "supernet", "gate": "dsn"}


def save_model(model: DualPathDSN, path: Path, provenance: dict[str, Any],
               operating_points: Sequence[float] | None = None) -> Path:
    """Save a trained model; the family follows ``provenance['stage']``."""
    family = FAMILY_OF_STAGE[provenance["stage"]]
    ops = operating_points if family == "dsn" else None
    return save_checkpoint(path, model, family, provenance, operating_points=ops)


def load_model(path: Path) -> DualPathDSN:
    """Load a checkpoint as a trainable model (train mode, float32)."""
    try:
        ck = load_checkpoint(path)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    return ck.build_model().train()


def export(checkpoint: Path, log_csv: Path, config_yaml: Path, dest: Path, name: str) -> Path:
    """Copy a finished training into ``dest`` (see the module docstring). Returns the checkpoint path."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "training").mkdir(exist_ok=True)
    target = dest / f"{name}{SUFFIX}"
    shutil.copyfile(checkpoint, target)
    shutil.copyfile(log_csv, dest / "training" / f"{name}.csv")
    shutil.copyfile(config_yaml, dest / "training" / f"{name}.yaml")
    return target
