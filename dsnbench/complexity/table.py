"""The MAC table: count a model once with fvcore, then price every trace from the table.

Tracing a forward with fvcore costs about as much as the forward itself (0.1-0.4 s on CPU), so
``dsnbench run`` never traces per utterance. :func:`build_mac_table` traces the model's parts a
few times, derives an exact cost model from them, verifies it on sizes it was not fitted on,
and :meth:`MacTable.price` then turns a :class:`~dsnbench.types.SegmentTrace` into MACs by
arithmetic. Tests prove the priced totals equal a full fvcore trace of the same forward on the
same input to the MAC.

What a separator's ``complexity()`` may return
-----------------------------------------------
* ``None``: the count is not defined (an oracle that reads the references): NaN MACs.
* ``{"macs_per_second": r}``: an exact closed form (``0`` for the mixture oracle).
* :class:`ModuleComplexity`: a static network as one traced forward. With
  ``length_features`` (e.g. ``{"frames": F}`` or ``{"frames": F, "chunks": S}``) the count is a
  polynomial in those integer features, fitted exactly (rational arithmetic) from traces at
  several lengths and verified on more lengths than it needs; without it every distinct input
  length is traced once and cached (exact, slower: one trace per new length).
* :class:`PartsComplexity`: a network described part by part (the DSN): parts priced per encoder
  frame, per chunk (each width-dependent part at its width, the gate) and per mixture as a
  function of the number of chunks (inter-chunk attention, quadratic in it).

Segment MACs
------------
For a trace with ``n_seg`` segments: each segment gets the per-chunk cost of the parts that run
once per chunk (the width-dependent layers at that segment's width and the gate), and the
width-independent rest (encoder, decoder, masks, inter-chunk layers) is spread evenly over the
segments in integer MACs (the remainder goes one MAC each to the first segments), so the
segment MACs always add up exactly to the total. A model without its own segment grid (static)
spreads its whole total evenly over the grid it is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..types import ModuleComplexity, Part, PartsComplexity, SegmentTrace
from .counting import MacCount, count_macs

__all__ = ["ModuleComplexity", "PartsComplexity", "Part", "MacTable", "PricedTrace",
           "build_mac_table", "spread_evenly", "fit_polynomial"]


# --------------------------------------------------------------------------- results
@dataclass
class PricedTrace:
    """MACs of one utterance.

    Shape: ``macs_per_segment`` is ``[n_segments]`` (int64; float NaN when undefined).
    ``width_share`` maps a width value (as a string) to the fraction of segments run at it
    (None for a model without widths).
    """

    macs_per_segment: np.ndarray
    total_macs: int | float
    gmacs_per_s: float
    width_share: dict[str, float] | None = None

    @property
    def flops(self) -> int | float:
        """FLOPs = 2 x MACs."""
        return 2 * self.total_macs


def spread_evenly(total: int, n: int) -> np.ndarray:
    """Integer split of ``total`` into ``n`` parts that differ by at most 1 and add up exactly.

    Shape: returns ``[n]`` int64.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    base, rest = divmod(int(total), n)
    out = np.full(n, base, dtype=np.int64)
    out[:rest] += 1
    return out


