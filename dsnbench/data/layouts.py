"""Readers for the published corpus layouts (design section 4).

Each reader takes the corpus root and options, checks the layout, and returns a
:class:`~dsnbench.data.manifest.Manifest`. A wrong or partial layout raises
:class:`~dsnbench.data.manifest.DatasetError` with one line that says what is missing where.
Paths are never guessed: the root must be the folder the published layout starts at.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .manifest import DatasetError, Manifest, Utterance, audio_info

#: folders of each WHAM! task: (mixture folder, source folders, noise folder)
WHAM_TASKS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "sep_clean": ("mix_clean", ("s1", "s2"), None),
    "sep_noisy": ("mix_both", ("s1", "s2"), "noise"),
    "enh_single": ("mix_single", ("s1",), "noise"),
    "enh_both": ("mix_both", ("mix_clean",), "noise"),
}

#: published number of test utterances of WSJ0-2mix and WHAM!
WSJ0_TT_COUNT = 3000


def _check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise DatasetError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def split_dir(root: Path, sample_rate: int, mode: str, split: str) -> Path:
    """``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}``, checked option by option."""
    _check_choice("sample rate", sample_rate, (8000, 16000))
    _check_choice("mode", mode, ("min", "max"))
    _check_choice("split", split, ("tr", "cv", "tt"))
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root does not exist or is not a folder")
    d = root / f"wav{sample_rate // 1000}k" / mode / split
    if not d.is_dir():
        # name the deepest missing level, which is what users get wrong
        probe = root
        for part in (f"wav{sample_rate // 1000}k", mode, split):
            probe = probe / part
            if not probe.is_dir():
                present = sorted(p.name for p in probe.parent.iterdir() if p.is_dir()) if probe.parent.is_dir() else []
                raise DatasetError(f"{probe}: folder missing (found: {', '.join(present) or 'nothing'})")
    return d


def collect(
    base: Path,
    mixture_folder: str,
    source_folders: Sequence[str],
    noise_folder: str | None,
    sample_rate: int,
    *,
    subtype: str | None,
    name: str,
    root: Path,
    expected_count: int | None = None,
    check_lengths: bool = True,
) -> Manifest:
    """Build a manifest from parallel folders of equally named WAV files, validating them.

    Checks: every folder exists and holds WAV files; ids identical across folders; one sample
    rate (the expected one); mono; equal lengths per id; sample format ``subtype`` (e.g.
    ``PCM_16`` for WSJ0-2mix, ``FLOAT`` for WHAM!) where given.
    """
    folders = [mixture_folder, *source_folders] + ([noise_folder] if noise_folder else [])
    ids_per_folder: dict[str, dict[str, Path]] = {}
    for f in folders:
        d = base / f
        if not d.is_dir():
            raise DatasetError(f"{d}: folder missing")
        files = {p.stem: p for p in d.iterdir() if p.suffix.lower() == ".wav"}
        if not files:
            raise DatasetError(f"{d}: no .wav files")
        ids_per_folder[f] = files
    mix_ids = set(ids_per_folder[mixture_folder])
    for f in folders[1:]:
        ids = set(ids_per_folder[f])
        missing = sorted(mix_ids - ids)
        if missing:
            raise DatasetError(f"{base / f / (missing[0] + '.wav')}: missing ({len(missing)} id(s) of {mixture_folder}/ absent from {f}/)")
        extra = sorted(ids - mix_ids)
        if extra:
            raise DatasetError(f"{base / f / (extra[0] + '.wav')}: no matching mixture in {mixture_folder}/ ({len(extra)} such id(s))")
    warnings: list[str] = []
    if expected_count is not None and len(mix_ids) != expected_count:
        warnings.append(f"{base / mixture_folder}: {len(mix_ids)} mixtures, the published set has {expected_count}")
    utts = []
    for uid in sorted(mix_ids):
        lengths = {}
        for f in folders:
            p = ids_per_folder[f][uid]
            info = audio_info(p)
            if info.samplerate != sample_rate:
                raise DatasetError(f"{p}: sample rate {info.samplerate} Hz, expected {sample_rate} Hz")
            if info.channels != 1:
                raise DatasetError(f"{p}: {info.channels} channels, expected mono")
            if subtype is not None and info.subtype != subtype:
                raise DatasetError(f"{p}: sample format {info.subtype}, the published layout has {subtype}")
            lengths[f] = info.frames
        if check_lengths and len(set(lengths.values())) != 1:
            bad = next(f for f in folders if lengths[f] != lengths[mixture_folder])
            raise DatasetError(f"{ids_per_folder[bad][uid]}: {lengths[bad]} samples, but {mixture_folder}/{uid}.wav has {lengths[mixture_folder]}")
        if lengths[mixture_folder] == 0:
            raise DatasetError(f"{ids_per_folder[mixture_folder][uid]}: empty file")
        utts.append(Utterance(
            utt_id=uid,
            mixture=ids_per_folder[mixture_folder][uid],
            sources=tuple(ids_per_folder[f][uid] for f in source_folders),
            sample_rate=sample_rate,
            n_samples=lengths[mixture_folder],
            noise=ids_per_folder[noise_folder][uid] if noise_folder else None,
        ))
    return Manifest(name=name, root=Path(root), utterances=utts, warnings=warnings)


def wsj0_2mix(root: str | Path, sample_rate: int = 8000, mode: str = "min", split: str = "tt",
              **_: object) -> Manifest:
    """WSJ0-2mix: ``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix,s1,s2}/<id>.wav``, 16-bit PCM.

    ``root`` is the ``2speakers`` folder made by the official generation scripts.
    """
    base = split_dir(Path(root), sample_rate, mode, split)
    m = collect(base, "mix", ("s1", "s2"), None, sample_rate, subtype="PCM_16", name="wsj0-2mix",
                root=Path(root), expected_count=WSJ0_TT_COUNT if split == "tt" else None)
    m.info.update(sample_rate=sample_rate, mode=mode, split=split, task="sep_clean")
    return m


def wham(root: str | Path, task: str = "sep_noisy", sample_rate: int = 8000, mode: str = "min",
         split: str = "tt", **_: object) -> Manifest:
    """WHAM!: ``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix_clean,mix_both,mix_single,s1,s2,noise}/``.

    Float32 WAV. ``task`` picks the mixture and targets: sep_clean (mix_clean -> s1, s2),
    sep_noisy (mix_both -> s1, s2), enh_single (mix_single -> s1), enh_both (mix_both -> mix_clean).
    """
    _check_choice("WHAM! task", task, tuple(WHAM_TASKS))
    base = split_dir(Path(root), sample_rate, mode, split)
    mix_f, src_f, noise_f = WHAM_TASKS[task]
    m = collect(base, mix_f, src_f, noise_f, sample_rate, subtype="FLOAT", name="wham",
                root=Path(root), expected_count=WSJ0_TT_COUNT if split == "tt" else None)
    m.info.update(sample_rate=sample_rate, mode=mode, split=split, task=task)
    return m
