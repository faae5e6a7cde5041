"""Bundled checkpoints: every file in ``dsnbench/assets/checkpoints`` becomes registered names.

A checkpoint ``<stem>.safetensors`` (or ``.pt``/``.pth``) is registered as ``<stem>``; a
``supernet`` family checkpoint is also registered once per width as ``slim-<w>`` when its stem
is ``supernet`` (``<stem>-slim-<w>`` otherwise), e.g. ``slim-0.25`` ... ``slim-1.0``. Listing
reads only the safetensors JSON header (no torch import); weights load on first use. A file
whose header cannot be read is still listed, with the reason, and fails with that reason when
used, so one broken file never hides the others.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from ..registry import Registry

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"
SUFFIXES = (".safetensors", ".pt", ".pth")


class CheckpointFactory:
    """Registry target: ``factory(**opts)`` loads the checkpoint and returns its separator."""

    def __init__(self, path: Path, name: str, width: float | None = None) -> None:
        self.path = path
        self.name = name
        self.width = width

    def __call__(self, name: str | None = None, width: float | None = None, betas: Any = None):
        from .checkpoint import load_checkpoint, separator_from_checkpoint
        if self.width is not None:
            if width is not None and float(width) != self.width:
                raise ValueError(f"model {self.name!r} runs at width {self.width}; got width={width}")
            width = self.width
        return separator_from_checkpoint(load_checkpoint(self.path), name=name or self.name,
                                         width=width, betas=betas)

    def __repr__(self) -> str:
        return f"CheckpointFactory({str(self.path)!r}, width={self.width})"


def _quick_header(path: Path) -> dict[str, Any]:
    """Family, config and provenance of a checkpoint, cheaply; raises ValueError when unreadable."""
    if path.suffix == ".safetensors":
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ValueError("truncated file")
            (n,) = struct.unpack("<Q", raw)
            if n > 100_000_000:
                raise ValueError("corrupt header")
            meta = json.loads(fh.read(n)).get("__metadata__") or {}
        if "dsnbench_format" not in meta:
            raise ValueError("not a dsnbench checkpoint")
        return {"family": meta.get("family"), "config": json.loads(meta.get("config", "{}")),
                "provenance": json.loads(meta.get("provenance", "{}"))}
    from .checkpoint import read_header
    return read_header(path)


def _describe_config(cfg: dict[str, Any]) -> str:
    try:
        return (f"N={cfg['enc_channels']} d={cfg['d_model']} K={cfg['chunk_size']} B={cfg['n_blocks']} "
                f"{cfg['n_intra']}+{cfg['n_inter']} layers {cfg['n_heads']} heads FFN {cfg['ffn_dim']}")
    except (KeyError, TypeError):
        return "?"


def register_bundled(registry: Registry, folder: Path = CHECKPOINT_DIR) -> list[str]:
    """Register every checkpoint in ``folder``; returns the names added (none if no folder)."""
    added: list[str] = []
    if not folder.is_dir():
        return added
    for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()):
        stem = path.stem
        if stem in registry:  # a built-in of that name exists: keep both, visibly
            stem = f"{stem}-checkpoint"
        try:
            head = _quick_header(path)
        except Exception as exc:  # listed with its reason; loading it gives the full error
            registry.register(stem, CheckpointFactory(path, stem), family="?",
                              help=f"bundled checkpoint {path.name} (unreadable: {exc})")
            added.append(stem)
            continue
        family = head.get("family")
        cfg = head.get("config") or {}
        prov = head.get("provenance") or {}
        meta = {"family": family, "config": _describe_config(cfg),
                "widths": cfg.get("static_width") or cfg.get("widths")}
        if prov.get("val_si_snri") is not None:
            meta["val_si_snri"] = f"{float(prov['val_si_snri']):.2f} dB"
        if prov.get("steps") is not None:
            meta["steps"] = prov["steps"]
        registry.register(stem, CheckpointFactory(path, stem),
                          help=f"bundled {family} checkpoint {path.name}", **meta)
        added.append(stem)
        if family == "supernet":
            for w in cfg.get("widths", ()):
                alias = f"slim-{float(w)}" if stem == "supernet" else f"{stem}-slim-{float(w)}"
                registry.register(alias, CheckpointFactory(path, alias, float(w)),
                                  help=f"supernet {path.name} run at width {float(w)} for every segment",
                                  family="slim", config=meta["config"], widths=float(w))
                added.append(alias)
    return added
