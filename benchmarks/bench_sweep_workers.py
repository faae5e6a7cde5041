"""The mini sweep on the Dask engine with 1 worker vs 2 workers (issue 10).

Target: 2 workers take at most 0.6x the wall time of 1 worker. Runs
``experiments/sweeps/mini-sweep.yaml`` (5 models, among them the bundled static network, x the
bundled ``mini-2mix``, 40 utterances: 200 utterance evaluations) on a fresh LocalCluster of each size, each run with an empty
input-metric cache of its own (so neither run finds the other's values), times each call of
:func:`dsnbench.run.dask_engine.run_experiment_dask` (cluster start-up included: what a user
waits for), checks that both runs wrote identical tables, and prints both times, the ratio
and the machine's load average before and after (other processes on a shared machine make
the ratio pessimistic; the CPU seconds the units got per busy second show how much of a core
each worker actually had).

    .venv/bin/python benchmarks/bench_sweep_workers.py              # the whole mini sweep
    .venv/bin/python benchmarks/bench_sweep_workers.py --limit 8    # quicker smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SWEEP = REPO / "experiments" / "sweeps" / "mini-sweep.yaml"
TARGET_RATIO = 0.6


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run_once(n_workers: int, limit: int | None, batch_size: int | None, work: Path) -> tuple[float, Path, dict]:
    from dsnbench.run.config import build_config, load_document
    from dsnbench.run.dask_engine import run_experiment_dask
    from dsnbench.run.engines import EngineOptions, engine_options

    doc = load_document(SWEEP)
    engine_options(doc)  # the file's engine keys; this benchmark sets its own
    overrides = [f"limit={limit}"] if limit else []
    cfg = build_config(doc, overrides, where=str(SWEEP))
    out = work / f"run-{n_workers}w"
    os.environ["DSNBENCH_CACHE"] = str(work / f"cache-{n_workers}w")  # empty: no run helps the other
    t0 = time.perf_counter()
    run_experiment_dask(cfg, out, EngineOptions("dask", None, n_workers, batch_size), progress=False,
                        log=lambda s: None)
    seconds = time.perf_counter() - t0
    report = json.loads((out / "engine.json").read_text())
    return seconds, out, report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=None, help="first N utterances of mini-2mix (default: all 40)")
    p.add_argument("--batch-size", type=int, default=None, help="utterances per work unit (default 8)")
    args = p.parse_args(argv)

    import pandas as pd

    from dsnbench.results import read_run

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        work = Path(tmp)
        load_before = load_average()
        results = {}
        for n in (1, 2):
            seconds, out, report = run_once(n, args.limit, args.batch_size, work)
            results[n] = (seconds, out, report)
            busy = ", ".join(f"{a}: {w['units']} units {w['busy_s']:.1f} s busy {w['cpu_s']:.1f} s CPU"
                             for a, w in report["workers"].items())
            cpu = sum(w["cpu_s"] for w in report["workers"].values())
            busy_s = sum(w["busy_s"] for w in report["workers"].values())
            print(f"{n} worker(s): {seconds:7.1f} s wall  ({report['units']} units, {report['utterances']} "
                  f"utterances; {busy}; units got {cpu / busy_s:.2f} CPU per busy second)", flush=True)
        load_after = load_average()
        a, b = read_run(results[1][1]), read_run(results[2][1])
        pd.testing.assert_frame_equal(a.utterances, b.utterances, check_exact=True)
        pd.testing.assert_frame_equal(a.segments, b.segments, check_exact=True)
    t1, t2 = results[1][0], results[2][0]
    ratio = t2 / t1
    print(f"\nmini sweep ({SWEEP.relative_to(REPO)}{', limit ' + str(args.limit) if args.limit else ''}): "
          f"1 worker {t1:.1f} s | 2 workers {t2:.1f} s | ratio {ratio:.2f} (target <= {TARGET_RATIO}) "
          f"-> {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    print(f"tables of both runs identical: yes | CPUs usable: {len(os.sched_getaffinity(0))} | "
          f"load average before: {load_before}, after: {load_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
