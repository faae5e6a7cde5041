"""Test-set variants with a chosen speaker overlap and noise activity (the paper's analysis).

From each two-speaker utterance of a dataset (its s1, s2 and, for noisy sets, its noise):

1. **Extents.** Each source is cut to its active extent, from the first to the end of the last
   active 20 ms frame (:func:`dsnbench.data.activity.active_extent`, the same activity rule as
   the segment labels), so leading and trailing silence does not count as speech. Nothing
   inside the extent is removed: both utterances stay whole.
2. **Overlap.** With ``L1``, ``L2`` the extents' lengths and ``Ls = min(L1, L2)``, one source
   (drawn with the seed: s1 or s2) starts at 0 and the other at ``shift = L_lead - round(r * Ls)``,
   so the speakers overlap over exactly ``round(r * Ls)`` samples, a fraction ``r`` of the
   shorter source. The mixture lasts ``L1 + L2 - round(r * Ls)`` samples. ``r = 1`` puts the
   shorter source entirely inside the longer one (ending together); ``r = 0`` places them back
   to back.
3. **Noise activity** ``a`` (noisy sets only): a noise excerpt of ``round(a * T)`` samples
   (``T`` the new mixture length) starting at a seeded random position, zero elsewhere, with
   10 ms raised-cosine fades inside the excerpt. The noise comes from the utterance's own noise
   reference (looped with a 50 ms cross-fade when the longer mixture needs more), and is scaled
   to a WHAM! level: SNR of s1 (active level) to the noise (power where present) uniform in
   [-6, +3] dB. Without ``--noise-activity`` a noisy set gets ``a = 1`` and a clean set none.
4. Mixture = sum; everything is scaled together by ``0.9 / peak`` if it would clip.

Sources keep their relative level (s1 stays the louder). Output: the dataset's own layout
(WSJ0-2mix, WHAM!, Libri2Mix or the folder layout; same ids, same sample format) plus
``metadata.csv`` (per utterance: overlap ratio, noise activity, which source leads, shift,
start of each source, gains, SNR, noise excerpt) and ``variant.json`` (the request) in the
split folder. The readers merge both into the manifest, so the variant is used like any other
dataset. Deterministic: utterance ``i`` uses the generator ``default_rng([seed, i])``.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .activity import active_extent
from .mixing import PEAK, WHAM_SNR_RANGE_DB, wham_noise_gain
from .manifest import DatasetError, Manifest, load_utterance
from .wavio import write_wav

FADE_S = 0.010
LOOP_XFADE_S = 0.050


@dataclass(frozen=True)
class VariantSpec:
    overlap: float
    noise_activity: float | None
    seed: int = 0


def _check_fraction(name: str, v: float | None) -> None:
    if v is not None and not (0.0 <= v <= 1.0):
        raise DatasetError(f"{name} must be a fraction in [0, 1], got {v}")


def _loop(noise: np.ndarray, n: int, sample_rate: int) -> np.ndarray:
    """``noise`` extended to ``n`` samples by looping it with a raised-cosine cross-fade."""
    if noise.shape[0] >= n:
        return noise[:n]
    x = max(1, min(int(LOOP_XFADE_S * sample_rate), noise.shape[0] // 2))
    up = 0.5 - 0.5 * np.cos(np.pi * (np.arange(x) + 0.5) / x)
    out = noise.copy()
    while out.shape[0] < n:
        joined = out[-x:] * (1 - up) + noise[:x] * up
        out = np.concatenate([out[:-x], joined, noise[x:]])
    return out[:n]


def _fade(n: int, sample_rate: int) -> np.ndarray:
    f = min(int(FADE_S * sample_rate), n // 2)
    w = np.ones(n)
    if f > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(f) + 0.5) / f)
        w[:f] = ramp
        w[n - f:] = ramp[::-1]
    return w


def make_variant(s1: np.ndarray, s2: np.ndarray, noise: np.ndarray | None, spec: VariantSpec,
                 rng: np.random.Generator, sample_rate: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One utterance of a variant. Returns the signals (``s1``, ``s2``, ``mix_clean`` and, with
    noise, ``noise``, ``mix_both``, ``mix_single``) and its metadata row (without the id).

    Shape: ``s1``, ``s2``, ``noise`` are ``[T]``; the outputs ``[T']`` with the new length.
    """
    ext1, ext2 = active_extent(s1, sample_rate), active_extent(s2, sample_rate)
    if ext1 is None or ext2 is None:
        raise ValueError(f"{'s1' if ext1 is None else 's2'} has no active speech")
    x = {"s1": s1[ext1[0]: ext1[1]], "s2": s2[ext2[0]: ext2[1]]}
    lead = "s1" if rng.random() < 0.5 else "s2"
    follow = "s2" if lead == "s1" else "s1"
    l_short = min(x["s1"].shape[0], x["s2"].shape[0])
    n_overlap = int(round(spec.overlap * l_short))
    shift = x[lead].shape[0] - n_overlap
    total = x[lead].shape[0] + x[follow].shape[0] - n_overlap
    start = {lead: 0, follow: shift}
    out = {}
    for k in ("s1", "s2"):
        y = np.zeros(total)
        y[start[k]: start[k] + x[k].shape[0]] = x[k]
        out[k] = y
    out["mix_clean"] = out["s1"] + out["s2"]
    row: dict[str, Any] = {
        "overlap_ratio": round(n_overlap / l_short, 6), "overlap_samples": n_overlap,
        "lead": lead, "shift_samples": shift, "s1_start": start["s1"], "s2_start": start["s2"],
        "s1_length": x["s1"].shape[0], "s2_length": x["s2"].shape[0], "n_samples": total,
        "s1_source_start": ext1[0], "s2_source_start": ext2[0],
    }
    if spec.noise_activity is not None:
        if noise is None:
            raise ValueError("no noise reference to build noise activity from")
        n_noise = int(round(spec.noise_activity * total))
        noise_start = int(rng.integers(0, total - n_noise + 1))
        y = np.zeros(total)
        snr = round(float(rng.uniform(*WHAM_SNR_RANGE_DB)), 5)
        gain = 0.0
        if n_noise > 0:
            src = np.asarray(noise, dtype=np.float64)
            src_start = int(rng.integers(0, max(1, src.shape[0] - n_noise + 1)))
            excerpt = _loop(src[src_start:], n_noise, sample_rate) * _fade(n_noise, sample_rate)
            try:
                gain = wham_noise_gain(excerpt, out["s1"], sample_rate, snr)
            except ValueError:
                raise ValueError("the noise reference is silent") from None
            y[noise_start: noise_start + n_noise] = excerpt * gain
        out["noise"] = y
        out["mix_both"] = out["mix_clean"] + y
        out["mix_single"] = out["s1"] + y
        row.update(noise_activity=round(n_noise / total, 6), noise_samples=n_noise,
                   noise_start=noise_start, snr_db=snr if n_noise else None, noise_gain=round(gain, 6))
    peak = max(float(np.abs(v).max()) for v in out.values())
    scale = PEAK / peak if peak > 1.0 else 1.0
    if scale != 1.0:
        out = {k: v * scale for k, v in out.items()}
    row["scale"] = round(scale, 6)
    return out, row


