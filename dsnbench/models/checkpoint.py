"""Self-describing, safe checkpoints of the dual-path DSN family.

A checkpoint is data, never code. Two containers are accepted:

- **safetensors** (preferred; ``.safetensors``): the weights as tensors, and in the header's
  metadata (string -> string) the keys ``dsnbench_format`` (format version), ``architecture``,
  ``family``, ``config`` (JSON of :class:`DSNConfig`), ``provenance`` (JSON) and
  ``operating_points`` (JSON list or null).
- **torch** (``.pt``/``.pth``): ``torch.save`` of one plain dict with the same keys plus
  ``state_dict``; read with ``torch.load(weights_only=True)``, which refuses any pickled object
  other than tensors and plain containers, so a file carrying code is refused before any of it
  runs.

``family`` is what the weights are: ``"static"`` (a network trained at one fixed width;
``config.static_width`` says which), ``"supernet"`` (a slimmable supernet; run as slim-w) or
``"dsn"`` (a supernet with a trained gate).

``provenance`` must have the keys of :data:`PROVENANCE_KEYS` (value None where truly unknown):
``training_config`` (the training settings), ``data`` (what it was trained on), ``steps``,
``val_si_snr`` and ``val_si_snri`` (final validation, dB) and ``code_version`` (filled in
by :func:`save_checkpoint`: dsnbench version and git commit).

Loading (:func:`load_checkpoint`) refuses, with a one-line :class:`CheckpointError` that names
the file: a missing or truncated file, a file of an unknown container, a file without our
header (another toolkit's model: use an adapter), another architecture, a newer format version,
an unknown family, a config that does not parse, and weights that do not match the config
(missing keys, unexpected keys and shape mismatches, all in the one line).
"""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from .dualpath import DSNConfig, DualPathDSN

