"""Oracle allocation: the best per-segment widths a slimmable model's own weights allow, as a
separator the run engine evaluates like any other (family ``oracle-allocation``).

What "oracle" means here (greedy per segment, exact output):

1. For one utterance, the wrapped model (a supernet or a DSN's weights) runs at each of its
   fixed widths ``k``. Each width's estimates are aligned to the references by the
   utterance-level permutation that maximises SI-SNR, and each segment ``s`` of the model's own
   grid gets an error ``e[s, k]``: the mean squared error of the aligned estimates on that
   segment, in dB relative to the references' mean power over the whole utterance (defined on
   silent and one-speaker segments too, unlike segmental SI-SNR).
2. For a multiplier ``mu`` (the operating point), each segment independently takes the width
   ``argmin_k e[s, k] + mu * relative_cost[k]`` (``relative_cost``: the network's MACs of the
   width-dependent part at width ``k`` over the widest, the scale a DSN's beta uses; ties go
   to the narrower width). ``mu = 0`` is the lowest-error allocation; larger ``mu`` is cheaper.
   The choice is greedy: each segment is judged on the fixed-width outputs, while in the
   network segments interact (inter-chunk attention, overlap-add), so the allocation is not
   guaranteed optimal for the joint output.
3. The network runs once more with exactly that allocation forced
   (the model's ``separate_forced``), and that real output
   is what the run scores; its trace is the forced widths, priced by the same MAC table as the
   model's own runs (a DSN's gate included, as in its gated runs).

It needs the references (like ``oracle-irm``), so it is an upper reference for a gate, not a
deployable model. The fixed-width passes of an utterance are kept (a few per process) so that
several ``mu`` cost one forced pass each.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
import torch

from ..metrics.functional import best_permutation, si_snr_matrix
from ..types import Separation, Separator

#: the multipliers evaluated when none are given
DEFAULT_MUS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)
#: floor of a segment's error power relative to the utterance's (-100 dB), so log10 is finite
_ERROR_FLOOR = 1e-10


def segment_errors(references: np.ndarray, estimates: np.ndarray, length: int, hop: int,
                   n_segments: int) -> np.ndarray:
    """Error of each segment ``[s*hop, s*hop+length)`` (clipped to T), in the terms SI-SNR
    scores: the estimates are aligned to the references by the utterance-level SI-SNR
    permutation, made zero-mean and scaled by each source's utterance-level optimal gain (as
    SI-SNR's projection does), and the segment's residual power (mean over its samples, summed
    over sources) is given in dB relative to the references' mean power over the utterance.
    Lower is better; defined on silent and one-speaker segments too.

    Shape: ``references [n_src, T]``, ``estimates [n_src, T]`` -> ``[n_segments]``.
    """
    refs = np.asarray(references, dtype=np.float64)
    ests = np.asarray(estimates, dtype=np.float64)
    perm = best_permutation(si_snr_matrix(refs, ests, strict=False))
    r = refs - refs.mean(axis=1, keepdims=True)
    e = ests[list(perm)]
    e = e - e.mean(axis=1, keepdims=True)
    energy = (e * e).sum(axis=1)
    gain = np.where(energy > 0, (e * r).sum(axis=1) / np.where(energy > 0, energy, 1.0), 0.0)
    err = (r - gain[:, None] * e) ** 2
    level = max(float(np.mean(r ** 2)) * r.shape[0], 1e-20)
    total = r.shape[1]
    out = np.empty(n_segments)
    for s in range(n_segments):
        a, b = min(s * hop, total), min(s * hop + length, total)
        power = float(err[:, a:b].sum(axis=0).mean()) if b > a else 0.0
        out[s] = 10.0 * np.log10(max(power / level, _ERROR_FLOOR))
    return out


def allocate(errors: np.ndarray, relative_cost: Sequence[float], mu: float) -> np.ndarray:
    """Per segment, the width index minimising ``errors[s, k] + mu * relative_cost[k]`` (the
    first, i.e. narrowest, on a tie).

    Shape: ``errors [S, K]``, ``relative_cost [K]`` -> ``[S]``.
    """
    c = np.asarray(relative_cost, dtype=np.float64)
    return np.argmin(np.asarray(errors, dtype=np.float64) + float(mu) * c[None, :], axis=1).astype(np.int64)


class OracleAllocation(Separator):
    """The oracle allocation of a slimmable separator (module docstring); operating point = mu."""

    family = "oracle-allocation"
    needs_references = True
    batchable = False
    #: fixed-width passes kept (utterances), so several mu reuse them
    cache_size = 64

    def __init__(self, base: Any, mus: Sequence[float] | None = None, name: str | None = None) -> None:
        if not hasattr(base, "separate_forced") or not hasattr(base, "network"):
            raise ValueError("no forced-allocation mode (oracle allocation needs a slimmable dual-path "
                             "model: a supernet or a DSN)")
        if base.config.static_width is not None or len(base.config.widths) < 2:
            raise ValueError("it has one width: an allocation needs a slimmable model (a supernet or a DSN)")
        self.base = base
        self.name = name or f"{base.name}+oracle"
        self.n_src = base.n_src
        self.sample_rate = base.sample_rate
        self.mus = tuple(float(m) for m in (DEFAULT_MUS if mus is None else mus))
        if not self.mus or any(not np.isfinite(m) or m < 0 for m in self.mus):
            raise ValueError(f"{self.name}: mu must be finite numbers >= 0, got {list(self.mus)}")
        self.mu = self.mus[0]
        self._passes: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- the Separator interface ---------------------------------------------------------
    def operating_points(self) -> Sequence[float | None]:
        return list(self.mus)

    def set_operating_point(self, value: float | None) -> None:
        mu = 0.0 if value is None else float(value)
        if not np.isfinite(mu) or mu < 0:
            raise ValueError(f"{self.name}: mu must be a finite number >= 0, got {value}")
        self.mu = mu

    @property
    def device(self) -> Any:
        return self.base.device

    @property
    def precision(self) -> str:
        return self.base.precision

    def to_device(self, device: Any = "cpu", precision: str = "fp32") -> None:
        self.base.to_device(device, precision)
        self.clear_cache()

    def prepare(self, sample_rate: int) -> None:
        self.base.prepare(sample_rate)

    def params(self) -> int:
        return self.base.params()

    def complexity(self) -> Any:
        return self.base.complexity()  # the same MAC table prices the forced traces

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "name": self.name, "family": self.family, "allocation": "oracle",
                "allocated_model": self.base.name, "operating_points": list(self.mus),
                "operating_point_meaning": "mu: dB of segment error per unit of relative MACs"}

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        if references is None:
            raise ValueError(f"{self.name}: the oracle allocation needs the reference sources")
        alloc = self.allocation(mixture, references, self.mu)
        sep = self.base.separate_forced(mixture, alloc)
        sep.extra["mu"] = self.mu
        return sep

    def clear_cache(self) -> None:
        """Forget the kept fixed-width passes."""
        self._passes.clear()

    # -- the allocation --------------------------------------------------------------------
    def errors(self, mixture: torch.Tensor, references: torch.Tensor) -> np.ndarray:
        """``[S, K]`` segment errors of the fixed-width passes (computed once per utterance)."""
        x = mixture.detach().to(torch.float32).cpu().contiguous()
        refs = references.detach().to(torch.float64).cpu().numpy()
        key = hashlib.sha1(x.numpy().tobytes() + refs.tobytes()).hexdigest()
        if key in self._passes:
            self._passes.move_to_end(key)
            return self._passes[key]
        net = self.base.network
        n_seg = net.n_segments(x.numel())
        cfg = self.base.config
        cols = []
        for k in range(len(cfg.widths)):
            est = self.base.separate_forced(x, np.full(n_seg, k)).estimates.double().numpy()
            cols.append(segment_errors(refs, est, cfg.segment_length, cfg.segment_hop, n_seg))
        errs = np.stack(cols, axis=1)
        self._passes[key] = errs
        while len(self._passes) > self.cache_size:
            self._passes.popitem(last=False)
        return errs

    def allocation(self, mixture: torch.Tensor, references: torch.Tensor, mu: float) -> np.ndarray:
        """The forced widths (indices) of one utterance at multiplier ``mu``. Shape: ``[S]``."""
        cost = self.base.network.relative_cost.detach().cpu().numpy()
        return allocate(self.errors(mixture, references), cost, mu)
