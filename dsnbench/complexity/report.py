"""A separator's MAC table as a plain report: per width, per part, GMAC per second of audio
(what ``dsnbench macs`` prints)."""
from __future__ import annotations

from typing import Any

from .table import build_mac_table


def macs_report(separator: Any, seconds: float, sample_rate: int | None) -> dict[str, Any]:
    """The table of one separator as a plain dict (what ``dsnbench macs`` prints)."""
    rate = int(sample_rate or getattr(separator, "sample_rate", None) or 8000)
    prepare = getattr(separator, "prepare", None)
    if callable(prepare):
        prepare(rate)  # a model that cannot run at this rate (as `dsnbench run` refuses it): ValueError
    n = int(round(seconds * rate))
    table = build_mac_table(separator, sample_rate=rate, verify="full")
    report: dict[str, Any] = {"model": getattr(separator, "name", "?"),
                              "family": getattr(separator, "family", "?"),
                              "params": table.params, "sample_rate": rate, "n_samples": n,
                              "seconds": n / rate, "kind": table.kind, "convention":
                              "1 MAC = one multiply-accumulate; FLOPs = 2 x MACs",
                              "widths": []}
    if table.kind == "undefined":
        report["note"] = "complexity not defined for this model (NaN MACs)"
        return report
    if table.kind == "rate":
        total = table.rate * n / rate
        report["widths"].append({"width": None, "macs": total, "gmacs_per_s": total / (n / rate) / 1e9,
                                 "parts": {}})
        return report
    widths = range(len(table.width_values)) if table.kind == "parts" else [None]
    for k in widths:
        parts = table.breakdown(n, k)
        total = table.total_macs(n) if k is None else \
            int(table.price_widths(n, [k] * table._parts_spec.n_segments(n))[1])
        report["widths"].append({
            "width": table.width_values[k] if k is not None else table.width_values[0],
            "macs": total, "gmacs_per_s": total / (n / rate) / 1e9,
            "parts": {name: v / (n / rate) / 1e9 for name, v in parts.items()}})
    if table.kind == "parts":
        report["per_chunk_macs"] = dict(zip((f"{w:g}" for w in table.width_values), table.chunk_costs()))
        report["segment"] = {"length": table._parts_spec.segment_length, "hop": table._parts_spec.segment_hop}
    return report
