"""The per-utterance metric suite: PIT on SI-SNR, then every selected metric on aligned pairs.

The run loop calls :meth:`MetricSuite.input_values` once per utterance of a dataset (cacheable:
it depends only on the data and the suite's settings) and :meth:`MetricSuite.evaluate` once per
(model, utterance). Both are pure functions of numpy arrays, so they run in worker processes.
A metric that fails gives NaN and a reason; it never raises out of the suite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import METRICS, MetricSpec
from .functional import best_permutation, si_snr, si_snr_matrix


@dataclass
class UtteranceMetrics:
    """Per-utterance values: ``values[col]`` for each metric column, NaN where it failed."""

    values: dict[str, float]
    permutation: tuple[int, ...] | None
    errors: dict[str, str] = field(default_factory=dict)


class MetricSuite:
    """The metrics chosen for a run, with their settings."""

    def __init__(self, names: Sequence[str] | None = None, sample_rate: int = 8000) -> None:
        self.names = list(names) if names else METRICS.names()
        for n in self.names:
            METRICS.entry(n)  # did-you-mean on a typo
        self.sample_rate = int(sample_rate)

    def specs(self) -> dict[str, MetricSpec]:
        return {n: METRICS.get(n) for n in self.names}

    def settings(self) -> dict:
        """Everything the values depend on besides the audio (the cache key of input values)."""
        return {"metrics": sorted(self.names), "sample_rate": self.sample_rate}

    def columns(self) -> list[str]:
        cols = []
        for n in self.names:
            cols += [n, f"{n}_input", f"{n}i"]
        return cols

    def input_values(self, mixture: np.ndarray, sources: np.ndarray) -> UtteranceMetrics:
        """Each metric of the unprocessed mixture against every source, averaged over sources.

        Shape: ``mixture [T]``, ``sources [n_src, T]``.
        """
        values: dict[str, float] = {}
        errors: dict[str, str] = {}
        if "si_snr" in self.names:
            try:
                values["si_snr_input"] = float(np.mean([si_snr(s, mixture) for s in sources]))
            except ValueError as exc:
                values["si_snr_input"] = float("nan")
                errors["si_snr_input"] = str(exc)
        return UtteranceMetrics(values, None, errors)

    def evaluate(self, estimates: np.ndarray, sources: np.ndarray, mixture: np.ndarray,
                 inputs: UtteranceMetrics) -> UtteranceMetrics:
        """Metrics of ``estimates`` after the permutation that maximises mean SI-SNR.

        Shape: ``estimates [n_src, T]``, ``sources [n_src, T]``, ``mixture [T]``.
        """
        values: dict[str, float] = dict(inputs.values)
        errors: dict[str, str] = dict(inputs.errors)
        perm: tuple[int, ...] | None = None
        try:
            score = si_snr_matrix(sources, estimates)
            perm = best_permutation(score)
            values["si_snr"] = float(np.mean([score[i, perm[i]] for i in range(len(perm))]))
        except ValueError as exc:
            values["si_snr"] = float("nan")
            errors["si_snr"] = str(exc)
        for n in self.names:
            if f"{n}_input" in values and n in values:
                values[f"{n}i"] = values[n] - values[f"{n}_input"]
        return UtteranceMetrics(values, perm, errors)