FORMAT_VERSION = 1
ARCHITECTURE = "dsnbench.dualpath-dsn"
FAMILIES = ("static", "supernet", "dsn")
PROVENANCE_KEYS = ("training_config", "data", "steps", "val_si_snr", "val_si_snri", "code_version")
_HEADER_KEYS = ("dsnbench_format", "architecture", "family", "config", "provenance", "operating_points")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; ``str()`` is one line naming the file."""


@dataclass
class Checkpoint:
    """A loaded, validated checkpoint.

    ``state_dict`` matches ``config`` exactly (checked on load).
    """

    path: str
    family: str
    config: DSNConfig
    state_dict: dict[str, torch.Tensor]
    provenance: dict[str, Any]
    operating_points: list[float] | None = None
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def build_model(self) -> DualPathDSN:
        """The network with these weights, in eval mode, float32."""
        model = DualPathDSN(self.config)
        model.load_state_dict(self.state_dict, strict=True)
        return model.float().eval()


# --------------------------------------------------------------------------- saving
#: at most this many changed files are named in ``code_version()["git_dirty_files"]``
DIRTY_FILES_SHOWN = 20


def code_version() -> dict[str, Any]:
    """dsnbench version, the git commit of the checkout and whether tracked files differ from
    it (``git_dirty``); the git fields are None outside a checkout. When dirty, the changed
    tracked files are named (``git_dirty_files``, the first :data:`DIRTY_FILES_SHOWN` in path
    order, then ``"... and N more"``), so a reader can tell changed code from, say, the
    checkpoints an earlier training just exported."""
    from .. import __version__
    commit = dirty = None
    changed: list[str] = []
    try:
        root = Path(__file__).resolve().parents[2]
        res = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if res.returncode == 0:
            commit = res.stdout.strip()
            st = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
            if st.returncode == 0:
                changed = sorted(line[3:] for line in st.stdout.splitlines() if line.strip())
                dirty = bool(changed)
    except (OSError, subprocess.SubprocessError):
        commit = dirty = None
        changed = []
    out: dict[str, Any] = {"dsnbench": __version__, "git_commit": commit, "git_dirty": dirty}
    if changed:
        more = len(changed) - DIRTY_FILES_SHOWN
        out["git_dirty_files"] = changed[:DIRTY_FILES_SHOWN] + ([f"... and {more} more"] if more > 0 else [])
    return out


def save_checkpoint(path: str | os.PathLike, model: DualPathDSN, family: str,
                    provenance: dict[str, Any],
                    operating_points: Sequence[float] | None = None) -> Path:
    """Write ``model`` as a checkpoint; the container follows the suffix (.safetensors or .pt).

    ``provenance`` needs every key of :data:`PROVENANCE_KEYS` except ``code_version`` (added
    here when absent); values must be JSON-serialisable. ``operating_points``: the gate betas a
    DSN is evaluated at by default (dsn family only).
    """
    path = Path(path)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if family == "static" and model.config.static_width is None:
        raise ValueError("a 'static' checkpoint needs a config with static_width set (DSNConfig.static_at)")
    if family != "static" and model.config.static_width is not None:
        raise ValueError(f"a {family!r} checkpoint needs a slimmable config (static_width None)")
    if operating_points is not None and family != "dsn":
        raise ValueError("operating_points belong to 'dsn' checkpoints only")
    prov = dict(provenance)
    prov.setdefault("code_version", code_version())
    missing = [k for k in PROVENANCE_KEYS if k not in prov]
    if missing:
        raise ValueError(f"provenance lacks {', '.join(missing)} (use None for unknown)")
    header = {
        "dsnbench_format": str(FORMAT_VERSION),
        "architecture": ARCHITECTURE,
        "family": family,
        "config": model.config.to_json(),
        "provenance": json.dumps(prov, sort_keys=True),
        "operating_points": json.dumps(None if operating_points is None
                                       else [float(b) for b in operating_points]),
    }
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous().clone()
               for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file(tensors, str(tmp), metadata=header)
    elif path.suffix in (".pt", ".pth"):
        doc: dict[str, Any] = dict(header)
        doc["dsnbench_format"] = FORMAT_VERSION
        doc["config"] = model.config.to_dict()
        doc["provenance"] = prov
        doc["operating_points"] = json.loads(header["operating_points"])
        doc["state_dict"] = tensors
        torch.save(doc, str(tmp))
    else:
        raise ValueError(f"{path}: checkpoint suffix must be .safetensors, .pt or .pth")
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- loading
def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """Our header of a checkpoint, without reading the weights (cheap; no torch for safetensors).

    Returns a dict with ``format``, ``family``, ``config`` (dict), ``provenance`` (dict),
    ``operating_points``; raises :class:`CheckpointError`.
    """
    path = str(path)
    kind = _container(path)
    if kind == "safetensors":
        meta, _ = _safetensors_header(path)
        return _parse_header(path, meta, from_json=True)
    doc = _torch_load(path)
    return _parse_header(path, doc, from_json=False)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint (see the module docstring for what is refused)."""
    path = str(path)
    kind = _container(path)
    if kind == "safetensors":
        meta, _ = _safetensors_header(path)
        head = _parse_header(path, meta, from_json=True)
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(path, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: unreadable safetensors file ({_one_line(exc)})") from None
    else:
        doc = _torch_load(path)
        head = _parse_header(path, doc, from_json=False)
        state = doc.get("state_dict")
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(f"{path}: 'state_dict' is missing or not a dict of tensors")
    try:
        config = DSNConfig.from_dict(head["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: config does not describe a DSN ({_one_line(exc)})") from None
    _check_family(path, head, config)
    _check_weights(path, config, state)
    return Checkpoint(path=path, family=head["family"], config=config,
                      state_dict={k: v.to(torch.float32) for k, v in state.items()},
                      provenance=head["provenance"], operating_points=head["operating_points"],
                      format_version=head["format"])


def _container(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            start = fh.read(9)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    # safetensors first: an 8-byte little-endian header length, then the JSON header. Its first
    # byte is the length's low byte, which may be 0x80 like a pickle's protocol opcode, so the
    # pickle test must not come first. A pickle never has "{" at byte 8 after a sane length.
    if len(start) == 9 and start[8:9] == b"{" and struct.unpack("<Q", start[:8])[0] < 100_000_000:
        return "safetensors"
    if start[:4] == b"PK\x03\x04" or start[:1] == b"\x80":
        return "torch"
    if not start:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    raise CheckpointError(f"{path}: not a checkpoint (neither safetensors nor a torch.save file)")


def _safetensors_header(path: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Metadata and tensor table of a safetensors file, checking the file is complete."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > 100_000_000 or 8 + n > size:
            raise CheckpointError(f"{path}: truncated or corrupt safetensors file "
                                  f"(header of {n} bytes, file of {size})")
        try:
            table = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CheckpointError(f"{path}: corrupt safetensors header (not JSON)") from None
    if not isinstance(table, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header")
    meta = table.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{path}: corrupt safetensors header (__metadata__ is not a mapping of strings)")
    end = 0
    for name, t in table.items():
        offsets = t.get("data_offsets") if isinstance(t, dict) else None
        shape = t.get("shape") if isinstance(t, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            raise CheckpointError(f"{path}: corrupt safetensors header (tensor {name!r}: data_offsets "
                                  f"{offsets!r} is not [start, end])")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise CheckpointError(f"{path}: corrupt safetensors header (tensor {name!r}: shape {shape!r})")
        end = max(end, offsets[1])
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: truncated safetensors file ({size} bytes, "
                              f"its header promises {8 + n + end})")
    return meta, table


def _torch_load(path: str) -> dict[str, Any]:
    import pickle
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            # from bytes, not the path: torch.load picks a reader by the file's name, and a
            # pickle named .safetensors must still meet the pickle checks (never run code)
            with open(path, "rb") as fh:
                doc = torch.load(io.BytesIO(fh.read()), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _one_line(exc)
        detail = next((part.strip() for part in str(exc).splitlines()
                       if "GLOBAL" in part or "Unsupported" in part), reason)
        raise CheckpointError(f"{path}: refused: the file holds pickled objects other than "
                              f"tensors and plain containers, which could run code ({detail[:160]})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt torch file ({_one_line(exc)[:160]})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{path}: not a dsnbench checkpoint (holds a {type(doc).__name__}, not a dict)")
    return doc


def _parse_header(path: str, doc: dict[str, Any], from_json: bool) -> dict[str, Any]:
    if "dsnbench_format" not in doc:
        raise CheckpointError(f"{path}: not a dsnbench checkpoint (no 'dsnbench_format' entry); "
                              "for another toolkit's model use an adapter")
    try:
        version = int(doc["dsnbench_format"])
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: bad format version {doc['dsnbench_format']!r}") from None
    if version < 1:
        raise CheckpointError(f"{path}: bad format version {doc['dsnbench_format']!r} (versions start at 1)")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version} is newer than this dsnbench "
                              f"reads ({FORMAT_VERSION}); upgrade dsnbench")
    missing = [k for k in _HEADER_KEYS if k not in doc]
    if missing:
        raise CheckpointError(f"{path}: checkpoint header lacks {', '.join(missing)}")
    if doc["architecture"] != ARCHITECTURE:
        raise CheckpointError(f"{path}: architecture {doc['architecture']!r} is not supported "
                              f"(this loader reads {ARCHITECTURE!r})")
    if doc["family"] not in FAMILIES:
        raise CheckpointError(f"{path}: unknown family {doc['family']!r} (known: {', '.join(FAMILIES)})")
    out = {"format": version, "family": doc["family"]}
    for key in ("config", "provenance", "operating_points"):
        value = doc[key]
        if from_json:
            try:
                value = json.loads(value)
            except (TypeError, json.JSONDecodeError):
                raise CheckpointError(f"{path}: header entry {key!r} is not valid JSON") from None
        out[key] = value
    if not isinstance(out["config"], dict):
        raise CheckpointError(f"{path}: header entry 'config' is not a mapping")
    if not isinstance(out["provenance"], dict):
        raise CheckpointError(f"{path}: header entry 'provenance' is not a mapping")
    ops = out["operating_points"]
    if ops is not None and (not isinstance(ops, list) or not all(isinstance(b, (int, float)) for b in ops)):
        raise CheckpointError(f"{path}: header entry 'operating_points' is not a list of numbers")
    return out


#: the training stage each family comes from (provenance ``stage``)
_STAGE_OF_FAMILY = {"static": "static", "supernet": "supernet", "dsn": "gate"}


def _check_family(path: str, head: dict[str, Any], config: DSNConfig) -> None:
    """The family label agrees with the config (static <-> a static width) and with the
    training stage the provenance records (a supernet's weights are not a trained DSN)."""
    family = head["family"]
    if (family == "static") != (config.static_width is not None):
        what = "a static width" if config.static_width is not None else "no static width"
        raise CheckpointError(f"{path}: labelled {family!r}, but its config has {what}")
    stage = head["provenance"].get("stage")
    if stage is not None and family in _STAGE_OF_FAMILY and _STAGE_OF_FAMILY[family] != stage:
        raise CheckpointError(f"{path}: labelled {family!r}, but its provenance says the "
                              f"{stage!r} training stage made it (a {family!r} comes from {_STAGE_OF_FAMILY[family]!r})")


def _check_weights(path: str, config: DSNConfig, state: dict[str, torch.Tensor]) -> None:
    """Compare the file's weights with what ``config`` builds; one line listing every difference."""
    not_float = sorted(k for k, v in state.items() if not v.is_floating_point())
    if not_float:
        raise CheckpointError(f"{path}: weights must be floating point; {len(not_float)} are not "
                              f"({_some([f'{k} {state[k].dtype}' for k in not_float])})")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in DualPathDSN(config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [f"{k} file {list(got[k])} vs config {list(expected[k])}"
              for k in sorted(set(expected) & set(got)) if got[k] != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s): {_some(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {_some(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es): {_some(shapes)}")
    if problems:
        raise CheckpointError(f"{path}: weights do not match its config: " + "; ".join(problems))


def _some(items: list[str], n: int = 4) -> str:
    text = ", ".join(items[:n])
    return text + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# --------------------------------------------------------------------------- separators
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth")


def separator_from_checkpoint(ckpt: Checkpoint, name: str | None = None, width: float | None = None,
                              betas: Sequence[float] | None = None):
    """The separator a checkpoint's family implies.

    ``static`` -> :class:`StaticSeparator`; ``supernet`` -> :class:`SlimSeparator` at ``width``
    (default 1.0); ``dsn`` -> :class:`DSNSeparator` with ``betas`` (default: the checkpoint's
    operating points), or, given ``width``, its supernet as slim-w.
    """
    from .separators import DSNSeparator, SlimSeparator, StaticSeparator
    model = ckpt.build_model()
    common = {"provenance": ckpt.provenance, "source": ckpt.path}
    stem = Path(ckpt.path).stem
    if ckpt.family == "static":
        if width is not None and abs(float(width) - float(ckpt.config.static_width or 0)) > 1e-9:
            raise CheckpointError(f"{ckpt.path}: a static network of width {ckpt.config.static_width} "
                                  f"cannot run at width {width}")
        if betas is not None:
            raise CheckpointError(f"{ckpt.path}: a static network has no operating points (betas)")
        return StaticSeparator(model, name=name or stem, **common)
    if ckpt.family == "supernet" or width is not None:
        if betas is not None:
            raise CheckpointError(f"{ckpt.path}: betas apply to a gated DSN, not to slim-w")
        w = 1.0 if width is None else float(width)
        try:
            return SlimSeparator(model, width=w, name=name or f"{stem}@slim-{w}", **common)
        except ValueError as exc:
            raise CheckpointError(f"{ckpt.path}: {exc}") from None
    return DSNSeparator(model, betas=betas if betas is not None else ckpt.operating_points,
                        name=name or stem, **common)
