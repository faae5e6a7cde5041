"""``dsnbench train CONFIG.yaml``: train a static network, the slimmable supernet or a gate."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dsnbench train experiments/train/mini-static-0.5.yaml            (-> runs/train/static-0.5/)
  dsnbench train experiments/train/mini-supernet.yaml --resume     (continue from its last epoch)
  dsnbench train experiments/train/mini-dsn-l2.yaml --out /tmp/dsn --steps 20 \
      --set gate.init=dsnbench/assets/checkpoints/supernet.safetensors
      (a short gate training on the bundled supernet; the config's own init is the lineage's)

The output folder holds state.pt (resumable state, written every epoch), log.csv (one row per
epoch: loss, validation SI-SNRi clean/noisy, mean width; with `average_last: N` one more row,
`avgN`, for the averaged weights that are exported), config.yaml and <name>.safetensors
(the final checkpoint with its provenance). A config with `export: DIR` also copies the
checkpoint to DIR and its config and log to DIR/training/. Stages: static (one width, from
scratch), supernet (sandwich rule), gate (L_sep + lambda * L_cplx from a supernet checkpoint).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a static network, the slimmable supernet or a DSN gate",
        description="Train one model from a training config (experiments/train/*.yaml): "
                    "seeded, resumable, logged per epoch, exported with provenance.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="training config (YAML)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: runs/train/<name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last epoch's state in the output folder")
    p.add_argument("--steps", type=int, default=None,
                   help="override the number of steps (average_last shrinks to the epochs left, with a note)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                   help="run the training steps in this precision instead of the config's (not part of the "
                        "config or its hash, like the device: a lineage can resume on a CPU without native "
                        "bf16; the state and the provenance record from which step each ran)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (dotted, YAML value), e.g. gate.init=PATH or data.batch_size=8")
    p.add_argument("--no-export", action="store_true", help="do not copy the result to `export`")
    p.add_argument("--export-to", type=Path, default=None, metavar="DIR",
                   help="copy the result there instead of the config's `export` (a resumed "
                        "training keeps its config: where it ships is not part of it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.config import TrainConfig, parse_sets
    from ..train.trainer import train
    overrides = dict(parse_sets(args.set))
    if args.steps is not None:
        overrides["steps"] = args.steps
        given = TrainConfig.load(args.config, {k: v for k, v in overrides.items() if k != "steps"})
        epochs = -(-args.steps // given.steps_per_epoch)
        if given.average_last > epochs and "average_last" not in overrides:
            overrides["average_last"] = epochs
            print(f"{given.name}: --steps {args.steps} leaves {epochs} epoch(s): averaging the last "
                  f"{epochs}, not {given.average_last}")
    cfg = TrainConfig.load(args.config, overrides)
    out = args.out if args.out is not None else Path("runs") / "train" / cfg.name
    export_to = "" if args.no_export else args.export_to
    result = train(cfg, out, resume=args.resume, export_to=export_to, precision=args.precision)
    where = result.exported or (out / f"{cfg.name}.safetensors")
    print(f"{cfg.name}: {result.steps} steps, validation SI-SNRi {result.final_val['mean']:.2f} dB, "
          f"mean width {result.final_val['mean_width']:.3f} -> {where}")
    return 0
