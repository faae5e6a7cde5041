"""Separators around the dual-path DSN: the three families every comparison has.

- :class:`StaticSeparator` (``family="static"``): a network trained at one fixed width
  (``config.static_width``); its trace is constant at that width.
- :class:`SlimSeparator` (``family="slim"``): a slimmable supernet (or a DSN's supernet) run at
  one width ``w`` for every segment; constant trace.
- :class:`DSNSeparator` (``family="dsn"``): the gated network; the gate picks a width per
  segment with ``argmax(logits - beta * relative_cost)``. ``operating_points()`` lists the betas
  to evaluate (the checkpoint's, else :data:`DEFAULT_BETAS`), ``set_operating_point(beta)``
  picks one.

Every trace's ``widths`` are indices into ``trace.width_values``, and those indices are also
the network's own width indices (``config.widths``; for a static network its single index 0),
so the MAC table can price a trace part by part: :meth:`complexity` returns a
:class:`dsnbench.complexity.PartsComplexity` built from :meth:`DualPathDSN.parts_for_complexity`
(the gate's part only for the dsn family, the only one that runs it). Inference runs
under ``torch.no_grad`` in float32 in eval mode, one mixture at a time, and is deterministic.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..types import PartsComplexity, SegmentTrace, Separation, Separator, module_fingerprint
from .dualpath import DSNOutput, DualPathDSN

#: inference precisions and the autocast dtype of each (fp32: no autocast)
PRECISION_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

#: betas a DSN is evaluated at when its checkpoint names none (0 = as trained)
DEFAULT_BETAS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


class _DualPathSeparator(Separator):
    """Shared plumbing: input checks, no-grad float32 forward, trace building."""

    def __init__(self, network: DualPathDSN, name: str,
                 provenance: dict[str, Any] | None = None, source: str | None = None) -> None:
        self.network = network.float().eval()
        self.config = network.config
        self.name = name
        self.n_src = self.config.n_src
        self.sample_rate = self.config.sample_rate
        self.provenance = dict(provenance or {})
        self.source = source

    batchable = True
    device = torch.device("cpu")
    precision = "fp32"

    def to_device(self, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        if precision not in PRECISION_DTYPES:
            raise ValueError(f"{self.name}: precision must be one of {', '.join(PRECISION_DTYPES)}, got {precision!r}")
        self.device = torch.device(device)
        self.precision = precision
        self.network.to(self.device)

    #: the most memory (GiB) one inter-chunk attention layer's scores of one mixture may take;
    #: they grow with the square of the length, so this sets the longest input (:meth:`max_seconds`)
    attention_budget_gib: float = 4.0

    def max_seconds(self) -> float:
        """The longest mixture this separator takes: inter-chunk attention scores are
        ``K x heads x S x S`` floats for S chunks of K frames, which must fit the budget."""
        cfg = self.config
        s_max = int(math.sqrt(self.attention_budget_gib * 2**30 / (4 * cfg.chunk_size * cfg.n_heads)))
        return (s_max - 1) * cfg.segment_hop / cfg.sample_rate

    def _check(self, mixture: Any) -> torch.Tensor:
        if not isinstance(mixture, torch.Tensor):
            mixture = torch.as_tensor(np.asarray(mixture))
        if mixture.dim() != 1:
            raise ValueError(f"{self.name}: mixture must be 1-D [T], got shape {tuple(mixture.shape)}")
        if mixture.numel() == 0:
            raise ValueError(f"{self.name}: empty mixture")
        if not mixture.is_floating_point():
            raise TypeError(f"{self.name}: mixture samples are {mixture.dtype}, expected floating point")
        seconds = mixture.numel() / self.config.sample_rate
        if seconds > self.max_seconds():
            raise ValueError(f"{self.name}: a mixture of {seconds:.0f} s is longer than this model takes "
                             f"({self.max_seconds():.0f} s: its inter-chunk attention grows with the square of "
                             f"the length and would need over {self.attention_budget_gib:g} GiB); split the file")
        return mixture.detach().to(torch.float32)

    def _forward(self, mixture: torch.Tensor, **kwargs: Any) -> DSNOutput:
        return self._forward_batch([mixture], **kwargs)

    def _forward_batch(self, mixtures: Sequence[torch.Tensor], **kwargs: Any) -> DSNOutput:
        """One forward of several mixtures, zero-padded at their ends (``lengths`` masks the
        padding; one mixture runs unpadded). Under autocast for bf16/fp16, the waveform's
        path in and out in float32 (:func:`dsnbench.models.dualpath.float32_signal_path`)."""
        xs = [self._check(m) for m in mixtures]
        lengths = [x.numel() for x in xs]
        t = max(lengths)
        batch = torch.stack([F.pad(x, (0, t - x.numel())) for x in xs]).to(self.device)
        if len(xs) > 1 and min(lengths) != t:
            kwargs["lengths"] = torch.tensor(lengths)
        dtype = PRECISION_DTYPES[self.precision]
        with torch.no_grad(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = self.network(batch, **kwargs)
        out.estimates = out.estimates.float().cpu()
        out.width_idx = out.width_idx.cpu()
        out.lengths = lengths
        return out

    def _trace(self, out: DSNOutput, width_values: Sequence[float], i: int = 0) -> SegmentTrace:
        n = self.network.n_segments(out.lengths[i])
        return SegmentTrace(length=out.segment_length, hop=out.segment_hop,
                            widths=out.width_idx[i, :n].numpy().astype(np.int64),
                            width_values=tuple(width_values))

    def _separation(self, out: DSNOutput, width_values: Sequence[float], i: int = 0) -> Separation:
        return Separation(out.estimates[i, :, :out.lengths[i]].contiguous(), self._trace(out, width_values, i))

    def _separations(self, out: DSNOutput, width_values: Sequence[float]) -> list[Separation]:
        return [self._separation(out, width_values, i) for i in range(len(out.lengths))]

    def separate_forced(self, mixture: torch.Tensor, widths: Sequence[int] | np.ndarray) -> Separation:
        """Forced allocation: the network with the given width index for each segment (indices
        into ``config.widths``), the gate (a DSN's) still run and priced but not obeyed. The
        trace holds the forced widths, so the same MAC table prices it. Given the gate's own
        choices it returns the gated output bit for bit; given one width everywhere, the
        fixed-width output.

        Shape: ``mixture [T]``, ``widths [S]`` with ``S = network.n_segments(T)``.
        """
        if self.config.static_width is not None:
            raise ValueError(f"{self.name}: a static network has one width; nothing to allocate")
        x = self._check(mixture)
        n_seg = self.network.n_segments(x.numel())
        w = np.asarray(widths, dtype=np.int64).ravel()
        if w.shape != (n_seg,):
            raise ValueError(f"{self.name}: {w.size} forced widths for a mixture of {n_seg} segments")
        if w.min() < 0 or w.max() >= len(self.config.widths):
            raise ValueError(f"{self.name}: width indices must be in [0, {len(self.config.widths)})")
        gate = "infer" if self.family == "dsn" else "off"
        out = self._forward(x, widths=torch.from_numpy(w).view(1, -1), gate_mode=gate)
        return self._separation(out, self.config.widths)

    #: width values this family's traces report, and the default index into them
    def _width_values(self) -> tuple[float, ...]:
        return self.config.widths

    def _default_width_index(self) -> int:
        return len(self.config.widths) - 1

    def n_frames(self, n_samples: int) -> int:
        """Encoder frames for a mixture of ``n_samples`` samples."""
        cfg = self.config
        return (self.network.padded_length(n_samples) - cfg.enc_kernel) // cfg.enc_stride + 1

    def _complexity_forward(self, x: torch.Tensor, widths: np.ndarray | None) -> DSNOutput:
        """The whole forward, as priced: ``x`` ``[1, T]``, ``widths`` ``[S]`` or None (default)."""
        gate = "infer" if self.family == "dsn" else "off"
        if widths is None:
            widths = np.full(self.network.n_segments(x.shape[-1]), self._default_width_index())
        w = torch.as_tensor(np.asarray(widths), dtype=torch.long).view(1, -1)
        return self.network(x, widths=w, gate_mode=gate)

    def complexity(self) -> Any:
        parts = [p for p in self.network.parts_for_complexity()
                 if self.family == "dsn" or p.name != "gate"]
        return PartsComplexity(parts=parts, n_frames=self.n_frames,
                               n_segments=self.network.n_segments,
                               width_values=self._width_values(),
                               segment_length=self.config.segment_length,
                               segment_hop=self.config.segment_hop,
                               sample_rate=self.config.sample_rate,
                               default_width_index=self._default_width_index(),
                               forward=self._complexity_forward, module=self.network)

    def weights_fingerprint(self) -> str | None:
        return module_fingerprint(self.network)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(config=self.config.to_dict(), params=self.params(), source=self.source,
                 provenance={k: v for k, v in self.provenance.items() if k != "training_config"})
        return d


class StaticSeparator(_DualPathSeparator):
    """A network trained at one fixed width (no gate). Trace: constant at ``static_width``."""

    family = "static"

    def __init__(self, network: DualPathDSN, name: str | None = None, **kwargs: Any) -> None:
        width = network.config.static_width
        if width is None:
            raise ValueError("a static separator needs a network with config.static_width set")
        super().__init__(network, name or f"static-{width}", **kwargs)
        self.width = float(width)

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        return self._separation(self._forward(mixture), (self.width,))

    def separate_batch(self, mixtures: Sequence[torch.Tensor],
                       references: Sequence[torch.Tensor | None] | None = None) -> list[Separation]:
        return self._separations(self._forward_batch(mixtures), (self.width,))

    def _width_values(self) -> tuple[float, ...]:
        return (self.width,)

    def _default_width_index(self) -> int:
        return 0

    def params(self) -> int:
        return self.network.params_at(0, include_gate=False)


class SlimSeparator(_DualPathSeparator):
    """A slimmable supernet run at one width for every segment. Trace: constant at ``width``."""

    family = "slim"

    def __init__(self, network: DualPathDSN, width: float = 1.0, name: str | None = None,
                 **kwargs: Any) -> None:
        if network.config.static_width is not None:
            raise ValueError("slim-w needs a slimmable network, not a static one")
        self.width_index = network.width_index(width)  # ValueError naming the valid widths
        self.width = float(width)
        super().__init__(network, name or f"slim-{self.width}", **kwargs)

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        return self._separation(self._forward(mixture, width=self.width), self.config.widths)

    def separate_batch(self, mixtures: Sequence[torch.Tensor],
                       references: Sequence[torch.Tensor | None] | None = None) -> list[Separation]:
        return self._separations(self._forward_batch(mixtures, width=self.width), self.config.widths)

    def _default_width_index(self) -> int:
        return self.width_index

    def params(self) -> int:
        return self.network.params_at(self.width_index, include_gate=False)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "width": self.width}


class DSNSeparator(_DualPathSeparator):
    """The gated network; ``beta`` (the operating point) trades quality for compute."""

    family = "dsn"

    def __init__(self, network: DualPathDSN, betas: Sequence[float] | None = None,
                 name: str = "dsn", **kwargs: Any) -> None:
        if network.config.static_width is not None or len(network.config.widths) < 2:
            raise ValueError("a DSN needs a slimmable network with at least two widths")
        super().__init__(network, name, **kwargs)
        self.betas = tuple(float(b) for b in (DEFAULT_BETAS if betas is None else betas))
        if not self.betas:
            raise ValueError("a DSN needs at least one operating point (beta)")
        self.beta = self.betas[0]

    def operating_points(self) -> Sequence[float | None]:
        return list(self.betas)

    def set_operating_point(self, value: float | None) -> None:
        beta = 0.0 if value is None else float(value)
        if not np.isfinite(beta) or beta < 0:
            raise ValueError(f"{self.name}: beta must be a finite number >= 0, got {value}")
        self.beta = beta

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        return self.separate_batch([mixture])[0]

    def separate_batch(self, mixtures: Sequence[torch.Tensor],
                       references: Sequence[torch.Tensor | None] | None = None) -> list[Separation]:
        out = self._forward_batch(mixtures, gate_mode="infer", beta=self.beta)
        seps = self._separations(out, self.config.widths)
        for sep in seps:
            sep.extra["beta"] = self.beta
        return seps

    def params(self) -> int:
        # every width can be chosen for some segment, so all intra weights are in use, plus the gate
        return sum(p.numel() for p in self.network.parameters())

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "operating_points": list(self.betas)}
