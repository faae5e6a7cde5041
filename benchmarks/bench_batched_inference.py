"""Benchmark: batched against one-at-a-time inference, seconds of audio per second.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_batched_inference.py                 # CPU, 1 thread
    .venv/bin/python benchmarks/bench_batched_inference.py --device cuda   # on a GPU
    .venv/bin/python benchmarks/bench_batched_inference.py --json out.json
    .venv/bin/python benchmarks/bench_batched_inference.py --end-to-end    # + dsnbench run, 40 mixtures

Two networks, each run as a DSN (gate on, beta 0) over the same ``--n`` mixtures of lengths
drawn from the bundled mini-2mix set's lengths (2.3-7.7 s at 8 kHz): the ``mini`` preset of
the bundle (random weights: speed does not depend on them) and the ``sepformer`` preset
(N = d = 256, K = 250, 8 + 8 layers of 8 heads, FFN 1024). Each is timed (wall clock, after
one warm-up; on a GPU with synchronisation) separating the mixtures one at a time
(``separate``) and in batches of ``--batch`` mixtures of similar length (sorted by length,
``separate_batch``), in ``--precision``. Prints seconds of audio per second of each and the
ratio, side by side.

``--end-to-end`` also times whole ``dsnbench run``s (:func:`dsnbench.run.local_engine.run_experiment`,
inference + MACs + every metric, ``--workers`` metric processes) of one bundled model
(``--model``, default dsn-l1) on the 40 mixtures of mini-2mix with ``--batch 1`` and with the
batch size, on ``--device`` in ``--precision``, and prints both wall times side by side.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsnbench.models.dualpath import DSNConfig, DualPathDSN  # noqa: E402
from dsnbench.models.separators import DSNSeparator  # noqa: E402


def lengths_of_the_mini_set(n: int, seed: int = 0) -> list[int]:
    """``n`` lengths drawn (with replacement, seeded) from mini-2mix's mixtures; without the
    bundled set, uniform in 2.3-7.7 s."""
    try:
        import soundfile as sf
        root = Path(__file__).resolve().parents[1] / "dsnbench/assets/mini/mini-2mix/wav8k/min/tt/mix"
        pool = [sf.info(str(p)).frames for p in sorted(root.glob("*.wav"))]
    except Exception:
        pool = []
    rng = np.random.default_rng(seed)
    if not pool:
        return [int(x) for x in rng.uniform(2.3, 7.7, n) * 8000]
    return [int(pool[i]) for i in rng.integers(0, len(pool), n)]


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t


def measure(preset: str, lengths: list[int], batch: int, device: torch.device, precision: str) -> dict:
    torch.manual_seed(0)
    cfg = DSNConfig.preset(preset) if preset == "sepformer" else \
        DSNConfig.preset("mini", enc_kernel=32, enc_stride=16, chunk_size=50, mask_activation="sigmoid")
    sep = DSNSeparator(DualPathDSN(cfg), betas=[0.0], name=preset)
    sep.to_device(device, precision)
    g = torch.Generator().manual_seed(1)
    mixes = [0.1 * torch.randn(n, generator=g) for n in lengths]
    order = sorted(range(len(mixes)), key=lambda i: lengths[i])
    groups = [[mixes[i] for i in order[k:k + batch]] for k in range(0, len(order), batch)]
    audio_s = sum(lengths) / cfg.sample_rate
    sep.separate(mixes[0])                                  # warm-up
    sep.separate_batch(groups[0])
    one = timed(lambda: [sep.separate(m) for m in mixes], device)
    many = timed(lambda: [sep.separate_batch(b) for b in groups], device)
    return {"preset": preset, "audio_s": round(audio_s, 1), "batch": batch,
            "one_at_a_time_audio_s_per_s": round(audio_s / one, 2),
            "batched_audio_s_per_s": round(audio_s / many, 2), "speedup": round(one / many, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--n", type=int, default=16, help="mixtures per network (default 16)")
    ap.add_argument("--presets", nargs="+", default=["mini", "sepformer"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--end-to-end", action="store_true", help="also time dsnbench run on mini-2mix")
    ap.add_argument("--model", default="dsn-l1", help="bundled model of the end-to-end runs")
    ap.add_argument("--workers", type=int, default=2, help="metric processes of the end-to-end runs")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    lengths = lengths_of_the_mini_set(args.n)
    rows = [measure(p, lengths, args.batch, device, args.precision) for p in args.presets]
    print(f"device {device}, {args.precision}, {args.n} mixtures ({sum(lengths) / 8000:.0f} s of audio), "
          f"batches of {args.batch} sorted by length")
    print(f"{'network':10s} {'one at a time':>16s} {'batched':>12s} {'ratio':>7s}   (seconds of audio per second)")
    for r in rows:
        print(f"{r['preset']:10s} {r['one_at_a_time_audio_s_per_s']:16.2f} {r['batched_audio_s_per_s']:12.2f} "
              f"{r['speedup']:6.2f}x")
    e2e = end_to_end(args) if args.end_to_end else None
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "precision": args.precision, "rows": rows,
                                         "end_to_end": e2e}, indent=1))
    return 0


def end_to_end(args: argparse.Namespace) -> dict:
    """Wall time of dsnbench run (40 mini-2mix mixtures) at batch 1 and at ``args.batch``."""
    import tempfile
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    times = {}
    for b in (1, args.batch):
        cfg = build_config({"models": [args.model], "datasets": ["mini-2mix"], "workers": args.workers,
                            "device": args.device, "precision": args.precision, "batch_size": b})
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            run_experiment(cfg, Path(tmp) / "run", progress=False)
            times[b] = time.perf_counter() - t
    print(f"dsnbench run, {args.model} on mini-2mix (40 mixtures), {args.workers} metric workers, {args.device}:")
    print(f"  batch 1: {times[1]:.1f} s   batch {args.batch}: {times[args.batch]:.1f} s   "
          f"ratio {times[1] / times[args.batch]:.2f}x")
    return {"model": args.model, "batch_1_s": round(times[1], 2), f"batch_{args.batch}_s": round(times[args.batch], 2)}


if __name__ == "__main__":
    raise SystemExit(main())
