"""Slimmable pre-LN transformer layer (design section 3).

A layer owns full-size weights: ``n_heads`` attention heads of ``head_dim`` each and an FFN of
``ffn_dim`` units. Run at width index ``k`` (width value ``w = widths[k]``) it keeps the first
``ceil(w * n_heads)`` heads and the first ``ceil(w * ffn_dim)`` FFN units, by slicing the weight
matrices before the matrix products. Nothing is computed at full width and masked, so a narrow
width really costs fewer multiply-accumulates. The residual stream keeps ``d_model`` at every
width, so chunks run at different widths meet again in the inter-chunk layers.

Attention is written out with linear layers and ``torch.matmul`` (no fused
``nn.MultiheadAttention`` / ``scaled_dot_product_attention``) so that every product is an op
fvcore counts, at the sliced size.

Per token of a sequence of length ``L`` (``h`` heads kept, ``f`` FFN units kept,
``a = h * head_dim``) one layer costs, in MACs:
``3*d*a`` (q, k, v) + ``L*a`` (scores) + ``L*a`` (weights x values) + ``a*d`` (output) +
``2*d*f`` (FFN), plus the two LayerNorms. :func:`layer_macs_per_token` gives the product part.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn


_FUSED = {"on": False}


@contextlib.contextmanager
def fused_attention(enabled: bool = True) -> Iterator[None]:
    """Inside this block slimmable layers compute attention with the fused kernel
    (``scaled_dot_product_attention``): the same function, faster on GPUs, but an op the MAC
    counter does not see. For training steps only; evaluation and MAC counting run outside it.
    """
    before = _FUSED["on"]
    _FUSED["on"] = bool(enabled)
    try:
        yield
    finally:
        _FUSED["on"] = before


def kept_units(width: float, total: int) -> int:
    """Units kept at ``width``: ``ceil(width * total)``, at least 1 (float noise ignored)."""
    if not 0.0 < width <= 1.0:
        raise ValueError(f"width must be in (0, 1], got {width}")
    return max(1, min(total, math.ceil(width * total - 1e-9)))


def layer_macs_per_token(d_model: int, head_dim: int, heads: int, ffn: int, seq_len: int) -> int:
    """MACs of the matrix products of one layer per token (LayerNorms and softmax excluded)."""
    a = heads * head_dim
    return 4 * d_model * a + 2 * seq_len * a + 2 * d_model * ffn


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Fixed sinusoidal position code.

    Shape: returns ``[length, dim]``.
    """
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    idx = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    freq = torch.exp(-math.log(10000.0) * idx / dim)
    table = torch.zeros(length, dim, device=device, dtype=torch.float32)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table.to(dtype)


class SlimmableTransformerLayer(nn.Module):
    """Pre-LN transformer layer whose attention heads and FFN units can be sliced by width.

    ``layer(x, width_index)`` runs the layer at ``widths[width_index]``.

    Shape: input and output ``[n_seq, L, d_model]``.
    """

    def __init__(self, d_model: int, n_heads: int, head_dim: int, ffn_dim: int,
                 widths: Sequence[float] = (1.0,), dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.ffn_dim = ffn_dim
        self.widths = tuple(float(w) for w in widths)
        inner = n_heads * head_dim
        self.norm_attn = nn.LayerNorm(d_model)
        self.query = nn.Linear(d_model, inner)
        self.key = nn.Linear(d_model, inner)
        self.value = nn.Linear(d_model, inner)
        self.out = nn.Linear(inner, d_model)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn_in = nn.Linear(d_model, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, d_model)
        self.dropout = dropout
        #: (heads kept, FFN units kept) per width index
        self.sizes: tuple[tuple[int, int], ...] = tuple(
            (kept_units(w, n_heads), kept_units(w, ffn_dim)) for w in self.widths)

    def forward(self, x: torch.Tensor, width_index: int = -1,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Run the layer at width ``widths[width_index]`` (default: the last, i.e. widest).

        ``key_mask`` (bool, True = a real position): positions that only pad a sequence (a
        batch of mixtures of different lengths) are never attended to, so every real
        position's output is what it would be without the padding.

        Shape: ``x`` is ``[n_seq, L, d_model]``; ``key_mask`` ``[n_seq, L]``; returns the
        shape of ``x``.
        """
        heads, units = self.sizes[int(width_index)]
        a = heads * self.head_dim
        n, length, _ = x.shape
        h = self.norm_attn(x)
        q = F.linear(h, self.query.weight[:a], self.query.bias[:a])
        k = F.linear(h, self.key.weight[:a], self.key.bias[:a])
        v = F.linear(h, self.value.weight[:a], self.value.bias[:a])
        q = q.view(n, length, heads, self.head_dim).transpose(1, 2)
        k = k.view(n, length, heads, self.head_dim).transpose(1, 2)
        v = v.view(n, length, heads, self.head_dim).transpose(1, 2)
        allowed = None if key_mask is None else key_mask.view(n, 1, 1, length)
        if _FUSED["on"]:
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                                 dropout_p=self.dropout if self.training else 0.0)
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
            if allowed is not None:
                scores = scores.masked_fill(~allowed, float("-inf"))
            weights = torch.softmax(scores, dim=-1)
            if self.training and self.dropout > 0:
                weights = F.dropout(weights, self.dropout)
            ctx = torch.matmul(weights, v)
        ctx = ctx.transpose(1, 2).reshape(n, length, a)
        attn = F.linear(ctx, self.out.weight[:, :a], self.out.bias)
        if self.training and self.dropout > 0:
            attn = F.dropout(attn, self.dropout)
        x = x + attn
        h = self.norm_ffn(x)
        h = F.relu(F.linear(h, self.ffn_in.weight[:units], self.ffn_in.bias[:units]))
        h = F.linear(h, self.ffn_out.weight[:, :units], self.ffn_out.bias)
        if self.training and self.dropout > 0:
            h = F.dropout(h, self.dropout)
        return x + h

    def params_at(self, width_index: int = -1) -> int:
        """Parameters this layer uses at ``widths[width_index]``."""
        heads, units = self.sizes[int(width_index)]
        a = heads * self.head_dim
        d = self.d_model
        norms = 4 * d
        attn = 3 * (d * a + a) + (a * d + d)
        ffn = (d * units + units) + (units * d + d)
        return norms + attn + ffn

    def macs_per_token(self, width_index: int, seq_len: int) -> int:
        """Analytic MACs of the products per token at a width (see module docstring)."""
        heads, units = self.sizes[int(width_index)]
        return layer_macs_per_token(self.d_model, self.head_dim, heads, units, seq_len)

    def at_width(self, width_index: int) -> "FixedWidth":
        """This layer as a module with a one-tensor forward, for tracing (fvcore)."""
        return FixedWidth(self, width_index)


class FixedWidth(nn.Module):
    """A slimmable layer pinned to one width; ``forward(x)`` only (tracing needs tensors).

    Shape: input and output ``[n_seq, L, d_model]``.
    """

    def __init__(self, layer: SlimmableTransformerLayer, width_index: int) -> None:
        super().__init__()
        self.layer = layer
        self.width_index = int(width_index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x, self.width_index)
