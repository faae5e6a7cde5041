"""Measured inference time of a separator per width and per DSN operating point, next to the
MACs of each setting from its MAC table (``dsnbench latency``; MACs are not time)."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np

from .table import build_mac_table


def measure_latency(separator: Any, seconds: float, sample_rate: int | None, device: Any, repeats: int,
                    warmup: int, batch_size: int = 1) -> dict[str, Any]:
    """Time one forward of ``batch_size`` mixtures of ``seconds`` of noise-like audio,
    ``repeats`` times after ``warmup`` untimed runs, for every setting (each width of a
    slimmable/DSN network, each DSN operating point); the median, minimum, 90th percentile,
    real-time factor (time per second of audio: the batch's time over its total audio), GMAC/s
    and, on a GPU, the peak memory of each (synchronised before and after every timed call).
    Raises ValueError when the model cannot be timed on ``device``."""
    import torch
    rate = int(sample_rate or getattr(separator, "sample_rate", None) or 8000)
    n = int(round(seconds * rate))
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    x = 0.1 * torch.randn(batch_size, n, generator=torch.Generator().manual_seed(0))
    x = x.to(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    try:
        table = build_mac_table(separator, sample_rate=rate)
    except Exception as exc:  # time is still worth measuring without a count
        table, why = None, f"{type(exc).__name__}: {exc}"
    rows = []
    cuda = device.type == "cuda"
    for label, fn, what in settings_for(separator, x, device):
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            times = time_call(fn, repeats, warmup, sync)
            macs = _macs_of(table, separator, what, x, n)
        med = statistics.median(times)
        rows.append({"setting": label, "median_s": med, "min_s": min(times),
                     "p90_s": float(np.percentile(times, 90)), "rtf": med / (batch_size * n / rate),
                     "gmacs_per_s": macs / (n / rate) / 1e9 if macs is not None else None,
                     "peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
                     "repeats": repeats})
    info = {"seconds": n / rate, "sample_rate": rate, "batch_size": batch_size, "device": str(device),
            "results": rows}
    if table is None:
        info["macs_note"] = f"no MAC count: {why}"
    return info


def time_call(fn: Callable[[], Any], repeats: int, warmup: int, sync: Callable[[], None]) -> list[float]:
    """Seconds per call of ``fn`` over ``repeats`` timed runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def settings_for(separator: Any, x: Any, device: Any) -> list[tuple[str, Callable[[], Any], Any]]:
    """(label, call, widths-or-beta) per setting to time; the network moved to ``device``."""
    out: list[tuple[str, Callable[[], Any], Any]] = []
    network = getattr(separator, "network", None)
    if network is not None and hasattr(network, "n_segments"):
        network.to(device).eval()
        family = getattr(separator, "family", "")
        if family == "dsn":
            widths = list(network.widths)
        elif family == "slim":
            widths = [separator.width]
        else:
            widths = [None]
        for w in widths:
            label = "width " + ("static" if w is None else f"{w:g}")
            if w is None and getattr(separator, "width", None) is not None:
                label = f"width {separator.width:g} (static)"
            out.append((label, (lambda w=w: network(x, width=w)), ("width", w)))
        if family == "dsn":
            for beta in separator.operating_points():
                out.append((f"dsn beta={beta:g}",
                            (lambda b=beta: network(x, gate_mode="infer", beta=b)), ("beta", beta)))
        return out
    module = getattr(separator, "module", None)
    if module is not None and hasattr(separator, "forward_batch"):
        separator.to_device(device)
        return [("full", lambda: [separator.forward_batch(row.unsqueeze(0)) for row in x], None)]
    if device.type != "cpu":
        raise ValueError("this model can only be timed on the CPU (it has no module to move)")
    return [("full", lambda: [separator.separate(row.cpu()) for row in x], None)]


def _macs_of(table: Any, sep: Any, what: Any, x: Any, n: int) -> int | None:
    """MACs of one timed setting from the table (the beta case prices the gate's own choice)."""
    if table is None:
        return None
    if what is None or table.kind != "parts":
        total = table.total_macs(n) if table.kind == "module" else table.price(None, n).total_macs
        return None if total != total else int(total)  # NaN: undefined
    kind, value = what
    net = sep.network
    if kind == "width":
        k = table._default_index() if value is None else list(table.width_values).index(
            next(w for w in table.width_values if abs(w - value) < 1e-9))
        widths = [k] * net.n_segments(n)
        total = table.price_widths(n, widths)[1]
        if sep.family == "dsn":  # a forced width runs no gate
            total -= table.breakdown(n, k).get("gate", 0)
        return int(total)
    out = net(x, gate_mode="infer", beta=value)
    # per mixture (each its own widths), the mean over the batch
    return int(np.mean([table.price_widths(n, w)[1] for w in out.width_idx.cpu().numpy()]))
