"""``dsnbench latency MODEL``: measured inference time per width (MACs are not time)."""
from __future__ import annotations

import argparse
import json
import sys

EPILOG = """examples:
  dsnbench latency asteroid:/path/convtasnet.pth --seconds 4
  dsnbench latency dsn-l1 --repeats 20 --device cpu
  dsnbench latency dsn-l1 --json

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
    p.add_argument("--batch-size", type=int, default=1, metavar="N",
                   help="mixtures per forward (default 1); RTF is then the batch's time over its audio")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..complexity.latency import measure_latency
    from ..errors import UserError
    from ..run.loading import load_model
    if not args.seconds > 0 or args.repeats < 1 or args.warmup < 0 or args.threads < 1 or args.batch_size < 1:
        raise UserError("--seconds must be > 0, --repeats >= 1, --warmup >= 0, --threads >= 1, --batch-size >= 1")
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
    if getattr(sep, "needs_references", False):
        raise UserError(f"{args.model}: computes its output from the reference sources (an anchor, not a "
                        "model), so there is no separation of a mixture alone to time")
    try:
        measured = measure_latency(sep, args.seconds, args.sample_rate, device, args.repeats, args.warmup,
                                   batch_size=args.batch_size)
    except ValueError as exc:
        raise UserError(f"{args.model}: {exc}") from None
    rows, rate = measured["results"], measured["sample_rate"]
    info = {"model": getattr(sep, "name", args.model), "device": str(device),
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "seconds": measured["seconds"], "sample_rate": rate, "warmup": args.warmup,
            "batch_size": args.batch_size, "results": rows}
    if "macs_note" in measured:
        info["macs_note"] = measured["macs_note"]
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
        return 0
    print(f"model {info['model']} on {info['device']}"
          + (f" ({info['threads']} thread(s))" if info["threads"] else "")
          + f", input {args.batch_size} x {info['seconds']:g} s at {rate} Hz, warm-up {args.warmup}, "
            f"{args.repeats} timed runs")
    gpu = device.type == "cuda"
    head = f"{'setting':<22} {'median ms':>10} {'min ms':>9} {'p90 ms':>9} {'RTF':>8} {'GMACs/s':>9} {'ms per GMAC':>12}"
    print(head + (f" {'peak MiB':>9}" if gpu else ""))
    for r in rows:
        g = r["gmacs_per_s"]
        per = f"{1e3 * r['median_s'] / (g * info['seconds'] * args.batch_size):.2f}" if g else "-"
        print(f"{r['setting']:<22} {1e3 * r['median_s']:>10.2f} {1e3 * r['min_s']:>9.2f} "
              f"{1e3 * r['p90_s']:>9.2f} {r['rtf']:>8.4f} {('%.4f' % g) if g is not None else '-':>9} {per:>12}"
              + (f" {r['peak_mib']:>9.1f}" if gpu else ""))
    if "macs_note" in info:
        print(info["macs_note"])
    return 0
