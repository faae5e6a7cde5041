"""The separator interface every model satisfies (design section 2).

A separator maps one mixture to source estimates and, for dynamic models, a trace of the
width chosen per segment. Nothing downstream of :meth:`Separator.separate` knows whether the
model is a bundled DSN, a static network, an oracle or an adapter around another toolkit.
"""
from __future__ import annotations

import hashlib

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class SegmentTrace:
    """Which width a dynamic model ran each segment at.

    Segments are on a regular grid in samples of the input: segment ``s`` covers
    ``[s * hop, s * hop + length)`` (the last one may run past the end of the signal).

    Shape: ``widths`` is ``[n_segments]``, each an index into ``width_values``.
    """

    length: int
    hop: int
    widths: np.ndarray
    width_values: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.length <= 0 or self.hop <= 0:
            raise ValueError(f"segment length and hop must be positive, got {self.length}, {self.hop}")
        w = np.asarray(self.widths, dtype=np.int64)
        if w.ndim != 1:
            raise ValueError(f"trace widths must be 1-D, got shape {w.shape}")
        if w.size and (w.min() < 0 or w.max() >= len(self.width_values)):
            raise ValueError("trace width index out of range of width_values")
        object.__setattr__(self, "widths", w)
        object.__setattr__(self, "width_values", tuple(float(v) for v in self.width_values))

    @property
    def n_segments(self) -> int:
        return int(self.widths.size)

    def width_of_segments(self) -> np.ndarray:
        """Width value (e.g. 0.25) per segment. Shape: [n_segments]."""
        return np.asarray(self.width_values, dtype=np.float64)[self.widths]

    @classmethod
    def constant(cls, n_samples: int, length: int, hop: int, width: float = 1.0) -> "SegmentTrace":
        """A trace that runs every segment at one width (static models)."""
        n = n_segments_for(n_samples, length, hop)
        return cls(length=length, hop=hop, widths=np.zeros(n, dtype=np.int64), width_values=(width,))


def n_segments_for(n_samples: int, length: int, hop: int) -> int:
    """Number of segments of a regular grid that cover ``n_samples`` (at least one)."""
    if n_samples <= length:
        return 1
    return 1 + int(np.ceil((n_samples - length) / hop))


@dataclass
class Separation:
    """What a separator returns for one mixture.

    Shape: ``estimates`` is ``[n_src, T]`` (same T as the mixture), float32 on the CPU.
    """

    estimates: torch.Tensor
    trace: SegmentTrace | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SeparatorError(RuntimeError):
    """A separator failed on one input (the run records it and goes on)."""


