"""Tiny datasets written in the exact published layouts, for tests and demos.

The signals are synthetic speech-like sources (harmonic tones with syllable-rate envelopes and
pauses), deterministic from a seed. Ids follow the WSJ0-2mix naming
``<utt1>_<snr1>_<utt2>_<snr2>`` with ``snr2 = -snr1``; s1 is the louder source, as published.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def speechlike(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A deterministic speech-like signal: voiced harmonic bursts separated by pauses.

    Shape: returns ``[n]``, peak about 0.3.
    """
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum((0.6 ** k) * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 8))
    x = x + 0.05 * rng.standard_normal(n)
    env = np.zeros(n)
    pos = 0
    while pos < n:
        on = int(rng.uniform(0.15, 0.5) * sample_rate)
        off = int(rng.uniform(0.05, 0.3) * sample_rate)
        seg = np.hanning(max(on, 2))[: max(0, min(on, n - pos))]
        env[pos: pos + seg.size] = seg
        pos += on + off
    y = x * env
    return 0.3 * y / (np.abs(y).max() + 1e-9)


def _ids(n: int, rng: np.random.Generator) -> list[str]:
    ids = []
    for i in range(n):
        g = round(float(rng.uniform(0, 2.5)), 5)
        ids.append(f"{i:03d}c{rng.integers(1000, 9999)}_{g:.5f}_{i:03d}o{rng.integers(1000, 9999)}_{-g:.5f}")
    return ids


def make_mixtures(n: int, sample_rate: int, seconds: float, seed: int,
                  noise: bool = False) -> list[dict]:
    """Mixtures as dicts with keys id, s1, s2, mix_clean and (with noise) noise, mix_both, mix_single."""
    rng = np.random.default_rng(seed)
    out = []
    for uid in _ids(n, rng):
        length = int(seconds * sample_rate * rng.uniform(0.8, 1.2))
        gain_db = float(uid.split("_")[1])
        s1 = speechlike(length, sample_rate, rng) * 10 ** (gain_db / 40)
        s2 = speechlike(length, sample_rate, rng) * 10 ** (-gain_db / 40)
        item = {"id": uid, "s1": s1, "s2": s2, "mix_clean": s1 + s2}
        if noise:
            nz = 0.05 * rng.standard_normal(length)
            item.update(noise=nz, mix_both=s1 + s2 + nz, mix_single=s1 + nz)
        scale = 0.9 / max(np.abs(v).max() for k, v in item.items() if k != "id")
        for k in list(item):
            if k != "id":
                item[k] = item[k] * min(1.0, scale)
        out.append(item)
    return out


def write_wsj0_2mix(root: Path, n: int = 4, sample_rate: int = 8000, mode: str = "min",
                    split: str = "tt", seconds: float = 1.0, seed: int = 0) -> Path:
    """Write ``<root>/wav{8k,16k}/<mode>/<split>/{mix,s1,s2}`` as 16-bit PCM. Returns root."""
    base = Path(root) / f"wav{sample_rate // 1000}k" / mode / split
    for item in make_mixtures(n, sample_rate, seconds, seed):
        for folder, key in (("mix", "mix_clean"), ("s1", "s1"), ("s2", "s2")):
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{item['id']}.wav"), item[key], sample_rate, subtype="PCM_16")
    return Path(root)


def write_wham(root: Path, n: int = 4, sample_rate: int = 8000, mode: str = "min",
               split: str = "tt", seconds: float = 1.0, seed: int = 0) -> Path:
    """Write ``<root>/wav{8k,16k}/<mode>/<split>/{mix_clean,mix_both,mix_single,s1,s2,noise}``
    as float32 WAV. Returns root."""
    base = Path(root) / f"wav{sample_rate // 1000}k" / mode / split
    for item in make_mixtures(n, sample_rate, seconds, seed, noise=True):
        for folder in ("mix_clean", "mix_both", "mix_single", "s1", "s2", "noise"):
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{item['id']}.wav"), item[folder].astype(np.float32),
                     sample_rate, subtype="FLOAT")
    return Path(root)


def _librimix_id(i: int, rng: np.random.Generator) -> str:
    a = f"{rng.integers(100, 9000)}-{rng.integers(1000, 200000)}-{i:04d}"
    b = f"{rng.integers(100, 9000)}-{rng.integers(1000, 200000)}-{i + 1:04d}"
    return f"{a}_{b}"


