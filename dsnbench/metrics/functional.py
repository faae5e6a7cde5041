"""Metric functions on numpy arrays. Reference first in every public function.

Shape conventions: single-signal functions take ``reference [T]`` and ``estimate [T]``;
batched ones take ``[n_src, T]``.
"""
from __future__ import annotations

import itertools

import numpy as np

EPS = 1e-12


def si_snr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SNR in dB, zero-mean (Le Roux et al. 2019, "SDR - half-baked or well done?").

    ``10 log10(||a s||^2 / ||a s - e||^2)`` with ``a = <e, s> / ||s||^2`` after removing the mean
    of both signals. Raises ValueError on a silent reference or estimate (the value is undefined).

    Shape: ``reference [T]``, ``estimate [T]``.
    """
    s = np.asarray(reference, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if s.shape != e.shape or s.ndim != 1:
        raise ValueError(f"si_snr needs two equal 1-D signals, got {s.shape} and {e.shape}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(e))):
        raise ValueError("non-finite samples")
    s = s - s.mean()
    e = e - e.mean()
    ss = float(np.dot(s, s))
    if ss <= EPS * s.size:
        raise ValueError("silent reference")
    if float(np.dot(e, e)) <= EPS * e.size:
        raise ValueError("silent estimate")
    target = (np.dot(e, s) / ss) * s
    noise = e - target
    return float(10 * np.log10(np.dot(target, target) / max(np.dot(noise, noise), EPS * EPS)))


def si_snr_matrix(references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """Pairwise SI-SNR: ``out[i, j] = si_snr(references[i], estimates[j])``.

    Shape: ``references [n_src, T]``, ``estimates [n_est, T]`` -> ``[n_src, n_est]``.
    """
    return np.array([[si_snr(r, e) for e in estimates] for r in references])


def best_permutation(score: np.ndarray) -> tuple[int, ...]:
    """Permutation ``p`` maximising ``mean_i score[i, p[i]]`` (reference i <-> estimate p[i]).

    Ties are broken by the first permutation in lexicographic order, so the choice is
    deterministic. Shape: ``score [n_src, n_src]``.
    """
    n = score.shape[0]
    best, best_val = None, -np.inf
    for perm in itertools.permutations(range(n)):
        val = float(np.mean([score[i, perm[i]] for i in range(n)]))
        if val > best_val:
            best, best_val = perm, val
    assert best is not None
    return tuple(int(p) for p in best)


#: a reference whose power on a segment is this far below its power over the whole
#: utterance counts as silent there (its SI-SNR would be dominated by noise floor)
SILENT_SEGMENT_DB = -40.0


def segmental_si_snr(references: np.ndarray, estimates: np.ndarray, length: int, hop: int,
                     n_segments: int) -> tuple[list[float], list[str | None]]:
    """SI-SNR per segment ``[s*hop, s*hop+length)``, averaged over sources.

    ``estimates`` must already be aligned to ``references`` (after PIT). A segment where any
    reference is silent (power more than 40 dB below that reference's mean power over the
    utterance) or is shorter than 2 samples gets NaN with the reason.

    Shape: ``references [n_src, T]``, ``estimates [n_src, T]`` -> ``n_segments`` values.
    """
    refs = np.asarray(references, dtype=np.float64)
    ests = np.asarray(estimates, dtype=np.float64)
    total = refs.shape[1]
    mean_power = np.mean(refs ** 2, axis=1)
    values: list[float] = []
    reasons: list[str | None] = []
    for s in range(n_segments):
        a, b = s * hop, min(s * hop + length, total)
        if b - a < 2:
            values.append(float("nan"))
            reasons.append("segment shorter than 2 samples")
            continue
        seg_power = np.mean(refs[:, a:b] ** 2, axis=1)
        if np.any(seg_power <= mean_power * 10 ** (SILENT_SEGMENT_DB / 10)):
            values.append(float("nan"))
            reasons.append("silent reference in segment")
            continue
        try:
            values.append(float(np.mean([si_snr(refs[i, a:b], ests[i, a:b]) for i in range(refs.shape[0])])))
            reasons.append(None)
        except ValueError as exc:
            values.append(float("nan"))
            reasons.append(str(exc))
    return values, reasons
