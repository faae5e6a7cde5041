"""How much each segment gains from width: the signal a width gate can learn from.

For each validation mixture of a gate config (the held-out train-clean-100 speakers, never the
test sets), the supernet separates it with every chunk at the narrowest width, then once per
chunk with that one chunk at the widest width. The gain of the chunk is the change of the
utterance-level PIT SI-SNR (dB), i.e. of the separation loss the gate is trained on. Chunks are
labelled silence / one / overlap with the benchmark's own rule (dsnbench.data.activity).

    .venv/bin/python experiments/train/width_gain.py                      # bundled supernet, 12 mixtures
    .venv/bin/python experiments/train/width_gain.py --checkpoint X.safetensors --n 24 --csv gains.csv
    .venv/bin/python experiments/train/width_gain.py --state experiments/train/state/mini-supernet/state.pt
        (an unfinished lineage's supernet: the weights of its resume state, the architecture of
        its config, --train-config, default experiments/train/mini-supernet.yaml)

Prints, per category, the number of chunks and the mean / median / std of the gain, and per
mixture the gain of all chunks at once (widest everywhere minus narrowest everywhere).
Cost: one forward pass per chunk (~1 min for 12 mixtures of 4 s on one core).

``--whole`` asks the other question, the one the oracle allocation answers: with the whole
network at the narrowest and then at the widest width, how much smaller is each segment's
error? Per category: the error of the segment (summed over sources, after the utterance's PIT
and SI-SNR scaling) as a fraction of the utterance's mean source power, at both widths, and its
change in dB. The two scales can disagree: a quiet segment can gain many dB for little absolute
error, and the utterance's SI-SNR (the training loss) counts absolute error.

    .venv/bin/python experiments/train/width_gain.py --whole                    # validation mixtures
    .venv/bin/python experiments/train/width_gain.py --whole runs/variants/ov100 runs/variants/ov25
        (WSJ0-2mix-layout folders, e.g. the overlap variants of `dsnbench data variant`)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dsnbench.data.activity import label_segments
from dsnbench.models.checkpoint import load_checkpoint
from dsnbench.train import data as tdata
from dsnbench.train.config import TrainConfig
from dsnbench.train.losses import pit_si_snr, scaled_error, segment_frames

HERE = Path(__file__).resolve().parent


def chunk_gains(model, mix: torch.Tensor, sources: torch.Tensor) -> tuple[np.ndarray, float]:
    """Gain (dB of utterance SI-SNR) of widening each chunk alone, and of widening all.

    Shape: ``mix`` ``[1, T]``, ``sources`` ``[1, C, T]`` -> ``[S]``, scalar.
    """
    n_seg = model.n_segments(mix.shape[1])
    narrow = torch.zeros(1, n_seg, dtype=torch.long)
    widest = len(model.config.widths) - 1

    def score(widths: torch.Tensor) -> float:
        return pit_si_snr(sources, model(mix, widths=widths).estimates).si_snr.item()

    base = score(narrow)
    gains = np.empty(n_seg)
    for s in range(n_seg):
        w = narrow.clone()
        w[0, s] = widest
        gains[s] = score(w) - base
    return gains, score(narrow + widest) - base


def segment_errors(model, mix: torch.Tensor, sources: torch.Tensor, width_index: int) -> np.ndarray:
    """Per source and segment: the mean error power of the PIT-aligned, SI-SNR-scaled estimate
    with every chunk at ``width_index``, over the utterance's mean source power.

    Shape: ``mix`` ``[1, T]``, ``sources`` ``[1, C, T]`` -> ``[C, S]``.
    """
    n_seg = model.n_segments(mix.shape[1])
    est = model(mix, widths=torch.full((1, n_seg), width_index, dtype=torch.long)).estimates
    s, error = scaled_error(sources, pit_si_snr(sources, est).aligned)
    frames = segment_frames(error, model.config.segment_length, model.config.segment_hop, n_seg)
    return (frames.pow(2).mean(-1)[0] / s.pow(2).mean()).numpy()


def whole_network(model, items, sample_rate: int) -> pd.DataFrame:
    """One row per (set, segment): category, error at the narrowest and the widest width."""
    rows = []
    widest = len(model.config.widths) - 1
    with torch.no_grad():
        for name, mix, src in items:
            narrow = segment_errors(model, mix, src, 0).sum(0)
            wide = segment_errors(model, mix, src, widest).sum(0)
            cats, _ = label_segments(src[0].double().numpy(), None, model.config.segment_length,
                                     model.config.segment_hop, len(narrow), sample_rate)
            rows += [(name, c, a, b) for c, a, b in zip(cats, narrow, wide)]
    d = pd.DataFrame(rows, columns=["set", "category", "error_narrowest", "error_widest"])
    d["gain_db"] = 10 * np.log10(d["error_narrowest"] / d["error_widest"])
    return d


def wsj0_items(root: Path):
    """(set name, mixture [1, T], sources [1, C, T]) of a WSJ0-2mix-layout folder."""
    from dsnbench.data import load_dataset
    from dsnbench.data.manifest import load_utterance
    for u in load_dataset("wsj0-2mix", root=str(root)).utterances:
        mix, src, _ = load_utterance(u)
        yield root.name, torch.from_numpy(mix).float()[None], torch.from_numpy(src).float()[None]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="dsnbench/assets/checkpoints/supernet.safetensors")
    ap.add_argument("--config", default=str(HERE / "mini-dsn-l1.yaml"),
                    help="gate config whose validation mixtures are used")
    ap.add_argument("--state", help="a training's resume state (state.pt) instead of a checkpoint")
    ap.add_argument("--train-config", default=str(HERE / "mini-supernet.yaml"),
                    help="with --state: the training config that wrote it (its model)")
    ap.add_argument("--n", type=int, default=12, help="number of validation mixtures")
    ap.add_argument("--csv", help="also write every chunk's gain here")
    ap.add_argument("--whole", nargs="*", type=Path, default=None, metavar="ROOT",
                    help="whole network narrowest vs widest, per segment; on these WSJ0-2mix-layout "
                         "folders, or on the validation mixtures when none is given")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = TrainConfig.load(args.config)
    val = tdata.validation_set(tdata.LibriMixSource(cfg.data, "val"))
    if args.state:
        from dsnbench.train.trainer import build_model
        model = build_model(TrainConfig.load(args.train_config), Path.cwd())
        state = torch.load(args.state, weights_only=True, map_location="cpu")
        model.load_state_dict(state["model"])
        model.eval()
        label = f"{args.state} (step {state['step']})"
    else:
        model = load_checkpoint(args.checkpoint).build_model().eval()
        label = args.checkpoint
    sr = cfg.data.sample_rate
    if args.whole is not None:
        if args.whole:
            items = (it for root in args.whole for it in wsj0_items(root))
        else:
            n = min(args.n, val.mix.shape[0])
            items = (("validation", val.mix[i:i + 1], val.sources[i:i + 1]) for i in range(n))
        d = whole_network(model, items, sr)
        pd.set_option("display.width", 120)
        print(f"{label}: whole network {model.config.widths[0]} -> {model.config.widths[-1]}; segment error "
              f"summed over sources, as a fraction of the utterance's mean source power")
        print(d.groupby(["set", "category"], sort=False).agg(
            segments=("gain_db", "size"), error_narrowest=("error_narrowest", "mean"),
            error_widest=("error_widest", "mean"), gain_db_mean=("gain_db", "mean"),
            gain_db_median=("gain_db", "median")).to_string(float_format="%.3f"))
        if args.csv:
            d.to_csv(args.csv, index=False)
        return
    rows, whole = [], []
    with torch.no_grad():
        for i in range(min(args.n, val.mix.shape[0])):
            mix, src = val.mix[i:i + 1], val.sources[i:i + 1]
            gains, all_wide = chunk_gains(model, mix, src)
            cats, _ = label_segments(src[0].double().numpy(), None, model.config.segment_length,
                                     model.config.segment_hop, len(gains), sr)
            rows += [(i, s, c, g) for s, (c, g) in enumerate(zip(cats, gains))]
            whole.append(all_wide)
    d = pd.DataFrame(rows, columns=["mixture", "segment", "category", "gain_db"])
    pd.set_option("display.width", 120)
    print(f"{label}: {len(whole)} validation mixtures, gain of widening one chunk "
          f"{model.config.widths[0]} -> {model.config.widths[-1]} (dB of utterance SI-SNR)")
    print(d.groupby("category")["gain_db"].agg(["count", "mean", "median", "std"]).to_string(float_format="%.4f"))
    print(f"all chunks widened at once: mean {np.mean(whole):+.3f} dB per mixture "
          f"(min {np.min(whole):+.3f}, max {np.max(whole):+.3f})")
    if args.csv:
        d.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
