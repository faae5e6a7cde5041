"""The dual-path transformer DSN (design section 3): network, gate, config and output.

Signal path of :class:`DualPathDSN` (``B`` mixtures of ``T`` samples; ``N`` encoder channels,
``d`` = ``d_model``, ``K`` = chunk size in frames, ``H = K / 2`` the chunk hop):

1. ``encoder`` (:class:`Encoder`): right-pad the mixture with zeros to
   ``T_pad = kernel + stride * ceil((T - kernel) / stride)`` (at least ``kernel``), then
   Conv1d(1, N, kernel 16, stride 8) + ReLU -> frames ``[B, N, L]``; frame ``l`` covers samples
   ``[8 l, 8 l + 16)``.
2. ``input_stage`` (:class:`InputStage`): LayerNorm over the N channels + Linear(N, d) ->
   ``[B, L, d]``. This is "the masker input" the gate looks at.
3. Chunking (no MACs): zeros are appended after the last frame up to ``(S + 1) * H`` frames,
   where ``S = n_segments_for(T, K * stride, K * stride / 2)`` is the number of segments of the
   sample grid (:func:`dsnbench.types.n_segments_for`). Chunk ``s`` holds frames
   ``[s H, s H + K)`` -> ``[B, S, K, d]``.
   **Segment <-> samples:** segment ``s`` of the trace is ``[s * K*stride/2, s * K*stride/2 +
   K*stride)`` in samples (length ``K * stride``, hop ``K * stride / 2``; with the default
   stride 8 and K = 100: 800 and 400 samples). The chunk's frames see that span plus the
   ``kernel - stride`` = 8 samples after it (the last frame's kernel overhang). The last chunk
   may reach past the end of the signal; its tail is zero padding. Padding is only ever at the
   end, never at the start.
4. ``gate`` (:class:`ChunkGate`): per chunk, mean and standard deviation over its K frames of
   the masker input (2 d features) -> Linear(2d, hidden) + ReLU + Linear(hidden, n_widths) ->
   one logit per width.
5. ``blocks`` (:class:`DualPathBlock`, ``n_blocks`` of them). Each adds a sinusoidal position
   code and runs ``intra`` layers (:class:`SlimmableTransformerLayer`, on ``[n_chunks, K, d]``,
   each chunk at its chosen width: chunks are grouped by width and each group runs at its
   width), then adds a position code over chunks and runs ``inter`` layers (full width, on
   ``[B * K, S, d]``: the same frame position of every chunk of one mixture).
6. Overlap-add (no MACs): chunks back to frames, each frame divided by the number of chunks
   covering it (1 or 2) -> ``[B, L, d]``.
7. ``mask_head`` (:class:`MaskHead`): LayerNorm + Linear(d, n_src * N) + ReLU (or sigmoid) ->
   masks ``[B, n_src, N, L]``, multiplied with the encoder frames.
8. ``decoder`` (:class:`Decoder`): ConvTranspose1d(N, 1, 16, stride 8), cut to ``T`` samples.

Pricing the parts (for :mod:`dsnbench.complexity`): :meth:`DualPathDSN.parts_for_complexity`
returns every module with a MAC cost together with a function building an example input:
width-independent parts per frame (``unit="frames"``: encoder, input stage, mask head, decoder),
the gate and each intra layer at each width per chunk (``unit="chunks"``), and each inter layer
as a function of the number of chunks (``unit="segments"``: attention over chunks is quadratic
in S, so price it per S, not per chunk). Elementwise work (position codes, overlap-add,
masking, softmax, norms' elementwise part) is what fvcore ignores by default.

Presets (:meth:`DSNConfig.preset`):

- ``sepformer``: N = d = 256, K = 250, B = 2, 8 intra + 8 inter layers, 8 heads of 32, FFN
  1024 (the SepFormer scale of design section 3).
- ``mini``: N = d = 64, K = 100 (100 ms at 8 kHz), B = 2, 2 intra + 1 inter layer per block,
  4 heads of 16, FFN 256, gate hidden 32. Analytic product MACs per second of 8 kHz audio
  (4 s utterance, S = 79): intra 489 M at width 1.0 (122 M at 0.25), inter 234 M, the rest
  15 M (gate 0.08 M), so the intra-chunk layers are 2/3 of the total at full width and width
  0.25 runs the whole network at 50 % of the cost (372 M vs 739 M). 0.32 M parameters. One
  training step (forward + backward, gate on) on a batch of 2 x 4 s took about 1.0 s on one
  CPU thread here.
- ``tiny``: for tests only (d = 16, K = 8, 1 block, 2 heads).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..types import Part, n_segments_for
from .slimmable import (FixedWidth, SlimmableTransformerLayer, kept_units, layer_macs_per_token,
                        sinusoidal_positions)

GateMode = Literal["off", "train", "infer"]


def float32_signal_path(mix: torch.Tensor) -> Any:
    """Autocast off: under bfloat16 autocast (``precision: bf16`` training or inference) the
    waveform's path in and out (encoder, input stage, mask head, decoder: about 2 % of the
    MACs) and the gate stay in float32 and only the dual-path blocks run in bf16 (so a DSN's
    widths, and with them its MACs, are the same at every precision). With it the bf16 gradient agrees with
    float32 at cosine >= 0.9999 on the bundled static-1.0, without it only 0.9985-0.9994.
    Without autocast (every evaluation) it changes nothing."""
    return torch.autocast(mix.device.type, enabled=False)


@dataclass(frozen=True)
class DSNConfig:
    """Everything that fixes the architecture (and so the shape of every weight).

    ``static_width``: None for a slimmable supernet / DSN. For a static baseline trained at one
    width ``w`` it is ``w``: the intra-chunk layers are built directly at that size
    (``ceil(w * n_heads)`` heads, ``ceil(w * ffn_dim)`` FFN units; no unused weights), everything
    else as in the full network, ``widths == (1.0,)``, and traces report ``w``. Use
    :meth:`static_at` to derive it from a supernet config.
    """

    n_src: int = 2
    sample_rate: int = 8000
    enc_channels: int = 64
    enc_kernel: int = 16
    enc_stride: int = 8
    d_model: int = 64
    chunk_size: int = 100
    n_blocks: int = 2
    n_intra: int = 2
    n_inter: int = 1
    n_heads: int = 4
    head_dim: int = 16
    ffn_dim: int = 256
    widths: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    mask_activation: str = "relu"
    gate_hidden: int = 32
    dropout: float = 0.0
    static_width: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(float(w) for w in self.widths))
        if self.chunk_size < 2 or self.chunk_size % 2:
            raise ValueError(f"chunk_size must be even and >= 2 (50 % overlap), got {self.chunk_size}")
        if not self.widths or list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be strictly increasing, got {self.widths}")
        if self.widths[-1] != 1.0 or self.widths[0] <= 0:
            raise ValueError(f"widths must lie in (0, 1] and end at 1.0, got {self.widths}")
        if self.mask_activation not in ("relu", "sigmoid"):
            raise ValueError(f"mask_activation must be 'relu' or 'sigmoid', got {self.mask_activation!r}")
        if self.static_width is not None and self.widths != (1.0,):
            raise ValueError("a static network (static_width set) has widths == (1.0,)")
        for name in ("n_src", "enc_channels", "enc_kernel", "enc_stride", "d_model", "n_blocks",
                     "n_intra", "n_heads", "head_dim", "ffn_dim", "gate_hidden"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    # -- presets and derived configs ---------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "DSNConfig":
        """``sepformer``, ``mini`` or ``tiny`` (see the module docstring), with overrides."""
        presets: dict[str, dict[str, Any]] = {
            "sepformer": dict(enc_channels=256, d_model=256, chunk_size=250, n_blocks=2,
                              n_intra=8, n_inter=8, n_heads=8, head_dim=32, ffn_dim=1024,
                              gate_hidden=64),
            "mini": dict(),
            "tiny": dict(enc_channels=16, d_model=16, chunk_size=8, n_blocks=1, n_intra=2,
                         n_inter=1, n_heads=2, head_dim=8, ffn_dim=32, gate_hidden=8),
        }
        if name not in presets:
            raise ValueError(f"unknown DSN preset {name!r} (known: {', '.join(presets)})")
        return cls(**{**presets[name], **overrides})

    def static_at(self, width: float) -> "DSNConfig":
        """Config of a static network the size of this supernet's width ``width``."""
        kept_units(width, self.n_heads)  # validates the width
        return dataclasses.replace(self, widths=(1.0,), static_width=float(width))

    @property
    def intra_heads(self) -> int:
        """Heads the intra-chunk layers hold (all of them, or the static width's share)."""
        w = 1.0 if self.static_width is None else self.static_width
        return kept_units(w, self.n_heads)

    @property
    def intra_ffn(self) -> int:
        """FFN units the intra-chunk layers hold."""
        w = 1.0 if self.static_width is None else self.static_width
        return kept_units(w, self.ffn_dim)

    @property
    def reported_widths(self) -> tuple[float, ...]:
        """Width values traces report (``(static_width,)`` for a static network)."""
        return (self.static_width,) if self.static_width is not None else self.widths

    @property
    def segment_length(self) -> int:
        """Segment (chunk) length in samples: ``chunk_size * enc_stride``."""
        return self.chunk_size * self.enc_stride

    @property
    def segment_hop(self) -> int:
        """Segment hop in samples: half the segment length."""
        return self.chunk_size * self.enc_stride // 2

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DSNConfig":
        """Build from :meth:`to_dict` output; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown DSN config keys: {', '.join(unknown)}")
        values = dict(data)
        if "widths" in values:
            values["widths"] = tuple(values["widths"])
        return cls(**values)


@dataclass
class DSNOutput:
    """What :meth:`DualPathDSN.forward` returns.

    ``width_idx[b, s]`` is the width index chunk ``s`` of mixture ``b`` ran at. Segment ``s``
    covers samples ``[s * segment_hop, s * segment_hop + segment_length)`` (zero padding past
    the end; see the module docstring for the exact frame mapping).

    Shape: ``estimates`` ``[B, n_src, T]``; ``width_idx`` ``[B, S]`` (long);
    ``gate_logits`` ``[B, S, n_widths]`` or None (gate off); ``gate_probs`` ``[B, S, n_widths]``
    or None: in ``gate_mode="train"`` the straight-through Gumbel one-hot (exact one-hot values,
    gradient of the soft sample; use it in the complexity loss), in ``"infer"`` the softmax of
    the logits (no straight-through).
    """

    estimates: torch.Tensor
    width_idx: torch.Tensor
    gate_logits: torch.Tensor | None
    gate_probs: torch.Tensor | None
    segment_length: int
    segment_hop: int
    #: samples of each mixture of the batch (set by the separators; None: all ``T``)
    lengths: list[int] | None = None

    @property
    def n_segments(self) -> int:
        return int(self.width_idx.shape[1])


# --------------------------------------------------------------------------- submodules
class Encoder(nn.Module):
    """Conv1d(1, N, kernel, stride) + ReLU.

    Shape: ``[B, T_pad]`` (already padded, see :meth:`DualPathDSN.padded_length`) ->
    ``[B, N, L]`` with ``L = (T_pad - kernel) / stride + 1``.
    """

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, channels, kernel, stride=stride, bias=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(wave.unsqueeze(1)))


class InputStage(nn.Module):
    """LayerNorm over encoder channels + Linear(N, d_model): the masker input.

    Shape: ``[B, N, L]`` -> ``[B, L, d_model]``.
    """

    def __init__(self, channels: int, d_model: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.linear = nn.Linear(channels, d_model)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(frames.transpose(1, 2)))


class ChunkGate(nn.Module):
    """Per-chunk mean and std of the masker input -> MLP -> one logit per width.

    Shape: ``[n_chunks, K, d_model]`` -> ``[n_chunks, n_widths]``.
    """

    def __init__(self, d_model: int, hidden: int, n_widths: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(2 * d_model, hidden)
        self.logits = nn.Linear(hidden, n_widths)

    @staticmethod
    def features(chunks: torch.Tensor) -> torch.Tensor:
        """Mean and population std over frames. Shape: ``[n, K, d]`` -> ``[n, 2 d]``."""
        mean = chunks.mean(dim=1)
        var = (chunks - mean.unsqueeze(1)).pow(2).mean(dim=1)
        return torch.cat([mean, torch.sqrt(var + 1e-8)], dim=-1)

    def forward(self, chunks: torch.Tensor) -> torch.Tensor:
        return self.logits(F.relu(self.hidden(self.features(chunks))))


class DualPathBlock(nn.Module):
    """Intra-chunk slimmable layers, then full-width inter-chunk layers."""

    def __init__(self, cfg: DSNConfig) -> None:
        super().__init__()
        self.intra = nn.ModuleList(
            SlimmableTransformerLayer(cfg.d_model, cfg.intra_heads, cfg.head_dim, cfg.intra_ffn,
                                      cfg.widths, cfg.dropout) for _ in range(cfg.n_intra))
        self.inter = nn.ModuleList(
            SlimmableTransformerLayer(cfg.d_model, cfg.n_heads, cfg.head_dim, cfg.ffn_dim,
                                      (1.0,), cfg.dropout) for _ in range(cfg.n_inter))
        self.n_widths = len(cfg.widths)

    def intra_stage(self, chunks: torch.Tensor, width_idx: torch.Tensor,
                    st_weights: torch.Tensor | None = None, all_widths: bool = False) -> torch.Tensor:
        """Run every chunk through the intra layers at its own width.

        Chunks are grouped by width; each group goes through the layers at that width only.
        With ``st_weights`` (training with the gate) each chunk's output is multiplied by the
        straight-through weight of its chosen width (exactly 1 in value), which is how the
        separation loss's gradient reaches the gate.

        ``all_widths`` (gate training only, with ``st_weights``): every chunk runs at every
        width and the output is ``sum_k st_weights[:, k] * y_k``. The value is still that of the
        chosen width (the weights are an exact one-hot), but the gradient of each width's weight
        is ``<dL/dy, y_k>`` for every k, so the gate learns how each width *would* change the
        loss, not only whether to scale the chosen output. With the chosen width alone, the
        separation loss cannot tell the gate that another width would be better. Costs one pass
        per width; it is never used at inference, where the MACs are counted.

        Shape: ``chunks`` ``[n, K, d]``; ``width_idx`` ``[n]`` (long); ``st_weights``
        ``[n, n_widths]``; returns ``[n, K, d]``.
        """
        x = chunks + sinusoidal_positions(chunks.shape[1], chunks.shape[2], chunks.device, chunks.dtype)
        if all_widths:
            if st_weights is None:
                raise ValueError("all_widths needs st_weights (it is for gate training)")
            out = torch.zeros_like(x)
            for k in range(self.n_widths):
                out = out + self._intra_at(x, k) * st_weights[:, k].view(-1, 1, 1)
            return out
        out = torch.zeros_like(x)
        for k in torch.unique(width_idx).tolist():
            rows = torch.nonzero(width_idx == k).squeeze(1)
            y = self._intra_at(x.index_select(0, rows), k)
            if st_weights is not None:
                y = y * st_weights.index_select(0, rows)[:, k].view(-1, 1, 1)
            out = out.index_copy(0, rows, y)
        return out

    def _intra_at(self, y: torch.Tensor, k: int) -> torch.Tensor:
        """The intra layers at width index ``k``. Shape: ``[n, K, d]`` -> same."""
        for layer in self.intra:
            y = layer(y, k)
        return y

    def inter_stage(self, chunks: torch.Tensor, batch: int,
                    chunk_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Full-width layers across chunks, for each frame position in a chunk.
        ``chunk_mask`` (bool ``[batch, S]``, True = a chunk of the mixture, False = padding of
        a shorter mixture in the batch): padding chunks are never attended to.

        Shape: ``chunks`` ``[batch * S, K, d]`` -> same.
        """
        n, k_frames, d = chunks.shape
        s = n // batch
        z = chunks.view(batch, s, k_frames, d).transpose(1, 2).reshape(batch * k_frames, s, d)
        z = z + sinusoidal_positions(s, d, z.device, z.dtype)
        keys = None if chunk_mask is None else chunk_mask.repeat_interleave(k_frames, dim=0)
        for layer in self.inter:
            z = layer(z) if keys is None else layer(z, key_mask=keys)
        return z.view(batch, k_frames, s, d).transpose(1, 2).reshape(n, k_frames, d)

    def forward(self, chunks: torch.Tensor, width_idx: torch.Tensor, batch: int,
                st_weights: torch.Tensor | None = None, all_widths: bool = False,
                chunk_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.inter_stage(self.intra_stage(chunks, width_idx, st_weights, all_widths), batch, chunk_mask)


class InterStack(nn.Module):
    """The inter-chunk part of one block as a module of one tensor (for pricing).

    Shape: ``[K, S, d]`` (one mixture) -> same.
    """

    def __init__(self, block: DualPathBlock) -> None:
        super().__init__()
        self.block = block

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for layer in self.block.inter:
            z = layer(z)
        return z


class MaskHead(nn.Module):
    """LayerNorm + Linear(d, n_src * N) + ReLU/sigmoid.

    Shape: ``[B, L, d]`` -> masks ``[B, n_src, N, L]``.
    """

    def __init__(self, d_model: int, channels: int, n_src: int, activation: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.linear = nn.Linear(d_model, n_src * channels)
        self.n_src = n_src
        self.channels = channels
        self.activation = activation

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, length, _ = frames.shape
        m = self.linear(self.norm(frames))
        m = torch.relu(m) if self.activation == "relu" else torch.sigmoid(m)
        return m.view(b, length, self.n_src, self.channels).permute(0, 2, 3, 1)


class Decoder(nn.Module):
    """ConvTranspose1d(N, 1, kernel, stride) per source.

    Shape: masked frames ``[B, n_src, N, L]`` -> ``[B, n_src, (L - 1) * stride + kernel]``.
    """

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose1d(channels, 1, kernel, stride=stride, bias=False)

    def forward(self, masked: torch.Tensor) -> torch.Tensor:
        b, n_src, channels, length = masked.shape
        out = self.deconv(masked.reshape(b * n_src, channels, length))
        return out.view(b, n_src, -1)


# --------------------------------------------------------------------------- the network
class DualPathDSN(nn.Module):
    """Dual-path transformer separator with slimmable intra-chunk layers and a width gate.

    See the module docstring for the signal path and the segment grid.
    """

    def __init__(self, config: DSNConfig) -> None:
        super().__init__()
        cfg = self.config = config
        self.encoder = Encoder(cfg.enc_channels, cfg.enc_kernel, cfg.enc_stride)
        self.input_stage = InputStage(cfg.enc_channels, cfg.d_model)
        self.gate = ChunkGate(cfg.d_model, cfg.gate_hidden, len(cfg.widths))
        self.blocks = nn.ModuleList(DualPathBlock(cfg) for _ in range(cfg.n_blocks))
        self.mask_head = MaskHead(cfg.d_model, cfg.enc_channels, cfg.n_src, cfg.mask_activation)
        self.decoder = Decoder(cfg.enc_channels, cfg.enc_kernel, cfg.enc_stride)
        self.register_buffer("relative_cost", self.analytic_relative_cost(), persistent=False)

    # -- geometry ------------------------------------------------------------------------
    @property
    def widths(self) -> tuple[float, ...]:
        return self.config.widths

    def padded_length(self, n_samples: int) -> int:
        """Samples after the encoder's right padding (see step 1 of the module docstring)."""
        k, s = self.config.enc_kernel, self.config.enc_stride
        return k + s * max(0, math.ceil((n_samples - k) / s))

    def n_segments(self, n_samples: int) -> int:
        """Number of chunks (= trace segments) for a mixture of ``n_samples`` samples."""
        return n_segments_for(n_samples, self.config.segment_length, self.config.segment_hop)

    def width_index(self, width: float) -> int:
        """Index of a width value in ``config.widths``; ValueError naming the valid ones."""
        for i, w in enumerate(self.widths):
            if abs(w - float(width)) < 1e-9:
                return i
        raise ValueError(f"width {width} is not one of this network's widths {self.widths}")

    def analytic_relative_cost(self) -> torch.Tensor:
        """MAC_k / MAC_max of the intra-chunk layers per width (products only, per chunk).

        Shape: ``[n_widths]``.
        """
        cfg = self.config
        macs = [layer_macs_per_token(cfg.d_model, cfg.head_dim, kept_units(w, cfg.intra_heads),
                                     kept_units(w, cfg.intra_ffn), cfg.chunk_size)
                for w in cfg.widths]
        return torch.tensor(macs, dtype=torch.float32) / max(macs)

    def set_relative_cost(self, costs: Sequence[float] | torch.Tensor) -> None:
        """Replace the analytic cost vector (e.g. with fvcore's measured MACs, normalised)."""
        c = torch.as_tensor(costs, dtype=torch.float32).flatten()
        if c.numel() != len(self.widths):
            raise ValueError(f"need one cost per width ({len(self.widths)}), got {c.numel()}")
        self.relative_cost = c / c.max()

    # -- pieces of the forward -------------------------------------------------------------
    def chunk(self, masker_input: torch.Tensor, n_segments: int) -> torch.Tensor:
        """Cut frames into 50 %-overlapping chunks (zero padding at the end).

        Shape: ``[B, L, d]`` -> ``[B, S, K, d]``.
        """
        b, length, d = masker_input.shape
        hop = self.config.chunk_size // 2
        total = (n_segments + 1) * hop
        if total < length:
            raise AssertionError(f"chunk grid of {total} frames does not cover {length} frames")
        x = F.pad(masker_input, (0, 0, 0, total - length))
        halves = x.view(b, n_segments + 1, hop, d)
        return torch.cat([halves[:, :-1], halves[:, 1:]], dim=2)

    def overlap_add(self, chunks: torch.Tensor, n_frames: int,
                    chunk_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Chunks back to frames; each frame averaged over the chunks covering it.
        ``chunk_mask`` (bool ``[B, S]``): only the mixture's own chunks are added back.

        Shape: ``[B, S, K, d]`` -> ``[B, n_frames, d]``.
        """
        b, s, k, d = chunks.shape
        hop = k // 2
        if chunk_mask is not None:
            chunks = chunks * chunk_mask.view(b, s, 1, 1).to(chunks.dtype)
        zero = chunks.new_zeros(b, 1, hop, d)
        summed = torch.cat([chunks[:, :, :hop], zero], 1) + torch.cat([zero, chunks[:, :, hop:]], 1)
        if chunk_mask is None:
            count = torch.full((s + 1,), 2.0, dtype=chunks.dtype, device=chunks.device)
            count[0] = 1.0
            count[-1] = 1.0
            summed = summed / count.view(1, -1, 1, 1)
        else:
            # half-chunk j is covered by chunks j - 1 and j, as far as they are the mixture's own
            own = chunk_mask.to(chunks.dtype)
            pad = own.new_zeros(b, 1)
            count = (torch.cat([own, pad], 1) + torch.cat([pad, own], 1)).clamp_min(1.0)
            summed = summed / count.view(b, s + 1, 1, 1)
        return summed.reshape(b, (s + 1) * hop, d)[:, :n_frames]

    def _length_masks(self, lengths: torch.Tensor, n_frames: int, n_segments: int,
                      device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Which frames ``[B, L]`` and which chunks ``[B, S]`` belong to each mixture."""
        lengths = torch.as_tensor(lengths, dtype=torch.long).flatten().tolist()
        cfg = self.config
        own_frames = [(self.padded_length(t) - cfg.enc_kernel) // cfg.enc_stride + 1 for t in lengths]
        own_chunks = [self.n_segments(t) for t in lengths]
        frame_mask = torch.arange(n_frames, device=device).unsqueeze(0) < torch.tensor(own_frames, device=device).unsqueeze(1)
        chunk_mask = torch.arange(n_segments, device=device).unsqueeze(0) < torch.tensor(own_chunks, device=device).unsqueeze(1)
        return frame_mask.to(torch.float32), chunk_mask

    def choose_widths(self, logits: torch.Tensor, beta: float,
                      costs: torch.Tensor | None = None) -> torch.Tensor:
        """Inference rule: ``argmax_k(logits_k - beta * relative_cost_k)``.

        Shape: ``logits`` ``[..., n_widths]`` -> ``[...]`` (long).
        """
        c = self.relative_cost if costs is None else torch.as_tensor(costs, dtype=logits.dtype)
        return torch.argmax(logits - float(beta) * c.to(logits.device, logits.dtype), dim=-1)

    # -- forward -----------------------------------------------------------------------------
    def forward(self, mix: torch.Tensor, width: float | None = None,
                widths: torch.Tensor | None = None, gate_mode: GateMode = "off",
                beta: float = 0.0, tau: float = 1.0,
                costs: torch.Tensor | None = None, all_widths: bool = False,
                lengths: torch.Tensor | None = None) -> DSNOutput:
        """Separate a batch of mixtures.

        Width per chunk, in order of precedence: ``gate_mode="train"`` (Gumbel-softmax
        straight-through with temperature ``tau``; hard forward, gradient reaches the gate),
        ``gate_mode="infer"`` (argmax of logits - ``beta`` * relative cost; ``costs`` overrides
        the cost vector), ``widths`` (given per chunk), ``width`` (one value for all chunks),
        else the widest. With ``gate_mode="infer"`` and ``width``/``widths`` the gate still runs
        (its logits are returned) but the given widths are used (forced widths: for MAC proofs
        and gate analysis). ``width``/``widths`` with ``gate_mode="train"`` is an error.
        ``all_widths`` (only with ``gate_mode="train"``): every chunk also runs at the widths it
        did not choose, so the separation loss's gradient compares the widths (see
        :meth:`DualPathBlock.intra_stage`); the estimates are the same.
        ``lengths`` (``[B]`` samples): a batch of mixtures of different lengths, each zero-padded
        at its end to ``T``. Every mixture's frames past its own end are zeroed, its padding
        chunks are never attended to and never added back, so mixture ``b``'s first
        ``lengths[b]`` output samples and first ``n_segments(lengths[b])`` widths are those of
        the mixture run alone (to float rounding). None: every mixture is ``T`` long.

        Shape: ``mix`` ``[B, T]``; ``widths`` ``[B, S]`` with ``S = self.n_segments(T)``;
        returns :class:`DSNOutput` (``estimates`` ``[B, n_src, T]``).
        """
        if mix.dim() != 2:
            raise ValueError(f"mix must be [B, T], got shape {tuple(mix.shape)}")
        if gate_mode not in ("off", "train", "infer"):
            raise ValueError(f"gate_mode must be 'off', 'train' or 'infer', got {gate_mode!r}")
        forced = width is not None or widths is not None
        if gate_mode == "train" and forced:
            raise ValueError("give either gate_mode='train' or width/widths, not both")
        if all_widths and gate_mode != "train":
            raise ValueError("all_widths is for gate_mode='train' only")
        cfg = self.config
        batch, n_samples = mix.shape
        n_seg = self.n_segments(n_samples)
        padded = F.pad(mix, (0, self.padded_length(n_samples) - n_samples))
        with float32_signal_path(mix):
            frames = self.encoder(padded.float())                      # [B, N, L]
            masker_input = self.input_stage(frames)                    # [B, L, d]
        chunk_mask = frame_mask = None
        if lengths is not None:
            frame_mask, chunk_mask = self._length_masks(lengths, frames.shape[-1], n_seg, mix.device)
            frames = frames * frame_mask.unsqueeze(1)
            masker_input = masker_input * frame_mask.unsqueeze(-1)
        chunks = self.chunk(masker_input, n_seg)                       # [B, S, K, d]
        flat = chunks.reshape(batch * n_seg, cfg.chunk_size, cfg.d_model)

        logits = probs = st_weights = None
        if gate_mode != "off":
            with float32_signal_path(mix):          # the width decision never depends on the precision
                logits = self.gate(flat.float()).view(batch, n_seg, -1)
            if gate_mode == "train":
                probs = F.gumbel_softmax(logits, tau=tau, hard=True, dim=-1)
                width_idx = probs.argmax(-1)
                st_weights = probs.reshape(batch * n_seg, -1)
            else:
                probs = torch.softmax(logits, dim=-1)
                width_idx = self.choose_widths(logits, beta, costs)
        if gate_mode == "train":
            pass
        elif gate_mode == "infer" and not forced:
            pass
        elif widths is not None:
            width_idx = torch.as_tensor(widths, dtype=torch.long, device=mix.device)
            if tuple(width_idx.shape) != (batch, n_seg):
                raise ValueError(f"widths must be [B, S] = [{batch}, {n_seg}], got {tuple(width_idx.shape)}")
            if width_idx.min() < 0 or width_idx.max() >= len(cfg.widths):
                raise ValueError(f"width indices must be in [0, {len(cfg.widths)})")
        else:
            k = len(cfg.widths) - 1 if width is None else self.width_index(width)
            width_idx = torch.full((batch, n_seg), k, dtype=torch.long, device=mix.device)

        x = flat
        for block in self.blocks:
            x = block(x, width_idx.reshape(-1), batch, st_weights, all_widths, chunk_mask)
        frames_out = self.overlap_add(x.view(batch, n_seg, cfg.chunk_size, cfg.d_model),
                                      masker_input.shape[1], chunk_mask)  # [B, L, d]
        with float32_signal_path(mix):
            masks = self.mask_head(frames_out.float())                   # [B, n_src, N, L]
            estimates = self.decoder(frames.unsqueeze(1) * masks)[..., :n_samples]
        return DSNOutput(estimates, width_idx, logits, probs,
                         cfg.segment_length, cfg.segment_hop)

    # -- accounting ------------------------------------------------------------------------
    def params_at(self, width_index: int | None = None, include_gate: bool = False) -> int:
        """Parameters used at one width (None: the widest), with or without the gate."""
        k = len(self.widths) - 1 if width_index is None else int(width_index)
        total = 0
        for name, p in self.named_parameters():
            if ".intra." in name or name.startswith("gate."):
                continue
            total += p.numel()
        for block in self.blocks:
            total += sum(layer.params_at(k) for layer in block.intra)
        if include_gate:
            total += sum(p.numel() for p in self.gate.parameters())
        return total

    def parts_for_complexity(self) -> list[Part]:
        """Every part with a MAC cost and an input builder (see the module docstring).

        The encoder input for ``n`` frames is ``[1, kernel + (n - 1) * stride]``; the decoder
        input ``[1, n_src, N, n]``; the intra layers and gate take ``[n, K, d]``; an inter stack
        takes ``[K, S, d]``. Position codes, chunking, overlap-add and masking have no products.
        Every layer of every block is its own :class:`~dsnbench.types.Part`, so each part runs
        exactly once per forward (per frame / chunk / mixture).
        """
        cfg = self.config
        d, k_frames = cfg.d_model, cfg.chunk_size
        g = torch.Generator().manual_seed(0)

        def rand(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g)

        parts = [
            Part("encoder", self.encoder,
                           lambda n: (rand(1, cfg.enc_kernel + (n - 1) * cfg.enc_stride),), "frames"),
            Part("input_stage", self.input_stage,
                           lambda n: (rand(1, cfg.enc_channels, n),), "frames"),
            Part("mask_head", self.mask_head, lambda n: (rand(1, n, d),), "frames"),
            Part("decoder", self.decoder,
                           lambda n: (rand(1, cfg.n_src, cfg.enc_channels, n),), "frames"),
            Part("gate", self.gate, lambda n: (rand(n, k_frames, d),), "chunks"),
        ]
        for b, block in enumerate(self.blocks):
            for i, layer in enumerate(block.intra):
                for w in range(len(cfg.widths)):
                    parts.append(Part(f"blocks.{b}.intra.{i}@{cfg.widths[w]}",
                                                FixedWidth(layer, w),
                                                lambda n: (rand(n, k_frames, d),), "chunks", w))
            parts.append(Part(f"blocks.{b}.inter", InterStack(block),
                                        lambda s: (rand(k_frames, s, d),), "segments"))
        return parts
