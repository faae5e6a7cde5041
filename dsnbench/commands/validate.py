"""``dsnbench validate --dataset NAME [--root DIR]``: check a dataset without running anything."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  dsnbench validate --dataset mini-2mix
  dsnbench validate --dataset mini-wham --task sep_noisy
  dsnbench validate --dataset wsj0-2mix --root /data/wsj0-mix/2speakers --sample-rate 8000 --mode min --split tt
  dsnbench validate --dataset wham --root /data/wham_mix --task sep_noisy
  dsnbench validate --dataset libri2mix --root /data/librimix --split test --task sep_clean
  dsnbench validate --dataset folder --root /data/my_mixtures

Checks: folders present and not empty, ids identical across folders, equal lengths, one sample
rate, mono, the published sample format (16-bit PCM for WSJ0-2mix and Libri2Mix, float32 for
WHAM!/WHAMR!), the published count (3000 for tt: a warning otherwise), and from the audio the
mean input SI-SNR (about 0 dB for a clean two-speaker set) and mixture = sum of references.
Prints a short report, then one line per problem naming the file.

exit codes: 0 valid (warnings allowed), 1 problems found, 2 usage error or unreadable layout.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ..data import add_dataset_arguments
    p = subparsers.add_parser(
        "validate", help="check a dataset's layout and audio without running a model",
        description="Validate a dataset against its published layout and print a short report.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_arguments(p)
    p.add_argument("--no-audio", action="store_true",
                   help="skip reading the audio (no SI-SNR / consistency statistics)")
    p.add_argument("--max-problems", type=int, default=50, metavar="N",
                   help="print at most N problem lines (default 50; the total is always printed)")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import dataset_options, load_dataset
    from ..run.checks import audio_stats, describe

    problems: list[str] = []
    manifest = load_dataset(args.dataset, **dataset_options(args), problems=problems)
    d = describe(manifest)
    info = manifest.info
    opts = ", ".join(f"{k} {info[k]}" for k in ("task", "sample_rate", "mode", "split") if info.get(k) is not None)
    lines = [
        f"dataset      {args.dataset} ({opts})",
        f"root         {manifest.root}",
        f"mixtures     {info.get('n_found', d['n_utterances'])} found, {d['n_utterances']} valid"
        + (f", {d['n_sources']} reference(s) each" if d["n_sources"] else ""),
        "per folder   " + ", ".join(f"{f}/ {n}" for f, n in (info.get("folder_counts") or {}).items()),
        f"duration     {_hms(d['total_s'])} (mean {d['mean_s']:.2f} s, min {d['min_s']:.2f} s, max {d['max_s']:.2f} s)",
        f"sample rate  {', '.join(str(r) for r in d['sample_rates']) or '-'} Hz, format {d['subtype'] or '-'}",
        f"manifest     {d['manifest_hash']}",
    ]
    if info.get("variant"):
        v = info["variant"]
        lines.append(f"variant      overlap {v.get('overlap')}, noise activity {v.get('noise_activity')}, "
                     f"from {v.get('from')} (seed {v.get('seed')})")
    warnings = list(manifest.warnings)
    if not args.no_audio and manifest.utterances:
        stats = audio_stats(manifest)
        problems.extend(stats.problems)
        warnings.extend(stats.warnings)
        if stats.mean_input_si_snr is not None:
            note = " (about 0 dB expected)" if info.get("wsj0_2mix_like") else ""
            lines.append(f"input SI-SNR mean {stats.mean_input_si_snr:+.2f} dB over {stats.n_checked} mixtures{note}")
        if stats.min_consistency_db is not None:
            lines.append(f"consistency  mixture vs sum of references: worst {stats.min_consistency_db:.1f} dB")
    print("\n".join(lines))
    for w in warnings:
        print(f"warning: {w}")
    for msg in problems[: max(0, args.max_problems)]:
        print(f"problem: {msg}")
    if len(problems) > args.max_problems:
        print(f"... and {len(problems) - args.max_problems} more problem(s)")
    if problems:
        print(f"INVALID: {len(problems)} problem(s)")
        return 1
    if warnings and args.strict:
        print(f"INVALID (--strict): {len(warnings)} warning(s)")
        return 1
    print("OK" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d} h"
