"""``dsnbench data variant ...``: build test-set variants with a chosen speaker overlap and
noise activity (the paper's analysis), in the source dataset's own layout."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  dsnbench data variant --from mini-2mix --overlap 0.5 --out variants/mini-ov50
  dsnbench data variant --from mini-wham --overlap 1.0 --noise-activity 0.5 --out variants/mini-na50
  dsnbench data variant --from wsj0-2mix --root /data/wsj0-mix/2speakers --overlap 0.25 --seed 0 --out /data/wsj0-2mix-ov25
  dsnbench data variant --from wham --root /data/wham_mix --task sep_noisy --overlap 1.0 --noise-activity 0.5 --out /data/wham-na50

Each source is cut to its active extent (first to last active 20 ms frame), one source is
shifted so the speakers overlap over the given fraction of the shorter one (both stay whole),
and for noisy sets the noise is present over the given fraction of the mixture at a WHAM! level
(SNR of s1 to the noise uniform in [-6, 3] dB). The output has the source's layout plus
metadata.csv (overlap ratio, noise activity, shift, gains per utterance) and variant.json; the
command prints the options that read it back (e.g. dsnbench validate --dataset wsj0-2mix --root OUT).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ..data import add_dataset_arguments
    p = subparsers.add_parser(
        "data", help="dataset tools: build overlap / noise-activity variants",
        description="Dataset tools.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    v = sub.add_parser(
        "variant", help="build a test set with a chosen speaker overlap and noise activity",
        description="Build a variant of a two-speaker test set with a chosen speaker overlap ratio and "
                    "noise activity, deterministic from a seed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_arguments(v, dataset_flag="--from")
    v.add_argument("--overlap", type=float, required=True, metavar="R",
                   help="speaker overlap as a fraction of the shorter source, in [0, 1] (e.g. 1.0, 0.5, 0.25)")
    v.add_argument("--noise-activity", type=float, default=None, metavar="A",
                   help="fraction of the mixture with noise, in [0, 1] (noisy sets only; default 1.0 for them)")
    v.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    v.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (new or empty)")
    v.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N utterances")
    v.set_defaults(func=run_variant)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_variant(args: argparse.Namespace) -> int:
    from ..data import DatasetError, dataset_options, load_dataset
    from ..data.variants import build_variant, reader_hint
    from ..errors import UserError

    manifest = load_dataset(args.dataset, **dataset_options(args)).limit(args.limit)
    try:
        out = build_variant(manifest, args.out, args.overlap, args.noise_activity, args.seed,
                            source=args.dataset)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:  # unwritable or full output folder
        raise UserError(f"{exc.filename or args.out}: cannot write the variant ({exc.strerror or exc})") from None
    noisy = args.noise_activity is not None or all(u.noise is not None for u in manifest.utterances)
    print(f"wrote {len(manifest)} utterances (overlap {args.overlap:g}"
          + (f", noise activity {args.noise_activity if args.noise_activity is not None else 1.0:g}" if noisy else "")
          + f", seed {args.seed}) to {out}")
    print(f"read it with: {reader_hint(manifest, out, noisy)}")
    return 0