class Separator(ABC):
    """Base class of everything ``dsnbench run`` can evaluate.

    Subclasses set ``name``, ``n_src`` and ``sample_rate`` (None = any rate) and implement
    :meth:`separate`. Oracles set ``needs_references = True`` and receive the references.
    """

    name: str = "separator"
    n_src: int = 2
    sample_rate: int | None = None
    needs_references: bool = False
    #: family label used in analysis: "static", "slim", "dsn", "oracle", "adapter"
    family: str = "other"

    @abstractmethod
    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        """Separate one mixture.

        Shape: ``mixture`` is ``[T]``; ``references`` (oracles only) is ``[n_src, T]``.
        """

    #: whether :meth:`separate_batch` runs several mixtures in one pass (False: it falls back
    #: to one at a time, which the run notes once)
    batchable: bool = False

    # -- optional parts -------------------------------------------------------------
    def separate_batch(self, mixtures: Sequence[torch.Tensor],
                       references: Sequence[torch.Tensor | None] | None = None) -> list[Separation]:
        """Separate several mixtures of any lengths. Each result is what :meth:`separate`
        gives for that mixture alone (to float rounding), trace included. The default runs
        them one at a time.

        Shape: ``mixtures[i]`` is ``[T_i]``; ``references[i]`` (oracles) ``[n_src, T_i]``.
        """
        refs = list(references) if references is not None else [None] * len(mixtures)
        return [self.separate(m, r) for m, r in zip(mixtures, refs)]

    def to_device(self, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        """Run inference on ``device`` (cpu, cuda, cuda:N) in ``precision`` (fp32, bf16, fp16).
        The default supports the CPU in float32 only and says so for anything else."""
        if torch.device(device).type != "cpu" or precision != "fp32":
            raise ValueError(f"model {self.name!r} runs on the CPU in fp32 only "
                             f"(asked for {device}, {precision})")

    def prepare(self, sample_rate: int) -> None:
        """Called once before a dataset is run; raise ValueError if the rate is unsupported."""
        if self.sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(f"model {self.name!r} runs at {self.sample_rate} Hz, the data is at {sample_rate} Hz "
                             f"(dsnbench does not resample: use the corpus's wav{self.sample_rate // 1000}k folders "
                             f"(--sample-rate {self.sample_rate}) or a model trained at {sample_rate} Hz)")

    def operating_points(self) -> Sequence[float | None]:
        """Operating points this model can run at (gate beta for a DSN); [None] if none."""
        return [None]

    def set_operating_point(self, value: float | None) -> None:
        if value is not None:
            raise ValueError(f"model {self.name!r} has no operating point (got {value})")

    def params(self) -> int:
        """Number of parameters used at inference (0 for oracles)."""
        return 0

    def complexity(self) -> Any:
        """What the MAC counter needs (see :mod:`dsnbench.complexity`); None = not defined."""
        return None

    def weights_fingerprint(self) -> str | None:
        """sha256 (16 hex) of the weights this separator computes with (None: it has none, as
        the oracles): a resumed run refuses to add rows when it changed under the same name."""
        return None

    def describe(self) -> dict[str, Any]:
        """Self-description recorded in summary.json."""
        return {"name": self.name, "family": self.family, "n_src": self.n_src,
                "sample_rate": self.sample_rate}


def module_fingerprint(module: nn.Module) -> str:
    """sha256 (16 hex) of a module's state: every tensor's name, dtype, shape and bytes, in
    name order (so the same weights give the same value wherever they were loaded from)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ what complexity() returns
# (the MAC counter of dsnbench.complexity builds its table from these; they are part of the
# separator interface, so models describe themselves without importing the counter)

@dataclass
class ModuleComplexity:
    """A static network: MACs of ``forward(mixture)`` as a function of the input length.

    ``forward`` is called as ``forward(x)`` with ``x`` of shape ``[1, T]`` (default:
    ``module(x)``). ``length_features(T)`` gives integer features the count is a polynomial
    (of degree 1) in, e.g. ``{"frames": F}``; products of features may be given as features
    themselves (``{"chunks^2": S * S}``). ``parts`` names module-name prefixes for the per-part
    display of ``dsnbench macs`` (default: the module's direct children).

    Shape: the mixture passed to ``forward`` is ``[1, T]``.
    """

    module: nn.Module
    forward: Callable[[torch.Tensor], Any] | None = None
    length_features: Callable[[int], Mapping[str, int]] | None = None
    sample_rate: int | None = None
    parts: Mapping[str, Sequence[str]] | None = None
    width: float = 1.0


@dataclass(frozen=True)
class Part:
    """One priced part of a :class:`PartsComplexity`.

    ``unit``: ``"frames"`` (``make_input(n)`` builds the input for ``n`` encoder frames; cost
    affine in n), ``"chunks"`` (``make_input(n)`` builds ``n`` chunks; ``width_index`` is the
    width it runs at, None for a width-independent per-chunk part such as the gate),
    ``"segments"`` (``make_input(S)`` builds the input of one mixture with ``S`` chunks; cost a
    polynomial of degree <= 2 in S, else cached per S).
    """

    name: str
    module: nn.Module
    make_input: Callable[[int], tuple[torch.Tensor, ...]]
    unit: str
    width_index: int | None = None


@dataclass
class PartsComplexity:
    """A dual-path network described part by part (the DSN and its static/slim variants).

    ``width_values`` are the widths a trace reports, aligned with the parts' ``width_index``
    (a static network built at width 0.5 reports ``(0.5,)`` for its index 0).
    ``default_width_index`` is used when a trace carries no width of this model (a static run
    priced on the run loop's own grid). ``forward(x, widths)`` (optional, for the proofs) runs
    the whole model on ``x`` ``[1, T]`` with the width index per chunk given (``widths``
    ``[S]``, or None for the default width).
    """

    parts: Sequence[Any]
    n_frames: Callable[[int], int]
    n_segments: Callable[[int], int]
    width_values: tuple[float, ...]
    segment_length: int
    segment_hop: int
    sample_rate: int | None = None
    default_width_index: int = -1
    forward: Callable[[torch.Tensor, np.ndarray | None], Any] | None = None
    module: nn.Module | None = None
