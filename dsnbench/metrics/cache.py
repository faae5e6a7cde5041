"""On-disk cache of input metrics (the ``*_input`` columns), so a sweep computes them once.

Input metrics depend only on the dataset and the metric settings, never on the model, so a
sweep of ten models over one dataset needs them once. API (used by the run loop in the main
process; worker processes only compute)::

    cache = InputCache(manifest.hash(), suite.settings())        # one per (dataset, settings)
    fp = audio_fingerprint(mixture, sources)                      # optional content check
    inputs = cache.get(utt.utt_id, fingerprint=fp)               # UtteranceMetrics or None
    if inputs is None:
        inputs = suite.input_values(mixture, sources)             # (or in a worker)
        cache.put(utt.utt_id, inputs, fingerprint=fp)
    ...
    cache.flush()                                                 # at the end (and any time)

Layout: ``$DSNBENCH_CACHE/input-metrics/<key>.json`` (default ``~/.cache/dsnbench``), one file
per key, where the key hashes the manifest hash, the suite settings, the versions of the
libraries the chosen metrics compute with (each metric's registration names them: pesq,
pystoi, numpy and scipy for the shipped ones) and this file's format version.
``DSNBENCH_CACHE=off`` disables caching (``get`` always misses, ``flush`` writes nothing).

Safety: each flush takes an advisory lock (``fcntl.flock`` on ``<key>.lock``), re-reads the
file, merges its entries with this process's new ones and replaces the file atomically (write
to a temporary file, fsync, ``os.replace``). Two processes writing the same key therefore never
lose each other's entries or leave a torn file; a reader sees the old or the new file. A
corrupt or foreign file is ignored (treated as empty) and rewritten on the next flush.

With a ``fingerprint`` (a hash of the audio itself, :func:`audio_fingerprint`), an entry stored
for other audio under the same utterance id (a dataset regenerated in place) is a miss, not a
stale value.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .spec import METRICS, distributions
from .suite import UtteranceMetrics

FORMAT_VERSION = 1


def cache_root() -> Path | None:
    """The cache folder from ``$DSNBENCH_CACHE`` (``off`` disables), else ``~/.cache/dsnbench``."""
    env = os.environ.get("DSNBENCH_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "none", "disabled", ""):
        return None
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dsnbench"


def versions(names: Any) -> dict[str, str]:
    """Installed version of each distribution in ``names`` ("not installed" when missing)."""
    import importlib.metadata as md
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cache_key(manifest_hash: str, settings: dict[str, Any]) -> str:
    """The file key of one (dataset, metric settings, library versions) combination; the
    libraries are those of the metrics in ``settings["metrics"]`` (default: every metric)."""
    names = [n for n in settings.get("metrics") or METRICS.in_order() if n in METRICS]
    blob = json.dumps({"manifest": manifest_hash, "settings": settings, "libs": versions(distributions(names)),
                       "format": FORMAT_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def audio_fingerprint(mixture: np.ndarray, sources: np.ndarray) -> str:
    """A short content hash of an utterance's audio (float64 samples and shapes).

    Shape: ``mixture [T]``, ``sources [n_src, T]``.
    """
    h = hashlib.blake2b(digest_size=12)
    for a in (mixture, sources):
        arr = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _encode(m: UtteranceMetrics, fingerprint: str | None) -> dict:
    def num(v: float) -> float | None:
        return None if v is None or not math.isfinite(v) else float(v)
    return {"values": {k: num(v) for k, v in m.values.items()},
            "errors": dict(m.errors),
            "per_source": {k: [num(x) for x in v] for k, v in m.per_source.items()},
            "fingerprint": fingerprint}


def _decode(d: dict) -> UtteranceMetrics:
    def num(v: Any) -> float:
        return math.nan if v is None else float(v)
    return UtteranceMetrics({k: num(v) for k, v in d["values"].items()}, None, dict(d.get("errors", {})),
                            {k: [num(x) for x in v] for k, v in d.get("per_source", {}).items()})


class InputCache:
    """Input metrics of one dataset under one set of metric settings; see the module docstring.

    ``directory`` overrides the cache root (tests); ``enabled=False`` makes a cache that never
    hits and never writes.
    """

    def __init__(self, manifest_hash: str, settings: dict[str, Any], directory: str | Path | None = None,
                 enabled: bool = True) -> None:
        root = Path(directory) if directory is not None else cache_root()
        self.enabled = enabled and root is not None
        self.key = cache_key(manifest_hash, settings)
        self.manifest_hash = manifest_hash
        self.settings = settings
        self.path = (root / "input-metrics" / f"{self.key}.json") if root is not None else None
        self._entries: dict[str, dict] = {}
        self._new: dict[str, dict] = {}
        self.hits = 0
        self.misses = 0
        if self.enabled:
            self._entries = self._read()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, utt_id: str, fingerprint: str | None = None) -> UtteranceMetrics | None:
        """The cached input metrics of ``utt_id``, or None (a miss)."""
        d = self._entries.get(utt_id) if self.enabled else None
        if d is None or (fingerprint is not None and d.get("fingerprint") not in (None, fingerprint)):
            self.misses += 1
            return None
        try:
            out = _decode(d)
        except (KeyError, TypeError, ValueError, AttributeError):
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, utt_id: str, metrics: UtteranceMetrics, fingerprint: str | None = None) -> None:
        """Remember ``metrics`` for ``utt_id`` (written at the next :meth:`flush`)."""
        if not self.enabled:
            return
        d = _encode(metrics, fingerprint)
        self._entries[utt_id] = d
        self._new[utt_id] = d

    def flush(self) -> None:
        """Merge this process's new entries into the file (locked, atomic). Never raises OSError:
        a cache that cannot be written only costs time, so the failure is ignored."""
        if not self.enabled or not self._new or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock():
                merged = self._read()
                merged.update(self._new)
                doc = {"format": FORMAT_VERSION, "manifest_hash": self.manifest_hash,
                       "settings": self.settings, "entries": merged}
                from ..results import atomic_write_bytes
                atomic_write_bytes(self.path, json.dumps(doc, sort_keys=True).encode())
            self._entries.update(merged)
            self._new.clear()
        except OSError:
            pass

    # -- internals ---------------------------------------------------------------------
    def _read(self) -> dict[str, dict]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            doc = json.loads(self.path.read_text())
            if doc.get("format") != FORMAT_VERSION or not isinstance(doc.get("entries"), dict):
                return {}
            return dict(doc["entries"])
        except (OSError, ValueError, AttributeError):
            return {}

    @contextmanager
    def _lock(self) -> Iterator[None]:
        assert self.path is not None
        lock_path = self.path.with_suffix(".lock")
        try:
            import fcntl
        except ImportError:  # not POSIX: the atomic replace still prevents torn files
            yield
            return
        with open(lock_path, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
