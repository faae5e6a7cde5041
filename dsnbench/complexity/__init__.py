"""Complexity: exact MACs per segment (design section 5).

1 MAC = one multiply-accumulate; FLOPs = 2 x MACs; raw integers are stored, G only on display.
:mod:`.counting` counts one traced forward with fvcore and our op handles (normalisation,
activations and other elementwise ops count 0; an op without a rule is an error);
:mod:`.table` builds a table once per model and prices each utterance's trace from it.

Typical use (the run loop)::

    table = build_mac_table(separator)          # traces the model a few times
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
