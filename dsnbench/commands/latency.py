"""``dsnbench latency MODEL``: measured inference time per width (MACs are not time)."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, Callable

EPILOG = """examples:
  dsnbench latency asteroid:/path/convtasnet.pth --seconds 4
  dsnbench latency dsn-mini --repeats 20 --device cpu
  dsnbench latency dsn-mini --json

Times one forward on --seconds of noise-like audio after --warmup untimed runs, --repeats times,
and reports the median (and the spread) with the real-time factor RTF = time / audio duration
(below 1 is faster than real time). For a DSN each width is timed with every segment at that
width, and each operating point (beta) with the gate choosing; the MACs of each setting come
from the same table `dsnbench macs` prints, so MACs and time can be read side by side.
On CPU the default is one thread (comparable numbers on a shared machine); on CUDA the device
is synchronised around each run.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="time inference per width / operating point",
                       description="Measure inference time per width (and per DSN operating "
                                   "point) on the current device: warm-up, repeats, median, RTF.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="registered name, checkpoint path or adapter:path")
    p.add_argument("--seconds", type=float, default=4.0, help="input length (default 4 s)")
    p.add_argument("--sample-rate", type=int, default=None, help="default: the model's, else 8000")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per setting (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda if present)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1; never >1 with "
                   "torch.linalg in the same process)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


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
    import torch
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
        module.to(device).eval()
        return [("full", lambda: separator.forward_batch(x), None)]
    if device.type != "cpu":
        raise ValueError("this model can only be timed on the CPU (it has no module to move)")
    return [("full", lambda: separator.separate(x[0].cpu()), None)]


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..complexity import build_mac_table
    from ..errors import UserError
    from ..run.loading import load_model
    if not args.seconds > 0 or args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        raise UserError("--seconds must be > 0, --repeats >= 1, --warmup >= 0, --threads >= 1")
    name = args.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device {args.device!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here")
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    sep = load_model(args.model)
    rate = int(args.sample_rate or getattr(sep, "sample_rate", None) or 8000)
    n = int(round(args.seconds * rate))
    x = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(0))
    x = x.to(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    try:
        table = build_mac_table(sep, sample_rate=rate)
    except Exception as exc:  # time is still worth measuring without a count
        table, why = None, f"{type(exc).__name__}: {exc}"
    rows = []
    try:
        settings = settings_for(sep, x, device)
    except ValueError as exc:
        raise UserError(f"{args.model}: {exc}") from None
    for label, fn, what in settings:
        with torch.inference_mode():
            times = time_call(fn, args.repeats, args.warmup, sync)
            macs = _macs_of(table, sep, what, x, n)
        med = statistics.median(times)
        rows.append({"setting": label, "median_s": med, "min_s": min(times),
                     "p90_s": float(np.percentile(times, 90)), "rtf": med / (n / rate),
                     "gmacs_per_s": macs / (n / rate) / 1e9 if macs is not None else None,
                     "repeats": args.repeats})
    info = {"model": getattr(sep, "name", args.model), "device": str(device),
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "seconds": n / rate, "sample_rate": rate, "warmup": args.warmup, "results": rows}
    if table is None:
        info["macs_note"] = f"no MAC count: {why}"
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
        return 0
    print(f"model {info['model']} on {info['device']}"
          + (f" ({info['threads']} thread(s))" if info["threads"] else "")
          + f", input {info['seconds']:g} s at {rate} Hz, warm-up {args.warmup}, {args.repeats} timed runs")
    head = f"{'setting':<22} {'median ms':>10} {'min ms':>9} {'p90 ms':>9} {'RTF':>8} {'GMACs/s':>9} {'ms per GMAC':>12}"
    print(head)
    for r in rows:
        g = r["gmacs_per_s"]
        per = f"{1e3 * r['median_s'] / (g * info['seconds']):.2f}" if g else "-"
        print(f"{r['setting']:<22} {1e3 * r['median_s']:>10.2f} {1e3 * r['min_s']:>9.2f} "
              f"{1e3 * r['p90_s']:>9.2f} {r['rtf']:>8.4f} {('%.4f' % g) if g is not None else '-':>9} {per:>12}")
    if table is None:
        print(info["macs_note"])
    return 0


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
    return int(table.price_widths(n, out.width_idx[0].cpu().numpy())[1])