def write_libri2mix(root: Path, n: int = 4, sample_rate: int = 8000, mode: str = "min",
                    split: str = "test", seconds: float = 1.0, seed: int = 0,
                    clean_only: bool = False) -> Path:
    """Write ``<root>/Libri2Mix/wav{8k,16k}/<mode>/<split>/{mix_clean,mix_both,mix_single,s1,s2,noise}``
    as 16-bit PCM (what the LibriMix scripts write) and the mixture metadata CSVs in
    ``<root>/Libri2Mix/wav*/<mode>/metadata/mixture_<split>_<mix folder>.csv``. Returns root
    (the folder that contains ``Libri2Mix/``). ``clean_only`` writes s1, s2, mix_clean only."""
    import csv
    mode_dir = Path(root) / "Libri2Mix" / f"wav{sample_rate // 1000}k" / mode
    base = mode_dir / split
    rng = np.random.default_rng(seed + 1)
    items = make_mixtures(n, sample_rate, seconds, seed, noise=not clean_only)
    folders = ("s1", "s2", "mix_clean") if clean_only else ("s1", "s2", "mix_clean", "mix_both", "mix_single", "noise")
    rows: dict[str, list[dict]] = {f: [] for f in folders if f.startswith("mix")}
    for i, item in enumerate(items):
        uid = _librimix_id(i, rng)
        for folder in folders:
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{uid}.wav"), item[folder], sample_rate, subtype="PCM_16")
        for mix_folder in rows:
            row = {"mixture_ID": uid, "mixture_path": str(base / mix_folder / f"{uid}.wav"),
                   "source_1_path": str(base / "s1" / f"{uid}.wav")}
            if mix_folder != "mix_single":
                row["source_2_path"] = str(base / "s2" / f"{uid}.wav")
            if mix_folder != "mix_clean":
                row["noise_path"] = str(base / "noise" / f"{uid}.wav")
            row["length"] = len(item["s1"])
            rows[mix_folder].append(row)
    (mode_dir / "metadata").mkdir(parents=True, exist_ok=True)
    for mix_folder, rs in rows.items():
        with open(mode_dir / "metadata" / f"mixture_{split}_{mix_folder}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rs[0]))
            w.writeheader()
            w.writerows(rs)
    return Path(root)


def write_whamr(root: Path, n: int = 4, sample_rate: int = 8000, mode: str = "min",
                split: str = "tt", seconds: float = 1.0, seed: int = 0) -> Path:
    """Write the eleven WHAMR! folders (``mix_{clean,both,single}_{anechoic,reverb}``,
    ``s{1,2}_{anechoic,reverb}``, ``noise``) as float32 WAV. The "reverb" here is a short
    synthetic exponentially decaying impulse response, enough to make the reverberant
    mixtures differ from the anechoic targets as in the real corpus. Returns root."""
    base = Path(root) / f"wav{sample_rate // 1000}k" / mode / split
    rng = np.random.default_rng(seed + 2)
    for item in make_mixtures(n, sample_rate, seconds, seed, noise=True):
        length = len(item["s1"])
        out = {"noise": item["noise"]}
        for k in ("s1", "s2"):
            taps = int(0.05 * sample_rate)
            rir = rng.standard_normal(taps) * np.exp(-np.arange(taps) / (0.01 * sample_rate))
            rir[0] = 1.0
            out[f"{k}_anechoic"] = item[k]
            out[f"{k}_reverb"] = np.convolve(item[k], rir)[:length] * 0.5
        for sfx in ("anechoic", "reverb"):
            out[f"mix_clean_{sfx}"] = out[f"s1_{sfx}"] + out[f"s2_{sfx}"]
            out[f"mix_both_{sfx}"] = out[f"mix_clean_{sfx}"] + item["noise"]
            out[f"mix_single_{sfx}"] = out[f"s1_{sfx}"] + item["noise"]
        for folder, x in out.items():
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{item['id']}.wav"), x.astype(np.float32), sample_rate, subtype="FLOAT")
    return Path(root)


def write_folder(root: Path, n: int = 4, sample_rate: int = 16000, seconds: float = 1.0,
                 seed: int = 0, noise: bool = False, metadata: bool = True,
                 subtype: str = "PCM_16") -> Path:
    """Write the generic layout ``<root>/{mix,s1,s2[,noise]}/<id>.wav`` and (optionally)
    ``<root>/metadata.csv`` with ``utt_id`` and a ``speaker_pair`` column. Returns root."""
    import csv
    root = Path(root)
    rows = []
    for i, item in enumerate(make_mixtures(n, sample_rate, seconds, seed, noise=noise)):
        uid = f"utt{i:03d}"
        parts = {"mix": item["mix_both"] if noise else item["mix_clean"], "s1": item["s1"], "s2": item["s2"]}
        if noise:
            parts["noise"] = item["noise"]
        for folder, x in parts.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(root / folder / f"{uid}.wav"), x, sample_rate, subtype=subtype)
        rows.append({"utt_id": uid, "speaker_pair": item["id"]})
    if metadata:
        with open(root / "metadata.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["utt_id", "speaker_pair"])
            w.writeheader()
            w.writerows(rows)
    return root
