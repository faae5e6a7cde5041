"""What a metric is: one compute function plus one registration carrying everything else.

A metric is registered once, with :func:`metric` on its compute function::

    @metric("si_snr", unit="dB", higher_is_better=True, tolerance=0.05, label="SI-SNR",
            improvement_label="SI-SNRi", libraries=("numpy",), headline="improvement")
    def si_snr_pairs(pairs: Pairs) -> Iterable[float | MetricError]:
        ...

and every other place reads the registration (:data:`METRICS`): the suite loops over the
registered specs (:class:`dsnbench.metrics.suite.MetricSuite`), the run's result columns and
``summary.json``'s ``metrics_meta`` come from them, and so do the input-metric cache key (the
libraries), the worker preload, the versions a summary records, the regression tolerances of
``dsnbench compare``, the history's columns and the labels and decimals of tables and figures.

The compute contract (:class:`Pairs`): the function gets the reference/estimate pairs of one
utterance that are worth scoring (finite, not silent; already aligned by the SI-SNR
permutation) and yields one item per pair, in order: the value, or a :class:`MetricError`
whose message says why the pair has none. Raising stops the metric for the pairs not yet
yielded (a :class:`MetricError` gives them its message; any other exception is recorded as
``"<name> failed: <type>: <message>"``). Nothing a compute function does can stop a run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..registry import Registry

#: what a metric's headline column is: the value itself or its improvement over the mixture
HEADLINES = ("value", "improvement")


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: its compute and its metadata (design section 6).

    ``tolerance`` is the default absolute regression tolerance in ``unit``. ``has_input``: the
    metric is also computed on the mixture (``<name>_input``) and as improvement
    (``<name>i``). ``label`` / ``improvement_label`` are the display names (the improvement's
    defaults to ``"<label> improvement"``); ``decimals`` how many places tables print;
    ``header_unit`` whether table headers print the unit after the label. ``libraries`` are
    the modules the compute needs (imported by the metric workers before the first job; their
    distributions' versions are part of the input-metric cache key and of ``summary.json``).
    ``headline``: which of its columns default tables, the history and the run's printed
    summary show (``"value"``, ``"improvement"`` or None for none).
    """

    name: str
    unit: str
    higher_is_better: bool
    tolerance: float
    description: str = ""
    has_input: bool = True
    compute: Callable[["Pairs"], Iterable[Any]] | None = field(default=None, compare=False, repr=False)
    label: str = ""
    improvement_label: str = ""
    decimals: int = 2
    header_unit: bool = True
    libraries: tuple[str, ...] = ()
    headline: str | None = None

    def columns(self) -> list[str]:
        """The result columns of this metric: ``[name]`` or ``[name, name_input, namei]``."""
        return [self.name, f"{self.name}_input", f"{self.name}i"] if self.has_input else [self.name]

    def headline_column(self) -> str | None:
        if self.headline is None:
            return None
        return f"{self.name}i" if self.headline == "improvement" else self.name

    def meta(self) -> dict[str, Any]:
        """The record ``summary.json`` keeps under ``metrics_meta`` for each of its columns."""
        return {"unit": self.unit, "higher_is_better": self.higher_is_better, "tolerance": self.tolerance}


#: every metric the suite can compute, by name
METRICS = Registry("metric")
#: the per-utterance cost columns: not computed by the suite, but judged like metrics
COSTS = Registry("cost")


def metric(name: str, *, unit: str, higher_is_better: bool, tolerance: float, help: str = "",
           **fields: Any) -> Callable[[Callable], Callable]:
    """Register the decorated compute function as metric ``name`` (see the module docstring)."""
    if fields.get("headline") not in (None, *HEADLINES):
        raise ValueError(f"metric {name!r}: headline must be one of {HEADLINES} or None")

    def register(fn: Callable) -> Callable:
        METRICS.register(name, MetricSpec(name, unit, higher_is_better, tolerance, compute=fn,
                                          **_with_labels(name, fields)), help=help)
        return fn
    return register


