"""The metrics dsnbench ships: SI-SNR, SDR, PESQ, STOI, ESTOI (design section 6), and the cost.

Each is one compute function with its registration (the contract is in :mod:`.spec`). They are
registered in the order of the result columns (design section 7). The signal functions they
call are in :mod:`.functional` and :mod:`.intelligibility`.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .functional import MetricError, pesq, sdr, si_snr_matrix
from .intelligibility import at_stoi_rate, estimate_side, reference_side
from .spec import Pairs, metric, register_cost


@metric("si_snr", unit="dB", higher_is_better=True, tolerance=0.05, label="SI-SNR", improvement_label="SI-SNRi",
        description="scale-invariant SNR, zero-mean, utterance-level PIT", help="SI-SNR (dB), zero-mean, PIT over sources",
        libraries=("numpy",), headline="improvement")
def si_snr_pairs(pairs: Pairs) -> Iterator[float]:
    """SI-SNR of each pair: the values the permutation search already computed, when it did."""
    if pairs.si_snr is not None:
        yield from (float(v) for v in pairs.si_snr)
        return
    for ref, est in zip(pairs.references, pairs.estimates):
        yield si_snr_matrix(ref[None], est[None], strict=False)[0, 0]


@metric("sdr", unit="dB", higher_is_better=True, tolerance=0.05, label="SDR", improvement_label="SDRi",
        description="BSS Eval v3 SDR (bss_eval_sources), 512-tap distortion filter, float64, on the SI-SNR-aligned pairs",
        help="SDR (dB), BSS Eval v3, equal to mir_eval", libraries=("numpy", "scipy.fft", "scipy.linalg"),
        headline="improvement")
def sdr_pairs(pairs: Pairs) -> np.ndarray:
    """BSS Eval v3 SDR of every pair at once."""
    return sdr(pairs.references, pairs.estimates)


@metric("pesq", unit="MOS-LQO", higher_is_better=True, tolerance=0.02, label="PESQ", header_unit=False,
        description="PESQ by the pesq package: P.862 narrow-band at 8 kHz, P.862.2 wide-band at 16 kHz (mode in the settings)",
        help="PESQ (MOS-LQO), nb at 8 kHz, wb at 16 kHz", libraries=("pesq",), headline="value")
def pesq_pairs(pairs: Pairs) -> Iterator[float | MetricError]:
    for ref, est in zip(pairs.references, pairs.estimates):
        try:
            yield pesq(ref, est, pairs.sample_rate, pairs.settings.get("pesq_mode"))
        except MetricError as exc:
            yield exc


def _stoi_and_estoi(pairs: Pairs) -> Iterator[tuple[float, float] | MetricError]:
    """(STOI, ESTOI) of each pair: one computation gives both. The reference side is cached per
    reference (reused by every model's estimate); on the input side every row is the same
    mixture, resampled once."""
    sr = pairs.sample_rate
    shared = at_stoi_rate(pairs.estimates[0], sr) if pairs.input_side and len(pairs) else None
    for ref, est in zip(pairs.references, pairs.estimates):
        try:
            y = shared if shared is not None else at_stoi_rate(est, sr)
            yield estimate_side(reference_side(ref, sr), y)
        except MetricError as exc:
            yield exc


def _intelligibility(pairs: Pairs, which: int) -> Iterator[float | MetricError]:
    for item in pairs.shared("stoi+estoi", lambda: _stoi_and_estoi(pairs)):
        yield item if isinstance(item, MetricError) else item[which]


@metric("stoi", unit="1", higher_is_better=True, tolerance=0.002, label="STOI", decimals=3,
        description="STOI (Taal et al. 2011), equal to pystoi, clean reference first", help="STOI (0..1)",
        libraries=("pystoi", "scipy.signal"), headline="value")
def stoi_pairs(pairs: Pairs) -> Iterator[float | MetricError]:
    return _intelligibility(pairs, 0)


@metric("estoi", unit="1", higher_is_better=True, tolerance=0.002, label="ESTOI", decimals=3,
        description="extended STOI (Jensen & Taal 2016), equal to pystoi", help="ESTOI (-1..1)",
        libraries=("pystoi", "scipy.signal"))
def estoi_pairs(pairs: Pairs) -> Iterator[float | MetricError]:
    return _intelligibility(pairs, 1)


GMACS_PER_S = register_cost("gmacs_per_s", unit="GMAC/s", higher_is_better=False, tolerance=0.001,
                            description="multiply-accumulates per second of audio", label="GMAC/s",
                            header_unit=False, headline="value")
