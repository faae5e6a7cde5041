"""Peak memory of a run against the number of utterances (issue 11).

Builds a WSJ0-2mix-layout copy of the bundled mini-2mix set repeated K times (hard links, ids
suffixed with the repeat number), runs ``dsnbench run`` on the set repeated once and 30 times,
and samples the resident memory of the whole process tree (driver + metric workers) every
20 ms. Target: peak RSS of the 30x run <= 1.2 x that of the 1x run.

    .venv/bin/python benchmarks/bench_memory.py [--repeats 30] [--model oracle-irm] [--metrics all]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def build_repeated(dst: Path, repeats: int) -> Path:
    """``dst/wav8k/min/tt/{mix,s1,s2}`` holding mini-2mix ``repeats`` times (hard links)."""
    src = REPO / "dsnbench" / "assets" / "mini" / "mini-2mix" / "wav8k" / "min" / "tt"
    for folder in ("mix", "s1", "s2"):
        out = dst / "wav8k" / "min" / "tt" / folder
        out.mkdir(parents=True, exist_ok=True)
        for wav in sorted((src / folder).glob("*.wav")):
            for r in range(repeats):
                target = out / f"{wav.stem}_r{r:03d}.wav"
                try:
                    os.link(wav, target)
                except OSError:
                    shutil.copyfile(wav, target)
    return dst


def peak_rss_of(cmd: list[str]) -> tuple[int, float, int]:
    """Run ``cmd``; return (peak RSS of its process tree in bytes, seconds, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [root] + root.children(recursive=True)
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            except psutil.Error:
                pass
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    stop.set()
    th.join()
    if proc.returncode != 0:
        print(err, file=sys.stderr)
    return peak, time.perf_counter() - t0, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--model", default="oracle-irm")
    ap.add_argument("--metrics", default=None, help="comma-separated subset (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    exe = str(Path(sys.executable).parent / "dsnbench")
    results = {}
    with tempfile.TemporaryDirectory(prefix="dsnbench-mem-") as tmp:
        tmp = Path(tmp)
        for k in (1, args.repeats):
            root = build_repeated(tmp / f"x{k}" / "2speakers", k)
            cmd = [exe, "run", "--model", args.model, "--dataset", "wsj0-2mix", "--root", str(root),
                   "--out", str(tmp / f"run{k}"), "--workers", str(args.workers), "--no-progress"]
            if args.metrics:
                cmd += ["--metrics", args.metrics]
            env_cache = tmp / f"cache{k}"
            os.environ["DSNBENCH_CACHE"] = str(env_cache)
            peak, secs, rc = peak_rss_of(cmd)
            if rc != 0:
                print(f"run with {k}x failed (exit {rc})")
                return 1
            results[k] = (peak, secs)
            print(f"mini-2mix x{k:<3d} ({40 * k:5d} utterances): peak RSS {peak / 2**20:8.1f} MiB, {secs:7.1f} s")
    ratio = results[args.repeats][0] / results[1][0]
    print(f"peak RSS ratio {args.repeats}x / 1x: {ratio:.3f}  (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
