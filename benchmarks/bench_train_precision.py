"""Benchmark: one training step in fp32 against bf16 autocast, on this machine's CPU.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_train_precision.py                   # static-1.0 and supernet
    .venv/bin/python benchmarks/bench_train_precision.py --configs static-1.0 --steps 3

Each config is a lineage config (``experiments/train/mini-<name>.yaml``, batches of 4 x 2 s at
8 kHz); its step (``dsnbench.train.trainer.train_step``: forward, float32 loss, backward; no
optimiser) runs on one batch of the training stream, with the same initial weights, in fp32
and then in bf16 (``precision: bf16``: the forward under bfloat16 autocast), alternated
``--repeats`` times after ``--warmup`` untimed steps. Prints the median milliseconds a step of
each, their ratio, and whether this CPU computes bfloat16 natively (avx512_bf16 / amx_bf16).

What it decides: where bf16 is native (e.g. AMD Zen 4, Intel Sapphire Rapids) autocast trains
~1.7x faster than fp32 (issue 24's measurement); where it is not (e.g. Zen 3), torch emulates
it and the step is several times slower, so a lineage there should run with
``dsnbench train --precision fp32`` (``LANE_PRECISION=fp32`` for ``run_lane.sh``). One torch
thread, as the lanes run.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dsnbench.train import data as tdata  # noqa: E402
from dsnbench.train.config import TrainConfig  # noqa: E402
from dsnbench.train.trainer import build_model, cpu_has_native_bf16, train_step  # noqa: E402


def step_ms(cfg: TrainConfig, batch: tdata.Batch, warmup: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model(cfg, REPO)
    model.train()
    for i in range(warmup):
        train_step(cfg, model, batch, i)
        model.zero_grad(set_to_none=True)
    t = time.perf_counter()
    for i in range(steps):
        train_step(cfg, model, batch, warmup + i)
        model.zero_grad(set_to_none=True)
    return (time.perf_counter() - t) / steps * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", default=["static-1.0", "supernet"])
    p.add_argument("--steps", type=int, default=4, help="timed steps a measurement")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    native = cpu_has_native_bf16()
    print(f"CPU: native bfloat16 {'yes' if native else 'no (emulated)'}; torch {torch.__version__}, 1 thread")
    print(f"{'config':12s} {'fp32 ms/step':>13s} {'bf16 ms/step':>13s} {'bf16 / fp32':>12s}")
    for name in args.configs:
        base = TrainConfig.load(REPO / "experiments" / "train" / f"mini-{name}.yaml")
        src = tdata.LibriMixSource(dataclasses.replace(base.data, root=str(REPO / base.data.root)), "train")
        batch = tdata.TrainStream(src, base.seed).batch(0)
        times: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for _ in range(args.repeats):
            for prec in times:
                times[prec].append(step_ms(dataclasses.replace(base, precision=prec), batch,
                                           args.warmup, args.steps))
        fp32, bf16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
        print(f"{name:12s} {fp32:13.0f} {bf16:13.0f} {bf16 / fp32:11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
