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

import dataclasses
import hashlib
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import UserError
from ..data import mixing
from .pack import TRAIN_SUBSET, load_resampled, read_pack

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
    #: SNR of the louder speaker to the noise (WHAM!: [-6, 3] dB; :mod:`dsnbench.data.mixing`)
    noise_snr_db: tuple[float, float] = (-6.0, 3.0)
    #: relative gain of the two speakers uniform in [0, max_rel_gain_db] dB (WSJ0-2mix: 5)
    max_rel_gain_db: float = 5.0
    #: one random gain (dB) on mixture and sources after the corpus mixing (which scales to a
    #: 0.9 peak, as the test sets are); (0, 0) gives exactly the test sets' mixture
    level_db: tuple[float, float] = (-10.0, 0.0)
    val_every: int = 10
    noise_train_share: float = 0.8
    n_val: int = 24
    val_s: float = 4.0
    val_seed: int = 20240601
    #: read the training audio from this pack (:mod:`dsnbench.train.pack`) instead of ``root``:
    #: one file, no soundfile needed (the GPU retraining); same speakers, same split
    pack: str = ""
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
        if cfg.pack:
            speech, noise = self._from_pack(resolve_root(cfg.pack, base_dir), cfg.sample_rate)
        else:
            speech, noise = self._from_root(resolve_root(cfg.root, base_dir), cfg)
        by_speaker: dict[str, list[str]] = {}
        for name in speech:
            by_speaker.setdefault(name.rsplit("/", 1)[-1].split("-")[0], []).append(name)
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
            for name in by_speaker[spk]:
                x = speech[name]
                if x.size < cfg.sample_rate // 2 or not np.any(x):
                    raise UserError(f"{name}: shorter than 0.5 s or silent")
                self.utterances.append(x)
                self.utterance_speaker.append(i)
                self.files.append(name)
        self.noises: list[np.ndarray] = []
        for name, x in noise.items():
            cut = int(cfg.noise_train_share * x.size)
            self.noises.append(x[:cut] if split == "train" else x[cut:])
            self.files.append(name)
        if cfg.pack:
            self.files.append(f"pack:{Path(cfg.pack).name}")

    @staticmethod
    def _from_root(root: Path, cfg: DataConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        speech_dir = root / "librispeech" / TRAIN_SUBSET
        if not speech_dir.is_dir():
            raise UserError(f"{speech_dir}: training speech folder missing (data.root must hold librispeech/{TRAIN_SUBSET})")
        files = sorted(speech_dir.glob("*.flac"))
        if not files:
            raise UserError(f"{speech_dir}: no .flac files")
        if any(part in FORBIDDEN_SUBSETS for part in speech_dir.resolve().parts):
            raise UserError(f"{speech_dir}: refusing to train on an evaluation subset")
        speech = {f"librispeech/{TRAIN_SUBSET}/{f.name}": load_resampled(f, cfg.sample_rate) for f in files}
        noise_dir = root / "noise"
        noise_files = sorted(noise_dir.glob("*.wav")) if noise_dir.is_dir() else []
        if cfg.p_noisy > 0 and not noise_files:
            raise UserError(f"{noise_dir}: no noise .wav files (needed because data.p_noisy > 0)")
        noise = {f"noise/{f.name}": load_resampled(f, cfg.sample_rate) for f in noise_files} if cfg.p_noisy > 0 else {}
        return speech, noise

    @staticmethod
    def _from_pack(path: Path, sample_rate: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        header, items = read_pack(path)
        if header["sample_rate"] != sample_rate:
            raise UserError(f"{path}: packed at {header['sample_rate']} Hz, the config asks for {sample_rate} Hz")
        speech = {k: v for k, v in items.items() if k.startswith(f"librispeech/{TRAIN_SUBSET}/")}
        if not speech:
            raise UserError(f"{path}: the pack holds no librispeech/{TRAIN_SUBSET} recordings")
        noise = {k: v for k, v in items.items() if k.startswith("noise/")}
        return speech, noise

    def fingerprint(self) -> str:
        """Hash of which files (by name) and how much audio this split uses."""
        h = hashlib.sha256()
        for name in self.files:
            h.update(name.encode())
        h.update(str(sum(u.size for u in self.utterances) + sum(n.size for n in self.noises)).encode())
        return h.hexdigest()[:16]

    def example(self, rng: np.random.Generator, n: int,
                recipe: DataConfig | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
        """One example of ``n`` samples: ``(mix [n], sources [2, n], noisy)``.

        ``recipe``: the mixing shares to use (a curriculum stage's config; default: this
        source's own). The mixture is made by :mod:`dsnbench.data.mixing`, the rule of the test
        sets: WSJ0-2mix gains (s1 the louder), the WHAM! noise level, 0.9 peak; then one
        random gain of ``level_db`` dB on everything. A draw whose speech or noise excerpt is
        silent is drawn again (from the same generator, so still a function of the seed).
        """
        mix, sources, noisy, _ = self.example_with_draw(rng, n, recipe)
        return mix, sources, noisy

    def example_with_draw(self, rng: np.random.Generator, n: int, recipe: DataConfig | None = None
                          ) -> tuple[np.ndarray, np.ndarray, bool, Draw]:
        """:meth:`example` and what was drawn for it (the placed excerpts, the noise and the
        levels), so a test can rebuild the mixture with :mod:`dsnbench.data.mixing`."""
        cfg = recipe or self.cfg
        for _ in range(100):
            try:
                return self._example(rng, n, cfg)
            except ValueError:
                continue
        raise UserError("100 training draws in a row had a silent speech or noise excerpt: "
                        "is the training data silent?")

    def _example(self, rng: np.random.Generator, n: int, cfg: DataConfig
                 ) -> tuple[np.ndarray, np.ndarray, bool, Draw]:
        sr = cfg.sample_rate
        n_utt = len(self.utterances)
        i = int(rng.integers(n_utt))
        j = int(rng.integers(n_utt))
        while self.utterance_speaker[j] == self.utterance_speaker[i]:
            j = int(rng.integers(n_utt))
        if rng.random() < cfg.p_partial:
            ratio = float(rng.uniform(*cfg.overlap_range))
            active = int(round(n / (2.0 - ratio)))     # two spans of `active` covering n, overlapping ratio*active
            a = np.zeros(n)
            b = np.zeros(n)
            a[:active] = _crop(self.utterances[i], active, rng)
            b[n - active:] = _crop(self.utterances[j], active, rng)
            if rng.random() < 0.5:
                a, b = b, a
        else:
            a = _crop(self.utterances[i], n, rng).astype(np.float64)
            b = _crop(self.utterances[j], n, rng).astype(np.float64)
        level = float(rng.uniform(0.0, cfg.max_rel_gain_db / 2))
        m = mixing.mix_wsj0_2mix(a, b, None, sr, "min", level_db=level)
        noisy = bool(rng.random() < cfg.p_noisy)
        noise, snr = None, None
        if noisy:
            k = int(rng.integers(len(self.noises)))
            noise = _crop(self.noises[k], n, rng).astype(np.float64)
            if rng.random() < cfg.p_babble:
                noise = noise / np.sqrt(max(mixing.noise_power(noise, sr), 1e-20))
                n_babble = int(rng.integers(cfg.babble_speakers[0], cfg.babble_speakers[1] + 1))
                babble = np.zeros(n)
                for _ in range(n_babble):
                    k2 = int(rng.integers(n_utt))
                    while self.utterance_speaker[k2] in (self.utterance_speaker[i], self.utterance_speaker[j]):
                        k2 = int(rng.integers(n_utt))
                    babble += mixing.normalise_active(_crop(self.utterances[k2], n, rng), sr)
                rel = float(rng.uniform(*cfg.babble_rel_db))
                noise = noise + mixing.normalise_active(babble, sr) * 10 ** (rel / 20)
            snr = float(rng.uniform(*cfg.noise_snr_db))
            m = mixing.add_noise_wham(m, noise, None, sr, snr_db=snr)
            mix = m.mix_both
        else:
            mix = m.mix
        gain_db = float(rng.uniform(*cfg.level_db))
        gain = 10 ** (gain_db / 20)
        sources = np.stack([m.s1, m.s2])
        draw = Draw(a=a, b=b, noise=noise, level_db=level, snr_db=snr, gain_db=gain_db)
        return (mix * gain).astype(np.float32), (sources * gain).astype(np.float32), noisy, draw


@dataclass
class Draw:
    """What one training example was made of: the two placed excerpts (``a`` becomes s1, the
    louder), the noise before its level was set (None when clean), the WSJ0-2mix level, the
    SNR and the final gain, all in dB. Shape: ``a``, ``b``, ``noise`` are ``[n]``."""

    a: np.ndarray
    b: np.ndarray
    noise: np.ndarray | None
    level_db: float
    snr_db: float | None
    gain_db: float


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

    def example(self, rng: np.random.Generator, n: int,
                recipe: DataConfig | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
        """A random crop of a random utterance (``recipe`` is ignored: a layout's mixtures are
        what they are)."""
        import soundfile as sf
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


MIXING_KEYS = ("p_noisy", "p_partial", "overlap_range", "p_babble", "babble_speakers", "babble_rel_db",
               "noise_snr_db", "max_rel_gain_db", "level_db")


def curriculum_stages(data: DataConfig, stages: Sequence[dict[str, Any]], steps: int
                      ) -> list[tuple[int, DataConfig]]:
    """The curriculum as ``[(first step after the stage, its data config), ...]``.

    Each stage is ``{until: f, <mixing key>: value, ...}``: from the previous stage's end up
    to step ``floor(f * steps)`` (exclusive) the batches use ``data`` with those keys changed
    (keys: :data:`MIXING_KEYS`); after the last stage, ``data`` itself. ``until`` fractions
    must rise within (0, 1].
    """
    out: list[tuple[int, DataConfig]] = []
    last = 0.0
    for k, stage in enumerate(stages):
        stage = dict(stage)
        until = stage.pop("until", None)
        if not isinstance(until, (int, float)) or isinstance(until, bool) or not last < until <= 1:
            raise UserError(f"curriculum[{k}].until must be a fraction of the steps in ({last:g}, 1], got {until!r}")
        bad = sorted(set(stage) - set(MIXING_KEYS))
        if bad:
            raise UserError(f"curriculum[{k}]: unknown key(s) {', '.join(bad)} (a stage sets until and "
                            f"any of {', '.join(MIXING_KEYS)})")
        merged = {**data.to_dict(), **stage}
        out.append((int(math.floor(until * steps)), DataConfig.from_dict(merged)))
        last = float(until)
    return out


class TrainStream:
    """Batches as a pure function of ``(seed, step)``; ``stages`` (from
    :func:`curriculum_stages`) switch the mixing recipe at fixed steps."""

    def __init__(self, source: LibriMixSource | LayoutSource, seed: int,
                 stages: Sequence[tuple[int, DataConfig]] = ()) -> None:
        self.source = source
        self.seed = seed
        self.stages = list(stages)

    def stage_index(self, step: int) -> int:
        """Which stage batch ``step`` belongs to (``len(stages)``: the final recipe, ``data``)."""
        for k, (end, _) in enumerate(self.stages):
            if step < end:
                return k
        return len(self.stages)

    def recipe(self, step: int) -> DataConfig:
        """The data config batch ``step`` is mixed with."""
        k = self.stage_index(step)
        return self.stages[k][1] if k < len(self.stages) else self.source.cfg

    def batch(self, step: int, recipe: DataConfig | None = None) -> Batch:
        """Batch ``step`` (``recipe``: its data config when the caller already knows it, e.g.
        a prefetching worker whose copy of the stages may be older than the trainer's)."""
        cfg = self.source.cfg
        recipe = self.recipe(step) if recipe is None else recipe
        n = int(round(cfg.crop_s * cfg.sample_rate))
        rng = _step_rng(self.seed, step)
        items = [self.source.example(rng, n, recipe) for _ in range(cfg.batch_size)]
        return Batch(mix=torch.from_numpy(np.stack([m for m, _, _ in items])),
                     sources=torch.from_numpy(np.stack([s for _, s, _ in items])),
                     noisy=torch.tensor([z for _, _, z in items]))


def validation_set(source: LibriMixSource | LayoutSource, clean_full: bool = False) -> Batch:
    """The fixed validation mixtures: ``n_val`` examples of ``val_s`` seconds drawn with
    ``val_seed`` from the validation split (half noisy when the config mixes noise in).
    ``clean_full``: another fixed set from the same speakers, every mixture clean and fully
    overlapped, as the WSJ0-2mix-style test sets are (model selection reads this one).

    Shape: ``mix [n_val, T]``, ``sources [n_val, C, T]``.
    """
    cfg = source.cfg
    n = int(round(cfg.val_s * cfg.sample_rate))
    recipe = dataclasses.replace(cfg, p_noisy=0.0, p_partial=0.0) if clean_full else None
    rng = _step_rng(cfg.val_seed, 0, stream=2 if clean_full else 1)
    items = [source.example(rng, n, recipe) for _ in range(cfg.n_val)]
    return Batch(mix=torch.from_numpy(np.stack([m for m, _, _ in items])),
                 sources=torch.from_numpy(np.stack([s for _, s, _ in items])),
                 noisy=torch.tensor([z for _, _, z in items]))


_FEED_STREAM: dict[str, TrainStream] = {}


def _feed_batch(step: int, recipe: DataConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = _FEED_STREAM["stream"].batch(step, recipe)
    return b.mix.numpy(), b.sources.numpy(), b.noisy.numpy()


class BatchFeed:
    """Batches of a :class:`TrainStream` made ahead by ``workers`` forked processes (0: made
    in this process when asked). The batches are the same either way: batch ``step`` is a
    pure function of the seed, the step and its recipe, which the caller passes at request
    time. At most ``2 * workers`` batches wait. Create it before any accelerator is touched
    (the workers are forked) and :meth:`close` it when done.
    """

    def __init__(self, stream: TrainStream, workers: int = 0) -> None:
        self.stream = stream
        self.workers = int(workers)
        self.pool = None
        self.pending: dict[int, Any] = {}
        if self.workers > 0:
            import multiprocessing
            _FEED_STREAM["stream"] = stream          # inherited by the forked workers
            self.pool = multiprocessing.get_context("fork").Pool(self.workers)

    def get(self, step: int, last: int, recipe_of: Any) -> Batch:
        """Batch ``step``; with workers, also asks for the following ones up to ``last``
        (exclusive). ``recipe_of(step)`` gives a step's data config."""
        if self.pool is None:
            return self.stream.batch(step, recipe_of(step))
        for k in range(step, min(last, step + 2 * self.workers)):
            if k not in self.pending:
                self.pending[k] = self.pool.apply_async(_feed_batch, (k, recipe_of(k)))
        mix, sources, noisy = self.pending.pop(step).get()
        return Batch(torch.from_numpy(mix), torch.from_numpy(sources), torch.from_numpy(noisy))

    def reset(self) -> None:
        """Forget batches asked for ahead (their recipes may have changed)."""
        self.pending.clear()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None