#: what each source layout writes: (path under out, folder of each signal, sample format)
def _target(manifest: Manifest, out: Path, noisy: bool) -> tuple[Path, dict[str, str], str | None]:
    info = manifest.info
    layout = info.get("layout")
    sr = manifest.sample_rate
    mode, split = info.get("mode") or "min", info.get("split") or "tt"
    if layout == "wsj0-2mix":
        if noisy:
            raise DatasetError("the WSJ0-2mix layout has no noise: build noise-activity variants from a "
                               "noisy dataset (wham, mini-wham, libri2mix with mix_both, folder with noise/)")
        return out / f"wav{sr // 1000}k" / mode / split, {"mix_clean": "mix", "s1": "s1", "s2": "s2"}, "PCM_16"
    wham_like = {k: k for k in ("mix_clean", "mix_both", "mix_single", "s1", "s2", "noise")}
    if layout == "wham":
        folders = wham_like if noisy else {k: k for k in ("mix_clean", "s1", "s2")}
        return out / f"wav{sr // 1000}k" / mode / split, folders, "FLOAT"
    if layout == "libri2mix":
        folders = wham_like if noisy else {k: k for k in ("mix_clean", "s1", "s2")}
        return out / "Libri2Mix" / f"wav{sr // 1000}k" / mode / split, folders, "PCM_16"
    if layout == "folder":
        folders = {"mix_both": "mix", "s1": "s1", "s2": "s2", "noise": "noise"} if noisy else \
            {"mix_clean": "mix", "s1": "s1", "s2": "s2"}
        return out, folders, info.get("subtype")
    raise DatasetError(f"variants from the {layout or manifest.name} layout are not supported "
                       "(WSJ0-2mix, WHAM!, Libri2Mix and folder layouts are)")


