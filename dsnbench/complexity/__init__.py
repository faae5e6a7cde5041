"""Complexity: exact MACs per segment (design section 5).

README-ready summary
--------------------
dsnbench reports compute as **MACs** (1 MAC = one multiply-accumulate; FLOPs = 2 x MACs), raw
integers in the tables, GMACs per second of audio on display. MACs are counted with fvcore's
tracer and dsnbench's own op handles:

* counted: convolutions (incl. depthwise and transposed), linear layers, matmul / bmm / addmm /
  baddbmm / einsum, attention (``scaled_dot_product_attention`` and the fused
  ``MultiheadAttention`` / ``TransformerEncoderLayer`` kernels), LSTM / GRU / RNN (every weight
  matrix once per step and batch element: an LSTM layer direction costs ``T*B*4H(I+H)``);
* counted as 0, by one rule: normalisation, activations (PReLU included), softmax, elementwise
  arithmetic, reductions, bias additions and data movement;
* never silently 0: an op with no rule makes the count fail with the op's name.

Each model's table is built once (a few traces of its parts) and every utterance's trace is
priced from it: a segment gets the per-chunk cost of its width (and the gate's), the
width-independent rest (encoder, decoder, inter-chunk layers...) is spread evenly over the
segments, and the segment MACs add up exactly to the utterance's total. Tests prove the priced
total equals a full fvcore trace of the same forward, to the MAC, for static models and for DSN
traces with mixed widths. Oracles that read the references have undefined MACs (NaN); a
TorchScript model too (its scripted code cannot be traced with shapes).

:mod:`.counting` counts one traced forward; :mod:`.table` builds the table and prices traces.

Typical use (the run loop)::

    table = build_mac_table(separator)          # traces the model's parts a few times
    priced = table.price(trace, n_samples)       # arithmetic only
    priced.macs_per_segment, priced.total_macs, priced.gmacs_per_s, priced.width_share
"""
from __future__ import annotations

from .counting import MAC_HANDLES, ZERO_MAC_OPS, MacCount, UnsupportedOpError, count_macs
from .table import (MacTable, ModuleComplexity, Part, PartsComplexity, PricedTrace,
                    build_mac_table, fit_polynomial, spread_evenly)

__all__ = ["count_macs", "MacCount", "UnsupportedOpError", "MAC_HANDLES", "ZERO_MAC_OPS",
           "MacTable", "ModuleComplexity", "Part", "PartsComplexity", "PricedTrace",
           "build_mac_table", "fit_polynomial", "spread_evenly"]
