#!/usr/bin/env python
"""Build the bundled mini benchmark (mini-2mix, mini-wham) from ../shared/data.

    .venv/bin/python scripts/build_mini.py                      # writes dsnbench/assets/mini/
    .venv/bin/python scripts/build_mini.py --out /tmp/mini --limit 3

Deterministic: the same inputs give the same bytes. LibriSpeech test-other speakers only
(evaluation data); see dsnbench/data/mini.py for the recipe and dsnbench/assets/mini/README.md
for the attribution.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from dsnbench.data.mini import N_MIXTURES, build_mini
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "dsnbench" / "assets" / "mini")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    p.add_argument("--n", type=int, default=N_MIXTURES, help="number of mixtures (default 40)")
    p.add_argument("--limit", type=int, default=None, help="build only the first N mixtures of the plan")
    args = p.parse_args(argv)
    for name in ("mini-2mix", "mini-wham"):
        if (args.out / name).exists():
            shutil.rmtree(args.out / name)
    rows = build_mini(args.out, args.data, n=args.n, limit=args.limit)
    total = sum(r["n_samples"] for r in rows) / 8000
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{len(rows)} mixtures, {total:.1f} s of audio, {size / 1e6:.1f} MB under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
