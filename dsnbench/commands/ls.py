"""``dsnbench ls models|datasets|metrics``: what is registered."""
from __future__ import annotations

import argparse

EPILOG = """examples:
  dsnbench ls models
  dsnbench ls datasets
  dsnbench ls metrics
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list registered models, datasets or metrics",
                       description="List what is registered, with a line of help each.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("models", "datasets", "metrics"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "models":
        from ..models import MODELS as reg
    elif args.what == "datasets":
        from ..data import DATASETS as reg
    else:
        from ..metrics import METRICS as reg
    entries = list(reg)
    if args.what == "models":
        entries += _adapter_entries()
    width = max((len(e.name) for e in entries), default=0)
    for e in entries:
        extra = ""
        if args.what == "metrics":
            spec = e.load()
            extra = f" [{spec.unit}, {'higher' if spec.higher_is_better else 'lower'} is better, tol {spec.tolerance:g}]"
        meta = {k: v for k, v in e.meta.items() if k not in ("needs_root",)}
        flags = ({True: ["needs --root"], "optional": ["--root optional"]}.get(e.meta.get("needs_root"), [])
                 if args.what == "datasets" else [])
        parts = flags + [f"{k}: {v}" for k, v in meta.items()]
        meta_txt = ("  (" + ", ".join(parts) + ")") if parts else ""
        print(f"{e.name.ljust(width)}  {e.help}{extra}{meta_txt}")
    return 0


def _adapter_entries() -> list:
    """Adapters are spelled ``KIND:PATH`` (e.g. ``asteroid:/models/convtasnet.pth``)."""
    from ..models.adapters import ADAPTERS
    from ..registry import Entry
    return [Entry(f"{e.name}:PATH", None, f"adapter: {e.help}" if e.help else "adapter", {}) for e in ADAPTERS]
