"""Experiment and training documents: YAML mappings read from a file, and ``--set key=value``
overrides applied to them (dotted paths, list indices). Used by the run configuration
(:mod:`dsnbench.run.config`) and the training configuration alike."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise UserError(f"--set needs key=value, got {text!r}")
    key, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as exc:
        raise UserError(f"--set {key}: cannot parse value {raw!r} ({exc.__class__.__name__})") from None
    return key.strip().split("."), value


def apply_override(doc: dict, path: list[str], value: Any, text: str) -> None:
    node: Any = doc
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            try:
                idx = int(part)
                node[idx]
            except (ValueError, IndexError):
                raise UserError(f"--set {text}: {part!r} is not an index of a list of {len(node)}") from None
            if last:
                node[idx] = value
            else:
                if isinstance(node[idx], str):  # a bare name becomes a mapping
                    node[idx] = {"name": node[idx]}
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise UserError(f"--set {text}: cannot descend into {part!r}")


def load_document(path: str | Path, kind: str = "experiment file") -> dict:
    """Read a YAML mapping (an experiment or training config); one-line UserError otherwise."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: {kind} not found")
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise UserError(f"{p}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{p}: a {kind} is a mapping of keys, got {type(doc).__name__}")
    return doc
