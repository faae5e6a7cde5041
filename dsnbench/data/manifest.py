"""Dataset manifests: one record per utterance, validated and hashed (design section 4).

A manifest is what every dataset reader returns. Paths are stored absolute; the hash uses
paths relative to the root, so the same data in another folder hashes the same.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np


class DatasetError(ValueError):
    """A dataset that cannot be used; ``str()`` is one line naming the file and the problem."""


@dataclass(frozen=True)
class Utterance:
    """One test item: a mixture, its reference sources and (optionally) its noise."""

    utt_id: str
    mixture: Path
    sources: tuple[Path, ...]
    sample_rate: int
    n_samples: int
    noise: Path | None = None
    meta: tuple[tuple[str, Any], ...] = ()

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def meta_dict(self) -> dict[str, Any]:
        return dict(self.meta)


@dataclass
class Manifest:
    """The utterances of one dataset, in a fixed order (sorted by id)."""

    name: str
    root: Path
    utterances: list[Utterance]
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    @property
    def sample_rate(self) -> int:
        rates = {u.sample_rate for u in self.utterances}
        if len(rates) != 1:
            raise DatasetError(f"{self.root}: mixed sample rates {sorted(rates)}")
        return rates.pop()

    def limit(self, n: int | None) -> "Manifest":
        if n is None:
            return self
        return Manifest(self.name, self.root, self.utterances[:n], dict(self.info), list(self.warnings))

    def hash(self) -> str:
        """Hash of ids, root-relative paths, lengths and sample rates (order-independent)."""
        h = hashlib.sha256()
        for u in sorted(self.utterances, key=lambda u: u.utt_id):
            rel = [_rel(u.mixture, self.root)] + [_rel(p, self.root) for p in u.sources]
            if u.noise is not None:
                rel.append(_rel(u.noise, self.root))
            h.update(json.dumps([u.utt_id, rel, u.n_samples, u.sample_rate]).encode())
        return h.hexdigest()[:16]

    def content_fingerprint(self) -> str:
        """:meth:`hash` plus what the files hold: every file's size and its first and last
        4 KiB (the header and the first and last samples, which audio regenerated under the same
        names changes). Every run start and resume reads it, so it reads 8 KiB a file, not the
        whole file (WSJ0-2mix tt at 8 kHz: ~70 MB, not ~700). An unreadable file is a
        DatasetError naming it."""
        h = hashlib.sha256(self.hash().encode())
        for u in sorted(self.utterances, key=lambda u: u.utt_id):
            for p in [u.mixture, *u.sources, *([u.noise] if u.noise is not None else [])]:
                try:
                    file_fingerprint(Path(p), h)
                except OSError as exc:
                    raise DatasetError(f"{p}: cannot read ({exc.strerror})") from None
        return h.hexdigest()[:16]


#: bytes read from each end of every file by :meth:`Manifest.content_fingerprint`
FINGERPRINT_BYTES = 4096


def file_fingerprint(path: Path, h: Any) -> None:
    """Feed ``h`` a file's size and its first and last :data:`FINGERPRINT_BYTES` bytes."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(str(size).encode())
        h.update(f.read(FINGERPRINT_BYTES))
        if size > 2 * FINGERPRINT_BYTES:
            f.seek(size - FINGERPRINT_BYTES)
        h.update(f.read(FINGERPRINT_BYTES))


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def read_audio(path: Path, expected_rate: int | None = None) -> np.ndarray:
    """Read a mono file as float64 in [-1, 1]. Raises DatasetError naming the file.

    Shape: returns ``[T]``.
    """
    import soundfile as sf  # here, not at the top: the trainer imports this package without it
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, ...
        raise DatasetError(f"{path}: cannot read audio ({exc})") from None
    if data.shape[1] != 1:
        raise DatasetError(f"{path}: expected mono audio, found {data.shape[1]} channels")
    if expected_rate is not None and rate != expected_rate:
        raise DatasetError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz")
    return data[:, 0]


def load_utterance(utt: Utterance) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read mixture ``[T]``, sources ``[n_src, T]`` and noise ``[T]`` (or None) of one utterance."""
    mix = read_audio(utt.mixture, utt.sample_rate)
    srcs = [read_audio(p, utt.sample_rate) for p in utt.sources]
    noise = read_audio(utt.noise, utt.sample_rate) if utt.noise is not None else None
    for p, s in zip(utt.sources, srcs):
        if s.shape[0] != mix.shape[0]:
            raise DatasetError(f"{p}: {s.shape[0]} samples, but the mixture {utt.mixture.name} has {mix.shape[0]}")
    if noise is not None and noise.shape[0] != mix.shape[0]:
        raise DatasetError(f"{utt.noise}: {noise.shape[0]} samples, but the mixture has {mix.shape[0]}")
    return mix, np.stack(srcs), noise


def audio_info(path: Path) -> Any:
    """soundfile's header of ``path`` (frames, samplerate, channels, subtype). Raises
    DatasetError naming the file."""
    import soundfile as sf
    try:
        return sf.info(str(path))
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read audio header ({exc})") from None


def records_to_jsonable(manifest: Manifest) -> list[dict[str, Any]]:
    out = []
    for u in manifest.utterances:
        d = asdict(u)
        d["mixture"] = str(u.mixture)
        d["sources"] = [str(p) for p in u.sources]
        d["noise"] = str(u.noise) if u.noise else None
        d["meta"] = dict(u.meta)
        out.append(d)
    return out


def iter_ids(paths: Iterable[Path]) -> list[str]:
    return sorted(p.stem for p in paths)
