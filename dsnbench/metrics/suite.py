"""The per-utterance metric suite: PIT on SI-SNR, then every selected metric on aligned pairs.

The run loop calls :meth:`MetricSuite.input_values` once per utterance of a dataset (cacheable:
it depends only on the data and the suite's settings; see :mod:`.cache`) and
:meth:`MetricSuite.evaluate` once per (model, utterance). Both are pure functions of numpy
arrays, so they run in worker processes. The suite knows no metric by name except SI-SNR,
which chooses the permutation: it loops over the registered specs (:mod:`.spec`).

Convention (design section 6): the permutation is the one that maximises the mean SI-SNR over
sources (recorded); every other metric is computed on the pairs it aligns (SDR, PESQ, STOI,
ESTOI), then averaged over sources. ``*_input`` is the metric of the unprocessed mixture against
each source, averaged over sources; ``*i`` is the metric minus its input value.

Failure policy: a metric that is undefined for an utterance (silent reference, silent estimate,
NaN/Inf samples, too short for PESQ or STOI, ...) is NaN in ``values`` and every NaN column has
its reason in ``errors`` (the run loop writes them to the ``error`` column and counts them per
metric in summary.json). Nothing here raises for any input arrays; only constructing a suite
with invalid settings raises ValueError.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .functional import (SDR_FILTER_LENGTH, MetricError, best_permutation, check_pesq_mode,
                         default_pesq_mode, is_silent, segmental_si_snr, si_snr_matrix)
from .spec import METRICS, MetricSpec, Pairs, ordered

#: bump when a definition here changes values (invalidates cached input metrics)
DEFINITIONS_VERSION = 1


@dataclass
class UtteranceMetrics:
    """Per-utterance values: ``values[col]`` for each metric column, NaN where it failed.

    ``errors[col]`` gives the reason for each NaN column. ``per_source[metric]`` holds the
    per-source values (reference order) behind each mean, NaN where undefined.
    ``segments`` holds ``(values, reasons)`` of segmental SI-SNR when a grid was asked for.
    """

    values: dict[str, float]
    permutation: tuple[int, ...] | None
    errors: dict[str, str] = field(default_factory=dict)
    per_source: dict[str, list[float]] = field(default_factory=dict)
    segments: tuple[list[float], list[str | None]] | None = None


class MetricSuite:
    """The metrics chosen for a run, with their settings.

    ``names`` selects a subset of the registered metrics (the CLI's ``--metrics``), default all;
    columns come in registration order (design section 7's order for the shipped metrics). ``pesq_mode`` forces a PESQ mode where it is
    valid (``"nb"`` at 8 or 16 kHz, ``"wb"`` at 16 kHz); by default nb at 8 kHz, wb at 16 kHz.
    Raises ValueError for an unknown name (with suggestions) or an invalid PESQ setting.
    """

    def __init__(self, names: Sequence[str] | None = None, sample_rate: int = 8000,
                 pesq_mode: str | None = None) -> None:
        self.names = ordered(names) if names else METRICS.in_order()  # did-you-mean on a typo
        self.sample_rate = int(sample_rate)
        self.pesq_mode: str | None = None
        if "pesq" in self.names:
            try:
                self.pesq_mode = check_pesq_mode(pesq_mode, self.sample_rate) if pesq_mode else \
                    default_pesq_mode(self.sample_rate)
            except ValueError as exc:
                others = ",".join(n for n in self.names if n != "pesq")
                raise ValueError(f"{exc}; choose another --pesq-mode or leave PESQ out"
                                 + (f" (--metrics {others})" if others else "")) from None
        elif pesq_mode is not None and pesq_mode not in ("nb", "wb"):
            raise ValueError(f"pesq mode must be 'nb' or 'wb', got {pesq_mode!r}")

    # -- description -------------------------------------------------------------------
    def specs(self) -> dict[str, MetricSpec]:
        return {n: METRICS.get(n) for n in self.names}

    def settings(self) -> dict[str, Any]:
        """Everything the values depend on besides the audio (the cache key of input values)."""
        return {"metrics": sorted(self.names), "sample_rate": self.sample_rate,
                "pesq_mode": self.pesq_mode, "sdr_filter_length": SDR_FILTER_LENGTH,
                "definitions_version": DEFINITIONS_VERSION}

    def columns(self) -> list[str]:
        return [c for spec in self.specs().values() for c in spec.columns()]

    def input_columns(self) -> list[str]:
        return [f"{n}_input" for n in self.names if METRICS.get(n).has_input]

    # -- computing -----------------------------------------------------------------------
    def input_values(self, mixture: np.ndarray, sources: np.ndarray) -> UtteranceMetrics:
        """Each metric of the unprocessed mixture against every source, averaged over sources.

        Shape: ``mixture [T]``, ``sources [n_src, T]``.
        """
        cols = self.input_columns()
        try:
            mix = np.asarray(mixture, dtype=np.float64)
            refs = np.asarray(sources, dtype=np.float64)
            if refs.ndim != 2 or mix.ndim != 1 or refs.shape[1] != mix.shape[0] or refs.shape[0] < 1:
                raise MetricError(f"mixture {mix.shape} and sources {refs.shape} are not [T] and [n_src, T]")
        except (MetricError, ValueError, TypeError) as exc:
            return UtteranceMetrics({c: math.nan for c in cols}, None, {c: str(exc) for c in cols})
        n_src = refs.shape[0]
        estimates = np.broadcast_to(mix, refs.shape)
        estimates = np.ascontiguousarray(estimates)
        # the full matrix, as evaluate() computes it, so estimates equal to the mixture give
        # improvements of exactly 0
        diag = np.diagonal(si_snr_matrix(refs, estimates, strict=False)) if "si_snr" in self.names else None
        per_source, reasons = self._pair_metrics(refs, estimates, input_side=True, si_snr_diag=diag)
        values: dict[str, float] = {}
        errors: dict[str, str] = {}
        for n in self.names:
            if not METRICS.get(n).has_input:
                continue
            col = f"{n}_input"
            values[col], reason = _mean_with_reason(per_source[n], reasons[n], n_src)
            if reason:
                errors[col] = reason
        return UtteranceMetrics(values, None, errors,
                                {f"{k}_input": list(map(float, v)) for k, v in per_source.items()})

    def evaluate(self, estimates: np.ndarray, sources: np.ndarray, mixture: np.ndarray,
                 inputs: UtteranceMetrics | None = None, *,
                 segment_grid: tuple[int, int, int] | None = None) -> UtteranceMetrics:
        """Metrics of ``estimates`` after the permutation that maximises mean SI-SNR.

        ``inputs`` are this utterance's :meth:`input_values` (computed here when None).
        ``segment_grid = (length, hop, n_segments)`` also computes segmental SI-SNR on the
        aligned pairs into ``result.segments``.

        One target (an enhancement task) and several estimates (a separator's outputs): the
        output with the highest SI-SNR against the target is scored and the others are left
        out; ``permutation`` is ``(k,)``, the index of that output.

        Shape: ``estimates [n_src, T]`` (or ``[n_out, T]`` when ``n_src`` is 1),
        ``sources [n_src, T]``, ``mixture [T]``.
        """
        if inputs is None:
            inputs = self.input_values(mixture, sources)
        in_cols = set(self.input_columns())
        values: dict[str, float] = {k: v for k, v in inputs.values.items() if k in in_cols}
        errors: dict[str, str] = {k: v for k, v in inputs.errors.items() if k in in_cols}
        per_source: dict[str, list[float]] = {k: v for k, v in inputs.per_source.items()}
        for c in in_cols - set(values):
            values[c] = math.nan
            errors.setdefault(c, "input value missing")
        perm: tuple[int, ...] | None = None
        segments = None
        try:
            refs = np.asarray(sources, dtype=np.float64)
            ests = np.asarray(estimates, dtype=np.float64)
            if refs.ndim != 2 or ests.ndim != 2 or refs.shape[0] < 1 or refs.shape[1] != ests.shape[1] \
                    or not (refs.shape[0] == ests.shape[0] or refs.shape[0] == 1 < ests.shape[0]):
                raise MetricError(f"estimates {ests.shape} do not match sources {refs.shape}")
            score = si_snr_matrix(refs, ests, strict=False)
            perm = best_permutation(score)
            if np.all(np.isnan(score[np.arange(len(perm)), list(perm)])):
                perm = None
            order = list(perm) if perm is not None else list(range(refs.shape[0]))
            aligned = ests[order]
            diag = score[np.arange(len(order)), order]
            if ests.shape[0] != refs.shape[0]:
                # the chosen output alone, computed as the input side computes the mixture's
                # value, so an output equal to the mixture improves by exactly 0
                diag = np.diagonal(si_snr_matrix(refs, aligned, strict=False))
            pairs, reasons = self._pair_metrics(refs, aligned, input_side=False, si_snr_diag=diag)
            for n in self.names:
                values[n], reason = _mean_with_reason(pairs[n], reasons[n], refs.shape[0])
                per_source[n] = [float(v) for v in pairs[n]]
                if reason:
                    errors[n] = reason
            if segment_grid is not None:
                length, hop, n_seg = (int(v) for v in segment_grid)
                if perm is None:
                    segments = ([math.nan] * n_seg, ["no permutation (SI-SNR undefined for every pair)"] * n_seg)
                else:
                    segments = segmental_si_snr(refs, aligned, length, hop, n_seg)
        except Exception as exc:  # never raise out of the suite: the whole row gets the reason
            reason = str(exc) if isinstance(exc, MetricError) else f"{type(exc).__name__}: {exc}"
            for n in self.names:
                values[n] = math.nan
                errors[n] = reason
            if segment_grid is not None:
                segments = ([math.nan] * int(segment_grid[2]), [reason] * int(segment_grid[2]))
        for n in self.names:
            if not METRICS.get(n).has_input:
                continue
            imp, inp = f"{n}i", f"{n}_input"
            values[imp] = values[n] - values[inp]
            if math.isnan(values[imp]):
                errors[imp] = errors.get(n) or errors.get(inp) or "undefined"
        ordered = {c: values[c] for c in self.columns() if c in values}
        return UtteranceMetrics(ordered, perm, {c: errors[c] for c in ordered if c in errors}, per_source, segments)

    # -- internals -----------------------------------------------------------------------
    def _pair_metrics(self, refs: np.ndarray, ests: np.ndarray, *, input_side: bool,
                      si_snr_diag: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, list]]:
        """Each selected metric for each pair (row i of refs with row i of ests).

        Returns per-metric arrays ``[n_src]`` (NaN where undefined) and per-metric lists of
        reasons (None where defined). Never raises.
        """
        n_src = refs.shape[0]
        values = {n: np.full(n_src, math.nan) for n in self.names}
        reasons: dict[str, list] = {n: [None] * n_src for n in self.names}
        what = "mixture" if input_side else "estimate"
        # reasons shared by every metric of a pair: non-finite or silent signals
        bad: list[str | None] = [None] * n_src
        for i in range(n_src):
            if not np.all(np.isfinite(refs[i])):
                bad[i] = f"reference {i} has non-finite samples"
            elif not np.all(np.isfinite(ests[i])):
                bad[i] = f"{what}{'' if input_side else f' for source {i}'} has " \
                         f"{int(np.count_nonzero(~np.isfinite(ests[i])))} non-finite sample(s)"
            elif is_silent(refs[i]):
                bad[i] = f"silent reference {i}"
            elif is_silent(ests[i]):
                bad[i] = f"silent {what}" + ("" if input_side else f" for source {i}")
        ok = [i for i in range(n_src) if bad[i] is None]
        for n in self.names:
            for i in range(n_src):
                if bad[i] is not None:
                    reasons[n][i] = bad[i]
        if not ok:
            return values, reasons

        def note(name: str, i: int, text: str) -> None:
            if reasons[name][i] is None:
                reasons[name][i] = text if n_src == 1 else f"source {i}: {text}"

        pairs = Pairs(refs[ok], ests[ok], self.sample_rate, settings=self.settings(), input_side=input_side,
                      si_snr=None if si_snr_diag is None else np.asarray(si_snr_diag)[ok])
        for name, spec in self.specs().items():
            try:
                for j, item in enumerate(spec.compute(pairs)):
                    if isinstance(item, MetricError):
                        note(name, ok[j], str(item))
                    else:
                        values[name][ok[j]] = item
            except MetricError as exc:
                for i in ok:
                    if math.isnan(values[name][i]):
                        note(name, i, str(exc))
            except Exception as exc:  # a library bug must not stop a run: record it
                for i in ok:
                    if math.isnan(values[name][i]):
                        note(name, i, f"{name} failed: {type(exc).__name__}: {exc}")
        # a value that came out NaN without a reason still gets one
        for n in self.names:
            for i in range(n_src):
                if not np.isfinite(values[n][i]):
                    if reasons[n][i] is None:
                        reasons[n][i] = f"{n} not finite"
                    values[n][i] = math.nan
        return values, reasons


_SUITES: dict[tuple, MetricSuite] = {}


def make_suite(names: Sequence[str] | None, sample_rate: int, pesq_mode: str | None) -> MetricSuite:
    """The suite of a run's settings (``pesq_mode`` None: the rate's default)."""
    kwargs = {"pesq_mode": pesq_mode} if pesq_mode is not None else {}
    return MetricSuite(names, sample_rate, **kwargs)


def suite_for(names: Sequence[str] | None, sample_rate: int, pesq_mode: str | None) -> MetricSuite:
    """:func:`make_suite`, built once per process for each settings (and set of registered
    metrics): worker processes call this for every job."""
    key = (tuple(names) if names else None, tuple(METRICS.in_order()), int(sample_rate), pesq_mode)
    suite = _SUITES.get(key)
    if suite is None:
        suite = _SUITES[key] = make_suite(names, sample_rate, pesq_mode)
    return suite


def _mean_with_reason(values: np.ndarray, reasons: list, n_src: int) -> tuple[float, str | None]:
    """Mean over sources; NaN with the joined reasons if any source is undefined."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == n_src and np.all(np.isfinite(arr)):
        return float(np.mean(arr)), None
    found: list[str] = []
    for r in reasons:
        if r is not None and r not in found:
            found.append(r)
    return math.nan, "; ".join(found) or "undefined"
