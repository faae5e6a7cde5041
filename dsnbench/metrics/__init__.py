"""Metrics: pure functions (:mod:`.functional`), their metadata, and the per-utterance suite."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry


@dataclass(frozen=True)
class MetricSpec:
    """Metadata every metric carries (design section 6)."""

    name: str
    unit: str
    higher_is_better: bool
    tolerance: float  # default absolute regression tolerance, in ``unit``
    description: str = ""
    #: has an ``*_input`` value (on the mixture) and an improvement ``*i``
    has_input: bool = True


METRICS = Registry("metric")

METRICS.register("si_snr", MetricSpec("si_snr", "dB", True, 0.05,
                 "scale-invariant SNR, zero-mean, utterance-level PIT"),
                 help="SI-SNR (dB), zero-mean, PIT over sources")
METRICS.register("sdr", MetricSpec("sdr", "dB", True, 0.05,
                 "BSS Eval v3 SDR (bss_eval_sources), 512-tap distortion filter, float64, on the SI-SNR-aligned pairs"),
                 help="SDR (dB), BSS Eval v3, equal to mir_eval")
METRICS.register("pesq", MetricSpec("pesq", "MOS-LQO", True, 0.02,
                 "PESQ by the pesq package: P.862 narrow-band at 8 kHz, P.862.2 wide-band at 16 kHz (mode in the settings)"),
                 help="PESQ (MOS-LQO), nb at 8 kHz, wb at 16 kHz")
METRICS.register("stoi", MetricSpec("stoi", "1", True, 0.002,
                 "STOI (Taal et al. 2011), equal to pystoi, clean reference first"),
                 help="STOI (0..1)")
METRICS.register("estoi", MetricSpec("estoi", "1", True, 0.002,
                 "extended STOI (Jensen & Taal 2016), equal to pystoi"),
                 help="ESTOI (-1..1)")

#: the per-utterance cost columns; not metrics of quality but tracked the same way in compare
COST_SPECS = {
    "gmacs_per_s": MetricSpec("gmacs_per_s", "GMAC/s", False, 0.001, "multiply-accumulates per second of audio", has_input=False),
}


def spec(name: str) -> MetricSpec:
    return METRICS.get(name)
