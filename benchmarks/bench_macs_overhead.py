"""Benchmark: what MAC accounting adds to a ``dsnbench run`` of a mini DSN.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_macs_overhead.py              # mini-2mix, 40 utterances
    .venv/bin/python benchmarks/bench_macs_overhead.py --limit 8    # a quick smoke run

The model is a mini-scale DSN (``DSNConfig.preset("mini")``, the bundled checkpoint if there is
one, else a randomly initialised network saved as a checkpoint: accounting costs the same for
any weights), evaluated at two operating points on the bundled ``mini-2mix`` set with the run's
default metrics (all), or those given by ``--metrics`` (fewer metrics make the run shorter and
the fixed cost of building the table a larger share: ``--metrics si_snr,sdr`` is the harder
case).

Two kinds of run, alternated ``--repeats`` times, each into a fresh run folder:

(a) without MAC accounting: the run loop's pricer is replaced by one that returns NaN
    (no table, no pricing);
(b) with MAC accounting, as shipped: the table is built from scratch (the shared cache of traced
    part costs is emptied first) and every utterance's trace is priced from it.

Prints the median wall-clock and process CPU time of each kind and their ratio (b)/(a) - 1, and
the overhead measured inside each run of (b): the CPU time spent building the table and pricing
traces over the CPU time of everything else in that run (target: at most +2 %). On a shared
machine the end-to-end times of identical runs differ by more than the effect, so the in-run
measurement is the one to read; the end-to-end ratio is printed beside it. Metrics run inline
(``--workers 1``) so that the process CPU time covers the whole run. Also prints the table build
time alone and the pricing time per utterance. One torch thread throughout.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _mini_dsn_checkpoint(folder: Path) -> str:
    from dsnbench.models import MODELS
    for entry in MODELS:  # a bundled, trained DSN if there is one
        if entry.meta.get("family") == "dsn":
            return entry.name
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    torch.manual_seed(0)
    path = folder / "dsn-mini-random.safetensors"
    save_checkpoint(path, DualPathDSN(DSNConfig.preset("mini")), "dsn",
                    dict(training_config=None, data="random initialisation (benchmark only)",
                         steps=0, val_si_snr=None, val_si_snri=None), operating_points=[0.0, 1.0])
    return str(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=40, help="utterances of mini-2mix (default all 40)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each kind (default 3)")
    ap.add_argument("--metrics", default=None,
                    help="metrics of the run (default: the run's own default, all metrics; "
                         "e.g. si_snr,sdr for a shorter run where accounting is a larger share)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    import dsnbench.run.unit as unit
    from dsnbench.cli import main as cli
    from dsnbench.complexity import build_mac_table, table as table_mod
    from dsnbench.run.loading import load_model

    work = Path(tempfile.mkdtemp(prefix="bench_macs_"))
    model = _mini_dsn_checkpoint(work)
    shipped_pricer = unit.make_pricer

    def no_accounting(separator, sample_rate):
        return lambda trace, n: (np.full(trace.n_segments, np.nan), math.nan)

    accounting_cpu = [0.0]

    def timed_pricer(separator, sample_rate):
        """The shipped pricer, with the CPU time of building and pricing added up."""
        start = time.process_time()
        price = shipped_pricer(separator, sample_rate)
        accounting_cpu[0] += time.process_time() - start

        def priced(trace, n):
            t0 = time.process_time()
            out = price(trace, n)
            accounting_cpu[0] += time.process_time() - t0
            return out
        return priced

    def one_run(kind: str, i: int) -> tuple[float, float, float]:
        out = work / f"{kind}-{i}"
        unit.make_pricer = timed_pricer if kind == "with" else no_accounting
        table_mod._PART_COST_MEMO.clear()
        accounting_cpu[0] = 0.0
        cpu0 = time.process_time()
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(["run", "--model", model, "--dataset", "mini-2mix", "--limit", str(args.limit),
                        "--workers", "1", "--no-progress", "--out", str(out)]
                       + (["--metrics", args.metrics] if args.metrics else []))
        took = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        unit.make_pricer = shipped_pricer
        if code != 0:
            raise SystemExit(f"dsnbench run failed with exit code {code}")
        shutil.rmtree(out, ignore_errors=True)
        return took, cpu, accounting_cpu[0]

    times: dict[str, list[float]] = {"without": [], "with": []}
    cpus: dict[str, list[float]] = {"without": [], "with": []}
    shares: list[float] = []
    one_run("without", -1)  # warm-up: imports, input-metric cache, file cache
    for i in range(args.repeats):
        for kind in (("without", "with") if i % 2 == 0 else ("with", "without")):
            wall, cpu, acc = one_run(kind, i)
            times[kind].append(wall)
            cpus[kind].append(cpu)
            if kind == "with":
                shares.append(acc / (cpu - acc))
            print(f"  run {i + 1} {kind:>7} accounting: {wall:7.2f} s wall, {cpu:7.2f} s CPU"
                  + (f", of which accounting {acc:.3f} s CPU" if kind == "with" else ""), flush=True)

    sep = load_model(model)
    table_mod._PART_COST_MEMO.clear()
    start = time.perf_counter()
    table = build_mac_table(sep)
    build_s = time.perf_counter() - start
    x = torch.randn(32000)
    trace = sep.separate(x).trace
    start = time.perf_counter()
    for _ in range(200):
        table.price(trace, 32000)
    price_ms = (time.perf_counter() - start) / 200 * 1e3

    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    cpu_without, cpu_with = statistics.median(cpus["without"]), statistics.median(cpus["with"])
    print(f"\nmini DSN ({model}), mini-2mix x {args.limit} utterances, 2 operating points, "
          f"metrics {args.metrics or 'all (default)'}, {args.repeats} runs each, 1 torch thread")
    print(f"(a) without MAC accounting: median {without:8.2f} s wall, {cpu_without:8.2f} s CPU")
    print(f"(b) with MAC accounting:    median {with_:8.2f} s wall, {cpu_with:8.2f} s CPU")
    print(f"overhead (b)/(a) - 1: wall {100 * (with_ / without - 1):+7.2f} %, CPU "
          f"{100 * (cpu_with / cpu_without - 1):+7.2f} %  (end to end; on a shared machine the "
          f"noise between runs is larger than the effect)")
    print(f"overhead measured inside (b): accounting CPU / rest of the run's CPU = "
          f"{100 * statistics.median(shares):+.2f} % (median; runs {', '.join(f'{100 * x:.2f}' for x in shares)} %)"
          f"   (target <= +2 %)")
    print(f"table build alone: {build_s:.2f} s; pricing one 4 s trace: {price_ms:.3f} ms")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
