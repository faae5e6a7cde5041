"""``dsnbench macs MODEL``: the model's MAC table, per width and per part, in GMACs per second."""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

EPILOG = """examples:
  dsnbench macs asteroid:/path/convtasnet.pth
  dsnbench macs asteroid:/path/dprnn.pth --seconds 4 --json
  dsnbench macs oracle-mixture

Counts are exact multiply-accumulates of one forward on an input of --seconds of audio, traced
with fvcore and our op handles (normalisation, activations and other elementwise ops count 0).
1 MAC = one multiply-accumulate; FLOPs = 2 x MACs.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("macs", help="print a model's MAC table (per width, per part)",
                       description="Count a model's multiply-accumulates with fvcore and print "
                                   "GMACs per second of audio, per width and per part.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="registered name, checkpoint path or adapter:path")
    p.add_argument("--seconds", type=float, default=1.0, help="input length counted (default 1)")
    p.add_argument("--sample-rate", type=int, default=None,
                   help="sample rate (default: the model's own, else 8000)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=run)


def _print_text(r: dict[str, Any]) -> None:
    print(f"model {r['model']} (family {r['family']}), params {r['params']}, "
          f"{r['sample_rate']} Hz, input {r['seconds']:g} s ({r['n_samples']} samples)")
    print(r["convention"])
    if r.get("note"):
        print(r["note"])
        return
    rows = r["widths"]
    names = sorted({p for row in rows for p in row["parts"]}, key=lambda p: (p.startswith("blocks"), p))
    head = ["part"] + [("width " + ("-" if row["width"] is None else f"{row['width']:g}")) for row in rows]
    table = [[name] + [f"{row['parts'].get(name, 0.0):.4f}" for row in rows] for name in names]
    table.append(["TOTAL GMACs/s"] + [f"{row['gmacs_per_s']:.4f}" for row in rows])
    table.append(["TOTAL GFLOPs/s"] + [f"{2 * row['gmacs_per_s']:.4f}" for row in rows])
    table.append(["MACs (raw)"] + [str(int(row["macs"])) if not math.isnan(row["macs"]) else "nan" for row in rows])
    widths = [max(len(str(line[i])) for line in [head] + table) for i in range(len(head))]
    for line in [head] + table:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
    if "per_chunk_macs" in r:
        seg = r["segment"]
        print(f"width-dependent MACs per segment ({seg['length']} samples, hop {seg['hop']}): "
              + ", ".join(f"{w}: {m}" for w, m in r["per_chunk_macs"].items()))
        print("a DSN's cost per utterance = the width-independent parts + each segment's chunk cost at its width")


def run(args: argparse.Namespace) -> int:
    from ..complexity import UnsupportedOpError
    from ..complexity.report import macs_report
    from ..errors import UserError
    from ..run.loading import load_model
    if not args.seconds > 0:
        raise UserError(f"--seconds must be positive, got {args.seconds}")
    sep = load_model(args.model)
    try:
        report = macs_report(sep, args.seconds, args.sample_rate)
    except UnsupportedOpError as exc:
        raise UserError(f"{args.model}: {exc}") from None
    except ValueError as exc:
        raise UserError(f"{args.model}: {exc}") from None
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=float)
        print()
    else:
        _print_text(report)
    return 0
