"""Dataset validation beyond the layout: durations, formats and the audio sanity statistics
(``dsnbench validate``). It lives with the run because it scores data with a metric.

The layout readers already check folders, ids, sample rates, channels, sample formats and
lengths. This module reads the audio and adds two statistics that catch a broken generation:

* **Mean input SI-SNR** (SI-SNR of the mixture against each reference, mean over references and
  utterances). For a clean two-speaker mixture of uncorrelated sources,
  ``SI-SNR(mix, s1) ~ 10 log10(P1/P2)`` and ``SI-SNR(mix, s2) ~ -10 log10(P1/P2)``, so the mean
  is near 0 dB whatever the gains; WSJ0-2mix's published value is about 0 dB. A set flagged
  ``wsj0_2mix_like`` whose mean is more than ``SISNR_TOLERANCE_DB`` away from 0 dB gets a
  warning: the references do not belong to the mixtures (wrong source files, wrong order of
  generation) or the mixing went wrong.
* **Mixture consistency**: for additive sets the mixture must equal the sum of its references
  (and the noise). ``10 log10(||mix||^2 / ||mix - sum||^2)`` is about 70-90 dB for 16-bit
  files and higher for float files; below ``CONSISTENCY_MIN_DB`` means the references were
  scaled differently from the mixture (a common generation bug).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.manifest import DatasetError, Manifest, load_utterance
from ..metrics.functional import si_snr

SISNR_TOLERANCE_DB = 1.0
CONSISTENCY_MIN_DB = 30.0


@dataclass
class AudioStats:
    """Audio statistics of a manifest (None where not computed)."""

    mean_input_si_snr: float | None = None
    min_consistency_db: float | None = None
    worst_consistency_file: str | None = None
    n_checked: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def audio_stats(manifest: Manifest, limit: int | None = None) -> AudioStats:
    """Read every utterance (or the first ``limit``) and compute the sanity statistics."""
    stats = AudioStats()
    info = manifest.info
    additive = bool(info.get("additive", False))
    values: list[float] = []
    worst = (float("inf"), "")
    for utt in manifest.utterances[:limit] if limit else manifest.utterances:
        try:
            mix, sources, noise = load_utterance(utt)
        except DatasetError as exc:
            stats.problems.append(str(exc))
            continue
        stats.n_checked += 1
        for path, src in zip(utt.sources, sources):
            try:
                values.append(si_snr(src, mix))
            except ValueError as exc:
                stats.problems.append(f"{path}: input SI-SNR undefined ({exc})")
        if additive:
            total = sources.sum(axis=0) + (noise if noise is not None else 0.0)
            res = float(np.sum((mix - total) ** 2))
            energy = float(np.sum(mix ** 2))
            db = float("inf") if res == 0 else 10 * np.log10(max(energy, 1e-30) / res)
            if db < worst[0]:
                worst = (db, str(utt.mixture))
    if values:
        stats.mean_input_si_snr = float(np.mean(values))
        if info.get("wsj0_2mix_like") and abs(stats.mean_input_si_snr) > SISNR_TOLERANCE_DB:
            stats.warnings.append(
                f"{manifest.root}: mean input SI-SNR {stats.mean_input_si_snr:+.2f} dB, a WSJ0-2mix-like "
                f"set has about 0 dB (|x| > {SISNR_TOLERANCE_DB:g} dB suggests references that do not "
                "match the mixtures)")
    if additive and worst[1]:
        stats.min_consistency_db = worst[0]
        stats.worst_consistency_file = worst[1]
        if worst[0] < CONSISTENCY_MIN_DB:
            stats.warnings.append(
                f"{worst[1]}: mixture differs from the sum of its references by {worst[0]:.1f} dB "
                f"(expected > {CONSISTENCY_MIN_DB:g} dB; references scaled differently from the mixture?)")
    return stats


def describe(manifest: Manifest) -> dict[str, Any]:
    """Count, durations and sample rate of a manifest (no audio read)."""
    durations = np.array([u.duration_s for u in manifest.utterances]) if manifest.utterances else np.zeros(0)
    rates = sorted({u.sample_rate for u in manifest.utterances})
    return {
        "n_utterances": len(manifest),
        "total_s": float(durations.sum()),
        "mean_s": float(durations.mean()) if durations.size else 0.0,
        "min_s": float(durations.min()) if durations.size else 0.0,
        "max_s": float(durations.max()) if durations.size else 0.0,
        "sample_rates": rates,
        "n_sources": manifest.info.get("n_sources"),
        "subtype": manifest.info.get("subtype"),
        "manifest_hash": manifest.hash(),
    }
