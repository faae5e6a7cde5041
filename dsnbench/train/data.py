"""Training data: on-the-fly mixing from LibriSpeech train-clean-100 speakers (the mini
scale) and random crops from a published training layout (WSJ0-2mix / WHAM! ``tr`` and ``cv``,
the paper scale).

Every batch is a pure function of ``(seed, step)``: the trainer asks for batch ``step`` and
gets the same tensors in a fresh process, which is what makes resuming exact.

Speaker hygiene: only ``librispeech/train-clean-100`` is ever read here (test-other is the
evaluation corpus and is refused). The validation speakers are a fixed, disjoint subset of the
train-clean-100 speakers (every ``val_every``-th speaker in sorted order), and the noise files
are split by time (the first ``noise_train_share`` of each recording for training, the rest for
validation).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

from ..errors import UserError
from . import mixing

TRAIN_SUBSET = "train-clean-100"
FORBIDDEN_SUBSETS = ("test-other", "test-clean", "dev-other", "dev-clean")


@dataclass(frozen=True)
class DataConfig:
    """What the training data is. ``source`` is ``librispeech-mix`` (on-the-fly mixing from
    ``root``, the project's ``../shared/data``) or a layout (``wsj0-2mix``, ``wham``) read from
    ``root`` with its ``tr``/``cv`` splits."""

    source: str = "librispeech-mix"
    root: str = "../shared/data"
    sample_rate: int = 8000
    crop_s: float = 3.0
    batch_size: int = 4
    #: share of noisy (WHAM!-level) examples; the rest are clean (WSJ0-2mix-level)
    p_noisy: float = 0.5
    #: share of examples whose two speakers only partly overlap (one shifted, both whole)
    p_partial: float = 0.5
    #: overlap of a partial example as a share of each speaker's span (uniform in the range);
    #: a negative value -g leaves a silent gap of g times a span between the two speakers, so
    #: the example has silence, one-speaker and (for g < 0 only) no overlap segments
    overlap_range: tuple[float, float] = (0.2, 1.0)
    #: share of noisy examples whose noise also carries babble of other training speakers
    p_babble: float = 0.5
    babble_speakers: tuple[int, int] = (4, 6)
    #: level of the babble relative to the real noise it is added to (dB, uniform)
    babble_rel_db: tuple[float, float] = (-12.0, -6.0)
    noise_snr_db: tuple[float, float] = (-6.0, 3.0)
    max_rel_gain_db: float = 5.0
    #: random overall level of the mixture (dB around the nominal level)
    level_db: tuple[float, float] = (-10.0, 5.0)
    val_every: int = 10
    noise_train_share: float = 0.8
    n_val: int = 24
    val_s: float = 4.0
    val_seed: int = 20240601
    # layout sources only
    mode: str = "min"
    task: str = "sep_noisy"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataConfig":
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(d) - known)
        if bad:
            raise UserError(f"data: unknown key(s) {', '.join(bad)} (known: {', '.join(sorted(known))})")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        out = cls(**d)
        lo, hi = out.overlap_range
        if not -1.0 <= lo <= hi <= 1.0:
            raise UserError(f"data.overlap_range must satisfy -1 <= low <= high <= 1, got {list(out.overlap_range)}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class Batch:
    """One training batch.

    Shape: ``mix [B, T]``, ``sources [B, C, T]``; ``noisy [B]`` bool.
    """

    mix: torch.Tensor
    sources: torch.Tensor
    noisy: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))


def resolve_root(root: str, base_dir: Path | None) -> Path:
    """``data.root`` with ``$VARS`` expanded; relative paths start at ``base_dir``."""
    expanded = os.path.expandvars(os.path.expanduser(root))
    if "$" in expanded:
        raise UserError(f"data.root {root!r}: environment variable not set (e.g. export WSJ0_2MIX_ROOT=/path/to/2speakers)")
    p = Path(expanded)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p


def _load_resampled(path: Path, sample_rate: int) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=False)
    if x.ndim != 1:
        x = x.mean(axis=1)
    if sr != sample_rate:
        g = np.gcd(sr, sample_rate)
        x = resample_poly(x.astype(np.float64), sample_rate // g, sr // g)
    return np.ascontiguousarray(x, dtype=np.float32)


def _crop(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if x.size <= n:
        return np.pad(x, (0, n - x.size))
    start = int(rng.integers(0, x.size - n + 1))
    return x[start:start + n]


def _step_rng(seed: int, step: int, stream: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(step), int(stream)]))


class LibriMixSource:
    """In-memory pool of train-clean-100 speakers and noise, resampled once, and the mixing
    procedure that turns them into examples.

    ``split`` is ``train`` or ``val``; the two use disjoint speakers and disjoint noise time
    ranges.
    """

    def __init__(self, cfg: DataConfig, split: str, base_dir: Path | None = None) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be train or val, got {split!r}")
        root = resolve_root(cfg.root, base_dir)
        speech_dir = root / "librispeech" / TRAIN_SUBSET
        if not speech_dir.is_dir():
            raise UserError(f"{speech_dir}: training speech folder missing (data.root must hold librispeech/{TRAIN_SUBSET})")
        files = sorted(speech_dir.glob("*.flac"))
        if not files:
            raise UserError(f"{speech_dir}: no .flac files")
        if any(part in FORBIDDEN_SUBSETS for part in speech_dir.resolve().parts):
            raise UserError(f"{speech_dir}: refusing to train on an evaluation subset")
        by_speaker: dict[str, list[Path]] = {}
        for f in files:
            by_speaker.setdefault(f.name.split("-")[0], []).append(f)
        speakers = sorted(by_speaker, key=int)
        val_speakers = speakers[cfg.val_every // 2::cfg.val_every]
        chosen = val_speakers if split == "val" else [s for s in speakers if s not in set(val_speakers)]
        self.cfg = cfg
        self.split = split
        self.speakers = chosen
        self.utterances: list[np.ndarray] = []
        self.utterance_speaker: list[int] = []
        self.files: list[str] = []
        for i, spk in enumerate(chosen):
            for f in by_speaker[spk]:
                x = _load_resampled(f, cfg.sample_rate)
                if x.size < cfg.sample_rate // 2 or not np.any(x):
                    raise UserError(f"{f}: shorter than 0.5 s or silent")
                self.utterances.append(x)
                self.utterance_speaker.append(i)
                self.files.append(f"librispeech/{TRAIN_SUBSET}/{f.name}")
        noise_dir = root / "noise"
        self.noises: list[np.ndarray] = []
        if cfg.p_noisy > 0:
            noise_files = sorted(noise_dir.glob("*.wav")) if noise_dir.is_dir() else []
            if not noise_files:
                raise UserError(f"{noise_dir}: no noise .wav files (needed because data.p_noisy > 0)")
            for f in noise_files:
                x = _load_resampled(f, cfg.sample_rate)
                cut = int(cfg.noise_train_share * x.size)
                self.noises.append(x[:cut] if split == "train" else x[cut:])
                self.files.append(f"noise/{f.name}")

    def fingerprint(self) -> str:
        """Hash of which files (by name) and how much audio this split uses."""
        h = hashlib.sha256()
        for name in self.files:
            h.update(name.encode())
        h.update(str(sum(u.size for u in self.utterances) + sum(n.size for n in self.noises)).encode())
        return h.hexdigest()[:16]

    def example(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """One example of ``n`` samples: ``(mix [n], sources [2, n], noisy)``."""
        cfg = self.cfg
        sr = cfg.sample_rate
        n_utt = len(self.utterances)
        i = int(rng.integers(n_utt))
        j = int(rng.integers(n_utt))
        while self.utterance_speaker[j] == self.utterance_speaker[i]:
            j = int(rng.integers(n_utt))
        if rng.random() < cfg.p_partial:
            ratio = float(rng.uniform(*cfg.overlap_range))
            active = int(round(n / (2.0 - ratio)))     # two spans of `active` covering n, overlapping ratio*active
            a = _crop(self.utterances[i], active, rng)
            b = _crop(self.utterances[j], active, rng)
            s1 = np.zeros(n, np.float32)
            s2 = np.zeros(n, np.float32)
            s1[:active] = a
            s2[n - active:] = b
            if rng.random() < 0.5:
                s1, s2 = s2, s1
        else:
            s1 = _crop(self.utterances[i], n, rng)
            s2 = _crop(self.utterances[j], n, rng)
        s1, s2 = mixing.wsj0_2mix_gains(s1, s2, sr, rng, cfg.max_rel_gain_db)
        sources = np.stack([s1, s2]).astype(np.float64)
        mix = sources.sum(0)
        noisy = bool(rng.random() < cfg.p_noisy)
        if noisy:
            k = int(rng.integers(len(self.noises)))
            noise = _crop(self.noises[k], n, rng).astype(np.float64)
            noise = mixing.normalise_active(noise, sr)
            if rng.random() < cfg.p_babble:
                n_babble = int(rng.integers(cfg.babble_speakers[0], cfg.babble_speakers[1] + 1))
                babble = np.zeros(n)
                for _ in range(n_babble):
                    m = int(rng.integers(n_utt))
                    while self.utterance_speaker[m] in (self.utterance_speaker[i], self.utterance_speaker[j]):
                        m = int(rng.integers(n_utt))
                    babble += mixing.normalise_active(_crop(self.utterances[m], n, rng).astype(np.float64), sr)
                noise = noise + mixing.normalise_active(babble, sr) * 10 ** (float(rng.uniform(*cfg.babble_rel_db)) / 20)
            louder = sources[int(np.argmax([mixing.active_power(s, sr) for s in sources]))]
            noise = mixing.wham_noise(noise, louder, sr, rng, cfg.noise_snr_db)
            mix = mix + noise
        # nominal level: mixture active RMS about -25 dBFS, then a random offset; never clip
        level = 10 ** ((-25 + float(rng.uniform(*cfg.level_db))) / 20)
        p = mixing.active_power(mix, sr)
        gain = level / np.sqrt(p) if p > 0 else 1.0
        peak = np.abs(mix).max() * gain
        if peak > 0.9:
            gain *= 0.9 / peak
        return (mix * gain).astype(np.float32), (sources * gain).astype(np.float32), noisy


class LayoutSource:
    """Random crops of a published training layout (paper scale): WSJ0-2mix or WHAM! ``tr``
    (training) and ``cv`` (validation) read through the project's layout readers."""

    def __init__(self, cfg: DataConfig, split: str, base_dir: Path | None = None) -> None:
        from ..data import DATASETS
        root = resolve_root(cfg.root, base_dir)
        reader = DATASETS.get(cfg.source)
        kwargs: dict[str, Any] = dict(sample_rate=cfg.sample_rate, mode=cfg.mode,
                                      split="tr" if split == "train" else "cv")
        if cfg.source == "wham":
            kwargs["task"] = cfg.task
        try:
            self.manifest = reader(root, **kwargs)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        self.cfg = cfg
        self.split = split
        self.files = [u.utt_id for u in self.manifest]

    def fingerprint(self) -> str:
        return self.manifest.hash() if hasattr(self.manifest, "hash") else hashlib.sha256(
            "\n".join(self.files).encode()).hexdigest()[:16]

    def example(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
        u = self.manifest.utterances[int(rng.integers(len(self.manifest)))]
        start = int(rng.integers(0, max(1, u.n_samples - n + 1)))
        stop = min(u.n_samples, start + n)
        mix, _ = sf.read(str(u.mixture), start=start, stop=stop, dtype="float32")
        srcs = [sf.read(str(p), start=start, stop=stop, dtype="float32")[0] for p in u.sources]
        pad = n - mix.size
        mix = np.pad(mix, (0, pad))
        sources = np.stack([np.pad(s, (0, pad)) for s in srcs])
        return mix, sources, u.noise is not None


def make_source(cfg: DataConfig, split: str, base_dir: Path | None = None) -> LibriMixSource | LayoutSource:
    if cfg.source == "librispeech-mix":
        return LibriMixSource(cfg, split, base_dir)
    if cfg.source in ("wsj0-2mix", "wham"):
        return LayoutSource(cfg, split, base_dir)
    raise UserError(f"data.source must be librispeech-mix, wsj0-2mix or wham, got {cfg.source!r}")


class TrainStream:
    """Batches as a pure function of ``(seed, step)``."""

    def __init__(self, source: LibriMixSource | LayoutSource, seed: int) -> None:
        self.source = source
        self.seed = seed

    def batch(self, step: int) -> Batch:
        cfg = self.source.cfg
        n = int(round(cfg.crop_s * cfg.sample_rate))
        rng = _step_rng(self.seed, step)
        items = [self.source.example(rng, n) for _ in range(cfg.batch_size)]
        return Batch(mix=torch.from_numpy(np.stack([m for m, _, _ in items])),
                     sources=torch.from_numpy(np.stack([s for _, s, _ in items])),
                     noisy=torch.tensor([z for _, _, z in items]))


def validation_set(source: LibriMixSource | LayoutSource) -> Batch:
    """The fixed validation mixtures: ``n_val`` examples of ``val_s`` seconds drawn with
    ``val_seed`` from the validation split (half noisy when the config mixes noise in).

    Shape: ``mix [n_val, T]``, ``sources [n_val, C, T]``.
    """
    cfg = source.cfg
    n = int(round(cfg.val_s * cfg.sample_rate))
    rng = _step_rng(cfg.val_seed, 0, stream=1)
    items = [source.example(rng, n) for _ in range(cfg.n_val)]
    return Batch(mix=torch.from_numpy(np.stack([m for m, _, _ in items])),
                 sources=torch.from_numpy(np.stack([s for _, s, _ in items])),
                 noisy=torch.tensor([z for _, _, z in items]))
