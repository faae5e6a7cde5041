"""Benchmark: is a DSN's MAC saving a real CPU-time saving?

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_realised_saving.py             # 8 mixtures, 9 repeats
    .venv/bin/python benchmarks/bench_realised_saving.py --repeats 3 # quicker

A mini-scale DSN (``DSNConfig.preset("mini")``: the bundled checkpoint if one is registered,
else a random initialisation, whose speed is the same) separates ``--n-utts`` real mixtures of
the bundled ``mini-2mix`` set two ways, one torch thread, inference mode:

(a) full width: every segment at width 1.0 (``network(x, width=1.0)``, no gate);
(b) the DSN: the gate picks each segment's width (``gate_mode="infer"``) at an operating point
    ``beta`` chosen so that the mean width is well below full (the smallest beta of a grid whose
    mean width is at most ``--target-width``, default 0.5); its chunks are grouped by width and
    each group runs at its width, the gate included.

Each way is timed (process CPU time, one thread) ``--repeats`` times per mixture after one
warm-up, median per mixture, summed over mixtures. The MACs of both come from the MAC table (exact, proven equal to fvcore traces
in tests). Prints the time ratio (b)/(a), the MAC ratio (b)/(a), the mean width, and the
target: time ratio <= 1.15 x MAC ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-utts", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--target-width", type=float, default=0.5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    from dsnbench.complexity import build_mac_table
    from dsnbench.data import load_dataset
    from dsnbench.data.manifest import load_utterance
    from dsnbench.models import MODELS
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    from dsnbench.models.separators import DSNSeparator

    source = "random initialisation"
    sep = None
    for entry in MODELS:  # a bundled, trained DSN if there is one
        if entry.meta.get("family") == "dsn":
            sep, source = entry.load()(), f"bundled {entry.name}"
            break
    if sep is None:
        torch.manual_seed(0)
        sep = DSNSeparator(DualPathDSN(DSNConfig.preset("mini")), name="dsn-mini-random")
    net = sep.network.eval()
    table = build_mac_table(sep)
    manifest = load_dataset("mini-2mix").limit(args.n_utts)
    mixtures = [torch.from_numpy(load_utterance(u)[0].astype(np.float32)).unsqueeze(0) for u in manifest]

    def mean_width(beta: float) -> float:
        with torch.inference_mode():
            idx = np.concatenate([net(x, gate_mode="infer", beta=beta).width_idx[0].numpy() for x in mixtures])
        return float(np.mean(np.asarray(net.widths)[idx]))

    betas = [0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0]
    beta = next((b for b in betas if mean_width(b) <= args.target_width), betas[-1])

    def timed(fn) -> float:
        fn()
        runs = []
        for _ in range(args.repeats):
            start = time.process_time()  # CPU time of this process: robust to other load
            fn()
            runs.append(time.process_time() - start)
        return statistics.median(runs)

    t_full = t_dsn = 0.0
    macs_full = macs_dsn = 0
    widths_all = []
    with torch.inference_mode():
        for x in mixtures:
            n = x.shape[-1]
            t_full += timed(lambda: net(x, width=1.0))
            t_dsn += timed(lambda: net(x, gate_mode="infer", beta=beta))
            chosen = net(x, gate_mode="infer", beta=beta).width_idx[0].numpy()
            widths_all.append(chosen)
            full_idx = np.full(net.n_segments(n), len(net.widths) - 1)
            macs_full += table.price_widths(n, full_idx)[1] - table.breakdown(n)["gate"]  # no gate at full width
            macs_dsn += table.price_widths(n, chosen)[1]
    idx = np.concatenate(widths_all)
    share = {f"{w:g}": float(np.mean(idx == k)) for k, w in enumerate(net.widths)}
    time_ratio, mac_ratio = t_dsn / t_full, macs_dsn / macs_full
    seconds = sum(x.shape[-1] for x in mixtures) / 8000
    print(f"mini DSN ({source}), {len(mixtures)} mini-2mix mixtures ({seconds:.1f} s of audio), "
          f"1 torch thread, median of {args.repeats} runs each")
    print(f"operating point beta = {beta:g}: mean width {np.mean(np.asarray(net.widths)[idx]):.3f}, "
          f"segments per width {share}")
    print(f"(a) full width: {t_full:8.3f} s CPU time, {macs_full / seconds / 1e9:.4f} GMACs/s")
    print(f"(b) DSN:        {t_dsn:8.3f} s CPU time, {macs_dsn / seconds / 1e9:.4f} GMACs/s (gate included)")
    print(f"time ratio (b)/(a): {time_ratio:.3f}    MAC ratio (b)/(a): {mac_ratio:.3f}    "
          f"time/MAC ratio: {time_ratio / mac_ratio:.3f}  (target <= 1.15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