# --------------------------------------------------------------------------- exact fitting
def fit_polynomial(rows: Sequence[Sequence[int]], values: Sequence[int]) -> list[Fraction]:
    """Exact least-squares solution of ``rows @ c = values`` in rationals; raises unless exact.

    Every equation must hold exactly (residual 0), so extra rows beyond the unknowns are
    verification. Raises ValueError if the rows do not determine the coefficients or a
    residual is not zero.
    """
    a = [[Fraction(v) for v in r] for r in rows]
    b = [Fraction(v) for v in values]
    n = len(a[0])
    # normal equations, solved by Gauss-Jordan elimination in rationals
    m = [[sum(a[k][i] * a[k][j] for k in range(len(a))) for j in range(n)]
         + [sum(a[k][i] * b[k] for k in range(len(a)))] for i in range(n)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if m[r][col] != 0), None)
        if pivot is None:
            raise ValueError("the traced sizes do not determine the cost model (singular system)")
        m[col], m[pivot] = m[pivot], m[col]
        p = m[col][col]
        m[col] = [v / p for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    coef = [m[i][n] for i in range(n)]
    for row, value in zip(a, b):
        if sum(c * x for c, x in zip(coef, row)) != value:
            raise ValueError("MACs are not exactly this polynomial in the given sizes")
    return coef


def _eval_poly(coef: Sequence[Fraction], row: Sequence[int]) -> int:
    value = sum(c * x for c, x in zip(coef, row))
    if value.denominator != 1:
        raise ArithmeticError(f"cost model gave a non-integer MAC count {value}")
    return int(value)


# --------------------------------------------------------------------------- the table
@dataclass
class _PartCost:
    name: str
    unit: str
    width_index: int | None
    coef: list[Fraction] | None  # polynomial in n (frames/chunks: affine; segments: degree 2)
    cache: dict[int, int] = field(default_factory=dict)
    module: nn.Module | None = None
    make_input: Callable[[int], tuple] | None = None

    def __post_init__(self) -> None:
        # integer coefficients (the usual case) are evaluated with int arithmetic: fast pricing
        self._int_coef = ([int(c) for c in self.coef]
                          if self.coef is not None and all(c.denominator == 1 for c in self.coef) else None)

    def cost(self, n: int) -> int:
        if self._int_coef is not None:
            return sum(c * n ** i for i, c in enumerate(self._int_coef))
        if self.coef is not None:
            return _eval_poly(self.coef, [n ** i for i in range(len(self.coef))])
        if n not in self.cache:
            self.cache[n] = count_macs(self.module, self.make_input(n)).total
        return self.cache[n]


class MacTable:
    """MACs of one model, built once, priced per utterance (see the module docstring)."""

    def __init__(self, kind: str, sample_rate: int | None, description: str = "") -> None:
        self.kind = kind  # "undefined", "rate", "module", "parts"
        self.sample_rate = sample_rate
        self.description = description
        self.rate: float | None = None
        self.params: int | None = None
        # module
        self._module_spec: ModuleComplexity | None = None
        self._feature_names: list[str] = []
        self._coef: list[Fraction] | None = None
        self._by_length: dict[int, int] = {}
        self._part_prefixes: dict[str, list[str]] = {}
        self._part_coef: dict[str, list[Fraction] | None] = {}
        # parts
        self._parts_spec: PartsComplexity | None = None
        self._parts: list[_PartCost] = []
        self._chunk_cache: tuple | None = None

    # -- public ------------------------------------------------------------------------
    @property
    def width_values(self) -> tuple[float, ...]:
        if self._parts_spec is not None:
            return tuple(self._parts_spec.width_values)
        if self._module_spec is not None:
            return (float(self._module_spec.width),)
        return ()

    def total_macs(self, n_samples: int, widths: np.ndarray | None = None) -> int | float:
        """MACs of one forward on ``n_samples`` samples (``widths``: index per segment)."""
        return self.price_widths(n_samples, widths)[1]

    def price(self, trace: SegmentTrace | None, n_samples: int,
              sample_rate: int | None = None) -> PricedTrace:
        """MACs of one utterance of ``n_samples`` samples separated with ``trace``.

        ``trace`` may be the model's own trace, None, or a grid trace of the run loop whose
        width values are not this model's (e.g. NaN for a static model): then the model's
        default width is priced and the total spread evenly over the trace's segments.
        """
        rate = sample_rate or self.sample_rate
        seconds = n_samples / rate if rate else math.nan
        n_grid = trace.n_segments if trace is not None else 0
        if self.kind == "undefined":
            return PricedTrace(np.full(n_grid, np.nan), math.nan, math.nan)
        if self.kind == "rate":
            if not rate:
                raise ValueError("pricing a MACs-per-second model needs the sample rate")
            total = int(round(self.rate * seconds))
            return PricedTrace(spread_evenly(total, n_grid), total, total / seconds / 1e9)
        widths = self._own_widths(trace, n_samples)
        per_segment, total = self.price_widths(n_samples, widths)
        if widths is None or per_segment is None or per_segment.size != n_grid:
            per_segment = spread_evenly(total, n_grid)
        share = None
        if widths is not None and self.kind == "parts":
            values = np.asarray(self.width_values)[widths]
            share = {f"{v:g}": float(np.mean(values == v)) for v in sorted(set(values.tolist()))}
        elif self.kind == "module" or self.kind == "parts":
            share = {f"{self.width_values[self._default_index()]:g}": 1.0}
        return PricedTrace(per_segment, total, total / seconds / 1e9 if rate else math.nan, share)

    def price_widths(self, n_samples: int, widths: np.ndarray | None
                     ) -> tuple[np.ndarray | None, int | float]:
        """(MACs per segment or None, total) for width indices per segment (None: default)."""
        if self.kind == "module":
            return None, self._module_total(n_samples)
        if self.kind != "parts":
            raise ValueError(f"no per-width pricing for a {self.kind} table")
        spec = self._parts_spec
        n_frames, n_seg = spec.n_frames(n_samples), spec.n_segments(n_samples)
        if widths is None:
            widths = np.full(n_seg, self._default_index(), dtype=np.int64)
        widths = np.asarray(widths, dtype=np.int64)
        if widths.shape != (n_seg,):
            raise ValueError(f"{n_samples} samples make {n_seg} segments, the trace has {widths.size}")
        if self._chunk_cache is None:
            self._chunk_cache = (
                np.asarray(self.chunk_costs(), dtype=np.int64),
                sum(p.cost(1) - p.cost(0) for p in self._parts if p.unit == "chunks" and p.width_index is None),
                sum(p.cost(0) for p in self._parts if p.unit == "chunks"))
        per_chunk_width, per_chunk_fixed, chunk_offsets = self._chunk_cache
        rest = chunk_offsets + sum(p.cost(n_frames) for p in self._parts if p.unit == "frames") \
            + sum(p.cost(n_seg) for p in self._parts if p.unit == "segments")
        per_segment = per_chunk_width[widths] + per_chunk_fixed
        per_segment = per_segment + spread_evenly(rest, n_seg)
        return per_segment, int(per_segment.sum())

    def chunk_costs(self) -> list[int]:
        """MACs per chunk of the width-dependent parts at each width index."""
        out = []
        for k in range(len(self.width_values)):
            out.append(sum(p.cost(1) - p.cost(0) for p in self._parts
                           if p.unit == "chunks" and p.width_index == k))
        return out

    def breakdown(self, n_samples: int, width_index: int | None = None) -> dict[str, int]:
        """MACs per named part for one forward at one width (``dsnbench macs``)."""
        if self.kind == "parts":
            spec = self._parts_spec
            k = self._default_index() if width_index is None else width_index
            n_frames, n_seg = spec.n_frames(n_samples), spec.n_segments(n_samples)
            out: dict[str, int] = {}
            for p in self._parts:
                if p.unit == "chunks" and p.width_index not in (None, k):
                    continue
                size = {"frames": n_frames, "chunks": n_seg, "segments": n_seg}[p.unit]
                name = p.name.split("@")[0]
                out[name] = out.get(name, 0) + p.cost(size)
            return out
        if self.kind == "module":
            count = self._trace_module(n_samples)
            return {name: count.under(prefixes) for name, prefixes in self._part_prefixes.items()}
        return {}

    # -- internals -----------------------------------------------------------------------
    def _default_index(self) -> int:
        if self._parts_spec is None:
            return 0
        return self._parts_spec.default_width_index % len(self._parts_spec.width_values)

    def _own_widths(self, trace: SegmentTrace | None, n_samples: int) -> np.ndarray | None:
        if trace is None or self.kind != "parts":
            return None
        spec = self._parts_spec
        mine = [float(w) for w in spec.width_values]
        theirs = [float(w) for w in trace.width_values]
        if (trace.length, trace.hop) != (spec.segment_length, spec.segment_hop) or \
                not all(any(abs(t - m) < 1e-9 for m in mine) for t in theirs):
            if all(math.isnan(t) for t in theirs):
                return None  # the run loop's grid for a model that gave no trace
            raise ValueError(f"trace (length {trace.length}, hop {trace.hop}, widths {theirs}) does "
                             f"not match this model's grid ({spec.segment_length}, "
                             f"{spec.segment_hop}) and widths {mine}")
        to_mine = np.asarray([next(i for i, m in enumerate(mine) if abs(t - m) < 1e-9)
                              for t in theirs], dtype=np.int64)
        return to_mine[trace.widths]

    def _module_total(self, n_samples: int) -> int:
        if self._coef is not None:
            feats = self._module_spec.length_features(n_samples)
            return _eval_poly(self._coef, [1] + [int(feats[k]) for k in self._feature_names])
        if n_samples not in self._by_length:
            self._by_length[n_samples] = self._trace_module(n_samples).total
        return self._by_length[n_samples]

    def _trace_module(self, n_samples: int) -> MacCount:
        spec = self._module_spec
        x = _example_mixture(n_samples)
        return count_macs(spec.module, (x,), fn=spec.forward)


def _example_mixture(n_samples: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(n_samples)
    return 0.1 * torch.randn(1, n_samples, generator=g)


def _probe_lengths(sample_rate: int | None, count: int) -> list[int]:
    """Distinct, irregular input lengths (0.12 s and up, 0.11 s apart) used to fit and verify."""
    base = sample_rate or 8000
    return [int(base * (0.12 + 0.11 * i)) + (37 * i * i) % 11 + 3 * i for i in range(count)]


# --------------------------------------------------------------------------- building
def build_mac_table(separator: Any, sample_rate: int | None = None, verify: str = "parts") -> MacTable:
    """Build the MAC table of a separator (or of a complexity spec given directly).

    ``verify`` (part-by-part models): ``"parts"`` (default, cheapest: what the run loop uses)
    fits each part's cost from the fewest traced sizes; ``"parts-extra"`` traces each part at one
    more size that must agree; ``"full"`` checks the whole table against one full fvcore trace
    of the network with every width used (``dsnbench macs`` does this; about one more forward).

    Raises :class:`~dsnbench.complexity.counting.UnsupportedOpError` if a traced op has no
    MAC rule, ValueError if the model's cost is not what its spec says (e.g. not polynomial in
    the declared features).
    """
    spec = separator.complexity() if hasattr(separator, "complexity") else separator
    rate = sample_rate or getattr(separator, "sample_rate", None) or getattr(spec, "sample_rate", None)
    name = getattr(separator, "name", type(separator).__name__)
    params = separator.params() if hasattr(separator, "params") else None
    if spec is None:
        table = MacTable("undefined", rate, f"{name}: complexity not defined")
    elif isinstance(spec, Mapping) and "macs_per_second" in spec:
        table = MacTable("rate", rate, f"{name}: {spec['macs_per_second']} MACs per second")
        table.rate = float(spec["macs_per_second"])
    elif isinstance(spec, ModuleComplexity):
        table = _build_module(spec, rate or spec.sample_rate, name)
    elif isinstance(spec, PartsComplexity):
        table = _build_parts(spec, rate or spec.sample_rate, name, verify)
    else:
        raise TypeError(f"{name}: complexity() returned {type(spec).__name__}; expected None, "
                        "{'macs_per_second': r}, ModuleComplexity or PartsComplexity")
    table.params = params
    return table


def _build_module(spec: ModuleComplexity, rate: int | None, name: str) -> MacTable:
    table = MacTable("module", rate, f"{name}: static network")
    table._module_spec = spec
    children = [n for n, _ in spec.module.named_children()]
    table._part_prefixes = {k: list(v) for k, v in (spec.parts or {c: [c] for c in children}).items()}
    if spec.length_features is None:
        return table
    names = sorted(spec.length_features(_probe_lengths(rate, 1)[0]))
    table._feature_names = names
    lengths = _probe_lengths(rate, len(names) + 3)  # 1 constant + features, +2 to verify
    rows, values = [], []
    for n in lengths:
        feats = spec.length_features(n)
        if sorted(feats) != names:
            raise ValueError(f"{name}: length_features gave {sorted(feats)} at {n}, {names} before")
        rows.append([1] + [int(feats[k]) for k in names])
        count = table._trace_module(n)
        table._by_length[n] = count.total
        values.append(count.total)
    try:
        table._coef = fit_polynomial(rows, values)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc} ({', '.join(names)})") from None
    return table


#: traced cost models of parts, keyed by :func:`_part_signature` (shared by every table)
_PART_COST_MEMO: dict[tuple, tuple[list[Fraction] | None, dict[int, int]]] = {}


def _simple_attrs(module: nn.Module) -> tuple:
    out = []
    for name, sub in module.named_modules():
        attrs = tuple(sorted((k, v) for k, v in vars(sub).items()
                             if not k.startswith("_") and isinstance(v, (int, float, str, bool, tuple))
                             and (not isinstance(v, tuple) or len(repr(v)) < 2000)))
        out.append((name, type(sub).__qualname__, attrs))
    return tuple(out)


def _part_signature(part: Any, sizes: Sequence[int]) -> tuple:
    """What fixes a part's MACs: its code, structure, configuration and input shapes.

    Two parts with equal signatures (e.g. the intra layers of different blocks at one width)
    share one set of traces. Parameter shapes, every plain attribute of every submodule (width
    index, kept heads...) and the example input shapes at each traced size are included.
    """
    shapes = tuple((n, tuple(t.shape), str(t.dtype))
                   for n, t in list(part.module.named_parameters()) + list(part.module.named_buffers()))
    inputs = tuple(tuple(tuple(x.shape) for x in part.make_input(n)) for n in sizes)
    return (type(part.module).__module__, type(part.module).__qualname__, repr(part.module),
            _simple_attrs(part.module), shapes, part.unit, inputs)


def _fit_part(part: Any, name: str, extra_size: bool) -> tuple[list[Fraction] | None, dict[int, int]]:
    """Trace a part at a few sizes and fit its cost exactly (extra sizes verify the fit)."""
    unit = part.unit
    # the fewest sizes that determine the model (affine: 2, quadratic: 3), so that building the
    # table in the run loop stays cheap; verify="full" then checks the whole table against one
    # full trace of the network, verify="parts-extra" each part at one more size. Exactness of
    # the DSN family's tables is proven in tests/test_complexity.py either way.
    sizes = [1, 3] if unit != "segments" else [1, 2, 4]
    if extra_size:
        sizes.append(6)
    key = _part_signature(part, sizes)
    if key in _PART_COST_MEMO:
        return _PART_COST_MEMO[key]
    degree = 2 if unit == "segments" else 1
    values = [count_macs(part.module, part.make_input(n), by_module=False).total for n in sizes]
    rows = [[n ** i for i in range(degree + 1)] for n in sizes]
    cache: dict[int, int] = {}
    try:
        coef: list[Fraction] | None = fit_polynomial(rows, values)
    except ValueError:
        if unit != "segments":
            raise ValueError(f"{name}: part {part.name!r} is not affine in its {unit}") from None
        coef = None  # exact but not quadratic: trace per number of chunks, cached
        cache.update(dict(zip(sizes, values)))
    if coef is not None and unit != "segments" and any(c < 0 for c in coef):
        raise ValueError(f"{name}: part {part.name!r} has a negative cost model {coef}")
    _PART_COST_MEMO[key] = (coef, cache)
    return coef, cache


def _build_parts(spec: PartsComplexity, rate: int | None, name: str, verify: str) -> MacTable:
    full_check = verify == "full" and spec.forward is not None
    table = MacTable("parts", rate, f"{name}: dual-path network, {len(spec.width_values)} width(s)")
    table._parts_spec = spec
    for part in spec.parts:
        if part.unit not in ("frames", "chunks", "segments"):
            raise ValueError(f"{name}: part {part.name!r} has unknown unit {part.unit!r}")
        coef, cache = _fit_part(part, name, extra_size=verify == "parts-extra")
        cost = _PartCost(part.name, part.unit, getattr(part, "width_index", None), coef,
                         cache=cache, module=part.module, make_input=part.make_input)
        table._parts.append(cost)
    if full_check:
        _verify_parts(table, spec, name)
    return table


#: tables already checked against a full trace, by the signature of their parts
_VERIFIED: set[tuple] = set()


def _verify_parts(table: MacTable, spec: PartsComplexity, name: str) -> None:
    """One full fvcore trace of the network, every width used, must equal the table's price.

    The input is long enough for 7 segments whose widths cycle through every width index.
    """
    root = spec.module if spec.module is not None else nn.Module()
    seg_hop = spec.segment_hop
    n = spec.segment_length + 6 * seg_hop - seg_hop // 3
    n_seg = spec.n_segments(n)
    widths = np.arange(n_seg, dtype=np.int64) % len(spec.width_values)
    key = (tuple(id(p.module) for p in spec.parts), n, tuple(widths))
    if key in _VERIFIED:
        return
    x = _example_mixture(n)
    traced = count_macs(root, (x,), fn=lambda x: spec.forward(x, widths), by_module=False).total
    priced = table.price_widths(n, widths)[1]
    if traced != priced:
        raise ValueError(f"{name}: the MAC table gives {priced} MACs for {n} samples at widths "
                         f"{widths.tolist()}, a full trace counts {traced}: the parts do not add up "
                         "to the forward (a part missing, or not of its declared unit)")
    _VERIFIED.add(key)
