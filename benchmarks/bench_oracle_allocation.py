"""Benchmark: the oracle allocation of one model against a plain run of that model.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_oracle_allocation.py                   # dsn-l1, all of mini-2mix
    .venv/bin/python benchmarks/bench_oracle_allocation.py --model slim-1.0 --mus 0 0.5 1
    .venv/bin/python benchmarks/bench_oracle_allocation.py --end-to-end      # + whole dsnbench runs

Separation only (what the allocation adds; the metrics cost the same for both): over every
mixture of the bundled mini-2mix set, one thread, after one warm-up mixture,

- plain: the model as it runs in ``dsnbench run`` at each of ``len(--mus)`` operating points
  (a DSN at betas ``0, 1, ...``; a supernet at its width), one forward per mixture and point;
- oracle: ``--model`` under ``--allocation oracle`` at each ``--mus`` value: the fixed-width
  passes (once per mixture, kept across mu), the segment errors, the allocation and one forced
  forward per mixture and mu.

Prints both wall times, their ratio and the target: at most (number of widths + 2) times the
plain run. ``--end-to-end`` also times two whole ``dsnbench run``s (inference, MACs, SI-SNR)
of the same entries and prints them side by side.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsnbench.run.config import ModelSpec  # noqa: E402
from dsnbench.run.loading import load_model  # noqa: E402

MINI = Path(__file__).resolve().parents[1] / "dsnbench" / "assets" / "mini" / "mini-2mix" / "wav8k" / "min" / "tt"


def load_mini(limit: int | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    ids = sorted(os.listdir(MINI / "mix"))[:limit]
    out = []
    for uid in ids:
        mix = torch.from_numpy(sf.read(MINI / "mix" / uid, dtype="float32")[0])
        refs = torch.from_numpy(np.stack([sf.read(MINI / s / uid, dtype="float32")[0] for s in ("s1", "s2")]))
        out.append((mix, refs))
    return out


def time_separator(sep, ops, data) -> float:
    sep.set_operating_point(ops[0])
    sep.separate(data[0][0], data[0][1] if sep.needs_references else None)  # warm-up
    if hasattr(sep, "clear_cache"):
        sep.clear_cache()  # the benchmark measures the oracle from an empty cache
    start = time.perf_counter()
    for op in ops:
        sep.set_operating_point(op)
        for mix, refs in data:
            with torch.no_grad():
                sep.separate(mix, refs if sep.needs_references else None)
    return time.perf_counter() - start


def end_to_end(model: str, mus: list[float], limit: int | None) -> tuple[float, float]:
    import tempfile

    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    times = []
    for item in ({"name": model, "operating_points": list(range(len(mus)))} if model.startswith("dsn") else model,
                 {"name": model, "allocation": "oracle", "operating_points": mus}):
        doc = {"models": [item], "datasets": ["mini-2mix"], "metrics": ["si_snr"], "workers": 1}
        if limit:
            doc["limit"] = limit
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_experiment(build_config(doc), Path(tmp) / "run", progress=False)
            times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="dsn-l1")
    ap.add_argument("--mus", nargs="+", type=float, default=[0.0, 0.5, 1.0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N mixtures")
    ap.add_argument("--end-to-end", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_mini(args.limit)
    plain = load_model(ModelSpec(name=args.model))
    plain_ops = [float(b) for b in range(len(args.mus))] if plain.family == "dsn" else [None] * len(args.mus)
    oracle = load_model(ModelSpec(name=args.model, operating_points=tuple(args.mus), options=(("allocation", "oracle"),)))
    n_widths = len(plain.config.widths)
    t_plain = time_separator(plain, plain_ops, data)
    t_oracle = time_separator(oracle, list(args.mus), data)
    seconds = sum(m.numel() for m, _ in data) / plain.sample_rate * len(args.mus)
    print(f"{args.model} on mini-2mix: {len(data)} mixtures x {len(args.mus)} operating points "
          f"({seconds:.0f} s of audio), {n_widths} widths, 1 thread")
    print(f"  plain run (separation)            {t_plain:8.2f} s")
    print(f"  oracle allocation (separation)    {t_oracle:8.2f} s   = {t_oracle / t_plain:.2f} x plain "
          f"(target <= widths + 2 = {n_widths + 2} x)")
    if args.end_to_end:
        e_plain, e_oracle = end_to_end(args.model, list(args.mus), args.limit)
        print(f"  dsnbench run, plain               {e_plain:8.2f} s")
        print(f"  dsnbench run, oracle allocation   {e_oracle:8.2f} s   = {e_oracle / e_plain:.2f} x plain")


if __name__ == "__main__":
    main()
