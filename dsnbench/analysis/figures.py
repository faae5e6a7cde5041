"""From run folders to named figures: what the CLI, the notebooks and the report call.

Each function returns ``{name: Figure}`` with file-safe names, ready for
:func:`save_figures` (PNG and PDF per figure).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from ..errors import UserError
from ..results import RunTables
from . import gates as gates_mod
from .audio import find_audio
from .collect import entries_frame, family_of, load_runs, metrics_meta, require_metric, short_name
from .kinds import formats
from .pareto import utterance_values
from .plots import plot_gate_timeline, plot_oracle_agreement, plot_overlap_noise, plot_pareto, plot_seg_snr_by_width, plot_width_share
from .style import save_figure
from .variants import default_lines, factors_frame, variant_table


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", s).strip("_")


def _summary(runs: Sequence[RunTables]) -> dict:
    """The summary that decides the synthetic stamp: stamped if any run is synthetic."""
    return next((r.summary for r in runs if r.summary.get("synthetic")), runs[0].summary)


def pareto_figures(runs: Sequence[RunTables], metric: str = "si_snri", datasets: Sequence[str] | None = None,
                   reference: str | None = None) -> dict[str, plt.Figure]:
    """One Pareto figure per dataset (all runs' entries together)."""
    entries = entries_frame(runs)
    if entries.empty:
        raise UserError("the runs have no summary entries")
    require_metric(entries, metric)
    meta = metrics_meta(runs)
    names = list(datasets) if datasets else sorted(set(entries["dataset"]))
    unknown = [d for d in names if d not in set(entries["dataset"])]
    if unknown:
        raise UserError(f"dataset {unknown[0]!r} is not in these runs (they have: {', '.join(sorted(set(entries['dataset'])))})")
    values = utterance_values(runs, metric)
    return {f"pareto-{safe_name(metric)}-{safe_name(d)}": plot_pareto(entries, d, metric, meta, _summary(runs), reference,
                                                                     values=values)
            for d in names}


def _pick_utterances(seg: pd.DataFrame, n: int) -> list[str]:
    """Utterances whose gate used the most distinct widths (ties: by id)."""
    k = seg.groupby("utt_id")["width"].nunique()
    return list(k.sort_values(ascending=False, kind="mergesort").index[:n])


def gate_figures(run: RunTables, utt_ids: Sequence[str] | None = None, model: str | None = None,
                 operating_point: float | None = None, dataset: str | None = None, manifest: Any = None,
                 audio_root: str | Path | None = None, n_utterances: int = 2) -> dict[str, plt.Figure]:
    """Gate-decision figures of one entry of one run: width share per category, segmental
    SI-SNR by width, and a timeline per utterance (``utt_ids``, or the ``n_utterances`` with the
    most varied decisions). The entry defaults to a DSN entry at the operating point nearest 0.

    Waveforms are read through the dataset recorded in the summary, or ``manifest`` /
    ``audio_root`` when given; if that fails the timeline says why and still shows the gate.
    """
    seg = run.segments
    if seg.empty:
        raise UserError(f"{run.path}: segments.parquet has no rows")
    families = {e.get("model"): family_of(e, run.summary) for e in run.entries()}
    if dataset is None and utt_ids:
        # the dataset that holds the utterances asked for
        holding = sorted(set(seg.loc[seg["utt_id"] == utt_ids[0], "dataset"]))
        if not holding:
            raise UserError(f"utterance {utt_ids[0]!r} is in no dataset of {run.path}")
        dataset = holding[0]
    if model is None:
        m, d, op = gates_mod.default_entry(seg if dataset is None else seg[seg["dataset"] == dataset], families)
        model, dataset = m, dataset or d
        operating_point = op if operating_point is None else operating_point
    chosen = gates_mod.select_entry(seg, model, operating_point, dataset)
    if dataset is None:
        dataset = sorted(set(chosen["dataset"]))[0]
        chosen = chosen[chosen["dataset"] == dataset]
    if operating_point is None and chosen["operating_point"].notna().any():
        ops = sorted(set(chosen["operating_point"].dropna().astype(float)), key=abs)
        operating_point = ops[0]
        chosen = gates_mod.select_entry(chosen, operating_point=operating_point)
    op_txt = f", β={operating_point:g}" if operating_point is not None else ""
    entry = next((e for e in run.entries() if e.get("model") == model), {})
    shown = short_name(model, entry.get("model_info") if isinstance(entry.get("model_info"), dict) else None)
    tag = safe_name(f"{shown}{'-b' + format(operating_point, 'g') if operating_point is not None else ''}-{dataset}")
    # the model's whole width set (every operating point and dataset), so colours match across figures
    widths = sorted(set(seg.loc[seg["model"] == model, "width"].dropna().astype(float)))
    summary = run.summary
    figs = {
        f"gates-share-{tag}": plot_width_share(chosen, f"Width chosen per segment category: {shown}{op_txt}, {dataset}", summary, widths),
        f"gates-segsnr-{tag}": plot_seg_snr_by_width(chosen, f"Segmental SI-SNR by chosen width: {shown}{op_txt}, {dataset}", summary),
    }
    agreement, mu = gates_mod.oracle_agreement(seg, model, operating_point, dataset)
    if not agreement.empty:
        figs[f"gates-agreement-{tag}"] = plot_oracle_agreement(
            agreement, f"Gate against the oracle allocation: {shown}{op_txt}, {dataset}", mu, summary)
    ids = list(utt_ids) if utt_ids else _pick_utterances(chosen, n_utterances)
    known = set(chosen["utt_id"])
    for uid in ids:
        if uid not in known:
            close = sorted(known)[:3]
            raise UserError(f"utterance {uid!r} is not in {dataset!r} for {shown}{op_txt} (e.g. {', '.join(close)})")
        audio = find_audio(summary, dataset, uid, manifest=manifest, root=audio_root)
        figs[f"gates-timeline-{tag}-{safe_name(uid)}"] = plot_gate_timeline(
            chosen, uid, audio, f"Gate decisions: {shown}{op_txt}, {dataset}, {uid}", summary, widths)
    return figs


def overlap_noise_tables(runs: Sequence[RunTables], metric: str = "si_snri", all_entries: bool = False) -> dict[str, pd.DataFrame]:
    entries = entries_frame(runs)
    factors = factors_frame(runs)
    out = {}
    for factor in ("overlap", "noise_activity"):
        tab = variant_table(entries, factors, factor, ("gmacs", metric))
        if not tab.empty and tab[factor].nunique() >= 2:
            out[factor] = tab if all_entries else default_lines(tab)
    return out


def overlap_noise_figure(runs: Sequence[RunTables], metric: str = "si_snri", all_entries: bool = False) -> dict[str, plt.Figure]:
    """GMAC/s and quality against overlap ratio and noise activity; empty if no variant sets."""
    tables = overlap_noise_tables(runs, metric, all_entries)
    if not tables:
        return {}
    return {f"overlap-noise-{safe_name(metric)}": plot_overlap_noise(tables, metric, metrics_meta(runs), _summary(runs))}


def save_figures(figs: dict[str, plt.Figure], out_dir: str | Path, formats: tuple[str, ...] = ("png", "pdf"),
                 close: bool = True) -> list[Path]:
    paths: list[Path] = []
    for name, fig in figs.items():
        paths += save_figure(fig, out_dir, name, formats)
        if close:
            plt.close(fig)
    return paths


# -- the plot kinds of dsnbench plot (registered in .kinds): parsed arguments -> written paths

def draw_pareto(args: Any) -> list[Path]:
    figs = pareto_figures(load_runs(args.runs), args.metric, args.dataset, args.reference)
    return save_figures(figs, args.out, formats(args))


def draw_gates(args: Any) -> list[Path]:
    figs = gate_figures(load_runs(args.runs)[0], utt_ids=args.utt, model=args.model,
                        operating_point=args.operating_point, dataset=args.dataset, audio_root=args.audio_root)
    return save_figures(figs, args.out, formats(args))


def draw_overlap(args: Any) -> list[Path]:
    import sys

    from .variants import factors_frame, has_variants, left_out
    runs = load_runs(args.runs)
    figs = overlap_noise_figure(runs, args.metric, args.all_entries)
    if not figs:
        raise UserError("no variant datasets in these runs: none records an overlap ratio or noise activity "
                        "(build them with 'dsnbench data variant')")
    factors = factors_frame(runs)
    skipped = left_out(factors)
    if skipped:
        print(f"note: left out (no overlap ratio or noise activity recorded, and no variant of them here): "
              f"{', '.join(skipped)}", file=sys.stderr)
    varied = has_variants(factors)
    for factor, what in (("overlap", "speaker overlap"), ("noise_activity", "noise activity")):
        values = factors[factor].dropna().unique()
        if not varied[factor] and len(values):
            print(f"note: no {what} panel: every dataset here has {what} {100 * values[0]:g} %", file=sys.stderr)
    return save_figures(figs, args.out, formats(args))