def _with_labels(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    out.setdefault("label", name)
    out.setdefault("improvement_label", f"{out['label']} improvement")
    out["libraries"] = tuple(out.get("libraries", ()))
    return out


def register_cost(name: str, *, unit: str, higher_is_better: bool, tolerance: float, help: str = "",
                  **fields: Any) -> MetricSpec:
    """Register a cost column (no compute, no input value)."""
    spec = MetricSpec(name, unit, higher_is_better, tolerance, has_input=False, **_with_labels(name, fields))
    COSTS.register(name, spec, help=help)
    return spec


def specs() -> list[MetricSpec]:
    """Every registered metric, in registration order (the order of the result columns)."""
    return [METRICS.get(n) for n in METRICS.in_order()]


def metric_columns(names: Iterable[str] | None = None) -> list[str]:
    """The result columns of ``names`` (default: every registered metric), in column order."""
    chosen = list(METRICS.in_order()) if names is None else ordered(names)
    return [c for n in chosen for c in METRICS.get(n).columns()]


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, in registration order; an unknown name raises with a hint."""
    names = list(dict.fromkeys(names))
    for n in names:
        METRICS.entry(n)
    position = {n: i for i, n in enumerate(METRICS.in_order())}
    return sorted(names, key=lambda n: position[n])


def headline_columns() -> list[str]:
    """The columns default tables and the history show, in column order."""
    return [c for s in specs() if (c := s.headline_column()) is not None]


@dataclass(frozen=True)
class ColumnInfo:
    """How to show and judge one column of the results: a metric's value, input or improvement,
    or a cost."""

    column: str
    spec: MetricSpec
    kind: str  # "value", "input", "improvement" or "cost"

    @property
    def label(self) -> str:
        if self.kind == "improvement":
            return self.spec.improvement_label
        if self.kind == "input":
            return f"{self.spec.label} of the mixture"
        return self.spec.label

    def label_with_unit(self, unit: str | None = None) -> str:
        """``"SI-SNRi (dB)"``: the label and the unit (``unit`` overrides the spec's), the unit
        left out when there is none (``""`` or ``"1"``) or the label already says it."""
        unit = self.spec.unit if unit is None else unit
        return self.label if unit in ("", "1", "none") or unit == self.label else f"{self.label} ({unit})"

    @property
    def header(self) -> str:
        """The column's header in result tables (the unit only where the spec prints it)."""
        return self.label_with_unit() if self.spec.header_unit else self.label

    @property
    def decimals(self) -> int:
        return self.spec.decimals


def column_info(column: str) -> ColumnInfo | None:
    """What a result column is (``si_snri`` -> SI-SNR's improvement), or None if no registered
    metric or cost has it. ``gmacs`` (the analysis tables' name of ``gmacs_per_s``) is the cost."""
    column = "gmacs_per_s" if column == "gmacs" else column
    if column in COSTS:
        return ColumnInfo(column, COSTS.get(column), "cost")
    if column in METRICS:
        return ColumnInfo(column, METRICS.get(column), "value")
    for suffix, kind in (("_input", "input"), ("i", "improvement")):
        base = column[: -len(suffix)]
        if column.endswith(suffix) and base in METRICS and METRICS.get(base).has_input:
            return ColumnInfo(column, METRICS.get(base), kind)
    return None


def distributions(names: Iterable[str] | None = None) -> list[str]:
    """The distributions (top-level package names) the metrics' libraries come from, in order."""
    chosen = specs() if names is None else [METRICS.get(n) for n in ordered(names)]
    return list(dict.fromkeys(lib.split(".")[0] for s in chosen for lib in s.libraries))


class Pairs:
    """The pairs of one utterance a metric scores: row ``j`` of ``references`` with row ``j`` of
    ``estimates`` (float64, finite, not silent, aligned by the SI-SNR permutation).

    ``input_side``: the estimates are the unprocessed mixture (every row the same signal).
    ``si_snr``: the pairs' SI-SNR, already computed for the permutation (None when not).
    ``settings``: the suite's settings (``sample_rate``, ``pesq_mode``, ...).
    :meth:`shared` lets two metrics that come out of one computation (STOI and ESTOI) do it once.

    Shape: ``references [k, T]``, ``estimates [k, T]``, ``si_snr [k]``.
    """

    def __init__(self, references: np.ndarray, estimates: np.ndarray, sample_rate: int, *,
                 settings: dict[str, Any] | None = None, input_side: bool = False,
                 si_snr: np.ndarray | None = None) -> None:
        self.references = references
        self.estimates = estimates
        self.sample_rate = int(sample_rate)
        self.settings = dict(settings or {})
        self.input_side = input_side
        self.si_snr = si_snr
        self._shared: dict[str, tuple[list, BaseException | None]] = {}

    def __len__(self) -> int:
        return int(self.references.shape[0])

    def shared(self, key: str, compute: Callable[[], Iterable[Any]]) -> Iterator[Any]:
        """The items of ``compute()``, computed on the first call for ``key`` and replayed after
        (an exception that stopped it is raised again, after the items it let through)."""
        if key not in self._shared:
            items: list = []
            error: BaseException | None = None
            try:
                for item in compute():
                    items.append(item)
            except Exception as exc:  # noqa: BLE001 - replayed to every metric that shares it
                error = exc
            self._shared[key] = (items, error)
        items, error = self._shared[key]
        yield from items
        if error is not None:
            raise error