def build_variant(manifest: Manifest, out: Path, overlap: float, noise_activity: float | None = None,
                  seed: int = 0, source: str | None = None) -> Path:
    """Write the variant of ``manifest`` under ``out``; return the folder a reader takes as root.

    Raises :class:`DatasetError` (one line) on a dataset that cannot give this variant.
    """
    _check_fraction("--overlap", overlap)
    _check_fraction("--noise-activity", noise_activity)
    if manifest.info.get("n_sources", 2) != 2 or any(len(u.sources) != 2 for u in manifest.utterances):
        raise DatasetError(f"{manifest.name}: variants need two-speaker references (s1, s2); "
                           "pick a separation task (sep_clean or sep_noisy)")
    has_noise = all(u.noise is not None for u in manifest.utterances)
    if noise_activity is None and has_noise:
        noise_activity = 1.0
    if noise_activity is not None and not has_noise:
        raise DatasetError(f"{manifest.name}: no noise references, so no noise activity; build noise "
                           "variants from a noisy dataset (e.g. --from mini-wham or --from wham --task sep_noisy)")
    noisy = noise_activity is not None
    out = Path(out)
    base, folders, subtype = _target(manifest, out, noisy)
    if base.exists() and any(base.iterdir()):
        raise DatasetError(f"{base}: output folder exists and is not empty")
    for f in folders.values():
        (base / f).mkdir(parents=True, exist_ok=True)
    spec = VariantSpec(overlap=float(overlap), noise_activity=noise_activity, seed=int(seed))
    rows = []
    sr = manifest.sample_rate
    for i, utt in enumerate(manifest.utterances):
        _, sources, noise = load_utterance(utt)
        try:
            signals, row = make_variant(sources[0], sources[1], noise, spec,
                                        np.random.default_rng([int(seed), i]), sr)
        except ValueError as exc:
            raise DatasetError(f"{utt.mixture}: cannot build the variant ({exc})") from None
        for key, folder in folders.items():
            write_wav(base / folder / f"{utt.utt_id}.wav", signals[key], sr, subtype or "FLOAT")
        rows.append({"utt_id": utt.utt_id, **row})
    _write_csv(base / "metadata.csv", rows)
    (base / "variant.json").write_text(json.dumps({
        "from": source or manifest.name, "from_manifest_hash": manifest.hash(),
        "from_info": {k: manifest.info.get(k) for k in ("task", "sample_rate", "mode", "split", "layout")},
        "overlap": spec.overlap, "noise_activity": spec.noise_activity, "seed": spec.seed,
        "n_utterances": len(rows),
    }, indent=2, sort_keys=True) + "\n")
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def reader_hint(manifest: Manifest, out: Path, noisy: bool) -> str:
    """The ``--dataset ... --root ...`` options that read the variant back."""
    info = manifest.info
    layout = info.get("layout")
    opts = [f"--dataset {layout} --root {out}"]
    if layout in ("wsj0-2mix", "wham", "libri2mix"):
        opts.append(f"--sample-rate {manifest.sample_rate} --mode {info.get('mode')} --split {info.get('split')}")
    if layout in ("wham", "libri2mix"):
        opts.append(f"--task {'sep_noisy' if noisy else 'sep_clean'}")
    return " ".join(opts)
