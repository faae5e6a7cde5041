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

#: the per-utterance cost columns; not metrics of quality but tracked the same way in compare
COST_SPECS = {
    "gmacs_per_s": MetricSpec("gmacs_per_s", "GMAC/s", False, 0.001, "multiply-accumulates per second of audio", has_input=False),
}


def spec(name: str) -> MetricSpec:
    return METRICS.get(name)
