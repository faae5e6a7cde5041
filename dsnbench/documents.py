"""Experiment and training documents: YAML mappings read from a file, and ``--set key=value``
overrides applied to them (dotted paths, list indices). Used by the run configuration
(:mod:`dsnbench.run.config`) and the training configuration alike."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

#: the most values (scalars, lists and mappings, counted as if every YAML alias were written out)
#: a document may hold, and the largest file read: an alias bomb of under 1 KB expands to
#: billions of values, and everything downstream (hashing, sweeps) would expand it
MAX_VALUES = 200_000
MAX_BYTES = 4 * 2**20


def expanded_size(doc: Any, limit: int = MAX_VALUES) -> int:
    """How many values ``doc`` holds with its shared parts (YAML aliases) counted every time
    they appear; counting stops just past ``limit``. Linear in the number of distinct objects."""
    sizes: dict[int, int] = {}

    def size(x: Any) -> int:
        if not isinstance(x, (list, dict)):
            return 1
        known = sizes.get(id(x))
        if known is not None:
            return known
        sizes[id(x)] = limit + 1          # a cycle counts as too large
        items = list(x.keys()) + list(x.values()) if isinstance(x, dict) else x
        total = 1
        for item in items:
            total += size(item)
            if total > limit:
                break
        sizes[id(x)] = min(total, limit + 1)
        return sizes[id(x)]
    return size(doc)


def check_size(doc: Any, where: str) -> None:
    """A one-line UserError when ``doc`` expands past :data:`MAX_VALUES` values."""
    if expanded_size(doc) > MAX_VALUES:
        raise UserError(f"{where}: expands to more than {MAX_VALUES} values (nested YAML aliases?); refusing")


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise UserError(f"--set needs key=value, got {text!r}")
    key, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as exc:
        raise UserError(f"--set {key}: cannot parse value {raw!r} ({exc.__class__.__name__})") from None
    check_size(value, f"--set {key}")
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
        raise UserError(f"{p}: {kind} not found" if not p.exists() else f"{p}: {kind} is not a regular file")
    if p.stat().st_size > MAX_BYTES:
        raise UserError(f"{p}: {p.stat().st_size} bytes, larger than a {kind} can be ({MAX_BYTES} bytes)")
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise UserError(f"{p}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{p}: a {kind} is a mapping of keys, got {type(doc).__name__}")
    check_size(doc, str(p))
    return doc
