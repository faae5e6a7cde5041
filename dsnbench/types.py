"""The separator interface every model satisfies (design section 2).

A separator maps one mixture to source estimates and, for dynamic models, a trace of the
width chosen per segment. Nothing downstream of :meth:`Separator.separate` knows whether the
model is a bundled DSN, a static network, an oracle or an adapter around another toolkit.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch


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
            raise ValueError(f"model {self.name!r} runs at {self.sample_rate} Hz, the data is at {sample_rate} Hz")

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

    def describe(self) -> dict[str, Any]:
        """Self-description recorded in summary.json."""
        return {"name": self.name, "family": self.family, "n_src": self.n_src,
                "sample_rate": self.sample_rate}
