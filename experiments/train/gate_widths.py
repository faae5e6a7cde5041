"""Where a trained gate spends width, per segment category, on the validation mixtures.

The issue's target "the DSN's segments narrower on silence and one-speaker segments than on
overlap" measured on the held-out train-clean-100 validation speakers of the gate configs
instead of the test sets, so that a gate recipe can be chosen without looking at test data.
Segments are labelled silence / one / overlap with the benchmark's own rule
(dsnbench.data.activity), split into the clean and the noisy validation mixtures.

    .venv/bin/python experiments/train/gate_widths.py                       # the four bundled gates
    .venv/bin/python experiments/train/gate_widths.py X.safetensors --betas 0 1 2 --csv w.csv

Prints, per gate, operating point (beta) and condition, the mean width of each category and
whether silence and one-speaker segments are both narrower than overlap.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from dsnbench.data.activity import label_segments
from dsnbench.models.checkpoint import load_checkpoint
from dsnbench.train import data as tdata
from dsnbench.train.config import TrainConfig

HERE = Path(__file__).resolve().parent
BUNDLED = Path("dsnbench/assets/checkpoints")


def segment_widths(model, val: tdata.Batch, sample_rate: int, betas: list[float]) -> pd.DataFrame:
    """One row per (beta, mixture, segment): its category, condition and gate width."""
    widths = torch.as_tensor(model.config.reported_widths, dtype=torch.float64)
    rows = []
    with torch.no_grad():
        for i in range(val.mix.shape[0]):
            mix, src = val.mix[i:i + 1], val.sources[i:i + 1]
            n_seg = model.n_segments(mix.shape[1])
            cats, _ = label_segments(src[0].double().numpy(), None, model.config.segment_length,
                                     model.config.segment_hop, n_seg, sample_rate)
            condition = "noisy" if bool(val.noisy[i]) else "clean"
            for beta in betas:
                used = widths[model(mix, gate_mode="infer", beta=beta).width_idx[0].cpu()]
                rows += [(beta, i, s, c, condition, float(w)) for s, (c, w) in enumerate(zip(cats, used))]
    return pd.DataFrame(rows, columns=["beta", "mixture", "segment", "category", "condition", "width"])


def summary(d: pd.DataFrame) -> pd.DataFrame:
    """Mean width per (beta, condition) and category, and whether overlap is the widest."""
    both = pd.concat([d, d.assign(condition="all")])
    t = both.pivot_table(index=["beta", "condition"], columns="category", values="width", aggfunc="mean")
    t = t.reindex(columns=[c for c in ("overlap", "one", "silence") if c in t.columns])
    if {"overlap", "one", "silence"} <= set(t.columns):
        t["narrower_off_overlap"] = (t["silence"] < t["overlap"]) & (t["one"] < t["overlap"])
    return t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="*", help="gate checkpoints (default: the bundled dsn-l*)")
    ap.add_argument("--config", default=str(HERE / "mini-dsn-l1.yaml"),
                    help="gate config whose validation mixtures are used")
    ap.add_argument("--betas", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--csv", help="also write every segment's width here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = TrainConfig.load(args.config)
    val = tdata.validation_set(tdata.LibriMixSource(cfg.data, "val"))
    paths = [Path(p) for p in args.checkpoints] or sorted(BUNDLED.glob("dsn-*.safetensors"))
    frames = []
    pd.set_option("display.width", 140)
    for p in paths:
        model = load_checkpoint(p).build_model().eval()
        d = segment_widths(model, val, cfg.data.sample_rate, args.betas)
        print(f"{p.name}: {d['mixture'].nunique()} validation mixtures, mean width per category")
        print(summary(d).to_string(float_format="%.3f"))
        frames.append(d.assign(checkpoint=p.name))
    if args.csv and frames:
        pd.concat(frames).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
