"""Result tables as papers print them, in Markdown, LaTeX (booktabs) and HTML.

One row per entry (model and operating point), grouped by dataset: model, parameters (M),
GMAC/s, SI-SNRi (dB), SDRi (dB), PESQ, STOI. Each value is the mean with ``± h`` where ``h`` is
half the width of the run's bootstrap 95 % interval (the interval is asymmetric in general;
``intervals="brackets"`` prints ``[lo, hi]`` instead). The best value of each quality column
within a dataset is bold (oracles are anchors and never bold). A metric missing from a run is
``–``; failed-metric counts are listed under the table.
"""
from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..metrics import column_info, headline_columns


def column(key: str) -> tuple[str, str, int]:
    """(column key, header, decimals) of one table column, from the metric registry
    (``gmacs`` is GMAC per second of audio; an unknown key is its own header, 2 decimals)."""
    info = column_info(key)
    return (key, info.header, info.decimals) if info is not None else (key, key, 2)


def default_columns() -> list[tuple[str, str, int]]:
    """GMAC/s, then every registered metric's headline column (SI-SNRi, SDRi, PESQ, STOI)."""
    return [column("gmacs")] + [column(c) for c in headline_columns()]


def _finite(x: object) -> bool:
    return isinstance(x, (int, float, np.floating)) and math.isfinite(float(x))


def column_decimals(values: "pd.Series", decimals: int) -> int:
    """At least ``decimals``; more for a column of small numbers, so it keeps 2 significant
    digits (a tiny model's 0.0407 GMAC/s is not printed as 0.04 for all of them)."""
    v = pd.to_numeric(values, errors="coerce").abs()
    v = v[np.isfinite(v) & (v > 0)]
    if v.empty:
        return decimals
    return int(min(max(decimals, 1 - math.floor(math.log10(float(v.max())))), 6))


def format_value(mean: float, lo: float, hi: float, decimals: int, intervals: str = "pm") -> str:
    if not _finite(mean):
        return "–"
    s = f"{mean:.{decimals}f}"
    if intervals == "none" or not (_finite(lo) and _finite(hi)):
        return s
    if round((hi - lo) / 2, decimals) == 0:  # a constant (e.g. a static model's cost): no interval
        return s
    if intervals == "brackets":
        return f"{s} [{lo:.{decimals}f}, {hi:.{decimals}f}]"
    return f"{s} ± {(hi - lo) / 2:.{decimals}f}"


def format_params(p: object, decimals: int = 2) -> str:
    if not _finite(p):
        return "–"
    return f"{float(p) / 1e6:.{decimals}f}"


def table_rows(entries: pd.DataFrame, columns: Sequence[tuple[str, str, int]] | None = None,
               intervals: str = "pm") -> dict[str, list[dict]]:
    """Per dataset, the formatted cells of each row plus which cells are best (``bold``)."""
    columns = columns or default_columns()
    out: dict[str, list[dict]] = {}
    for dataset, d in entries.groupby("dataset", sort=True):
        d = d.sort_values(["order", "run"], kind="mergesort")
        best: dict[str, float] = {}
        for key, _, _ in columns:
            if key == "gmacs" or key not in d.columns:
                continue
            vals = d.loc[~d["family"].str.startswith("oracle"), key].astype(float)  # anchors and oracle allocations
            vals = vals[np.isfinite(vals)]
            if vals.size:
                best[key] = float(vals.max())
        rows = []
        multi_run = d["run"].nunique() > 1
        p_dec = column_decimals(d["params"] / 1e6, 2) if "params" in d.columns else 2
        decs = {key: column_decimals(d[key], dec) if key in d.columns else dec for key, _, dec in columns}
        for _, r in d.iterrows():
            cells = {"model": r["label"] + (f" ({r['run']})" if multi_run else ""), "params": format_params(r.get("params"), p_dec)}
            bold = {}
            for key, _, dec in columns:
                dec = decs[key]
                mean = r.get(key, math.nan)
                cells[key] = format_value(mean, r.get(f"{key}_lo", math.nan), r.get(f"{key}_hi", math.nan), dec, intervals)
                bold[key] = key in best and _finite(mean) and not str(r["family"]).startswith("oracle") and round(float(mean), dec) == round(best[key], dec)
            rows.append({"cells": cells, "bold": bold, "failed": r.get("failed") or {},
                         "n": (r.get("n_evaluated"), r.get("n_total"))})
        out[str(dataset)] = rows
    return out


def _failures_note(rows_by_ds: dict[str, list[dict]]) -> list[str]:
    notes = []
    for ds, rows in rows_by_ds.items():
        for r in rows:
            failed = {m: int(c) for m, c in r["failed"].items() if c}
            # a failed separation leaves every metric of the utterance NaN: one line says so, and
            # a metric is listed only where it failed on more utterances than that
            n_sep = failed.pop("separation", 0)
            where = f"{ds}, {r['cells']['model']}"
            if n_sep:
                notes.append(f"{where}: separation failed on {n_sep} utterance(s) (every metric left out)")
            more = [f"{m} failed on {c} utterance(s)" for m, c in sorted(failed.items()) if c > n_sep]
            if more:
                notes.append(f"{where}: {'; '.join(more)} (left out of the means)")
    return notes


def markdown_table(entries: pd.DataFrame, columns: Sequence[tuple[str, str, int]] | None = None,
                   intervals: str = "pm") -> str:
    """Markdown (GitHub pipe tables), one block per dataset."""
    columns = columns or default_columns()
    rows_by_ds = table_rows(entries, columns, intervals)
    lines = []
    head = ["Model", "Params (M)"] + [h for _, h, _ in columns]
    for ds, rows in rows_by_ds.items():
        lines += [f"**{ds}**", "", "| " + " | ".join(head) + " |",
                  "|" + "|".join([":---", "---:"] + ["---:"] * len(columns)) + "|"]
        for r in rows:
            cells = [r["cells"]["model"], r["cells"]["params"]]
            for key, _, _ in columns:
                v = r["cells"][key]
                cells.append(f"**{v}**" if r["bold"][key] else v)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    lines.append(_legend(intervals))
    notes = _failures_note(rows_by_ds)
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def format_p(x: object) -> str:
    """A p-value as tables print it (``<0.001`` below a thousandth, ``–`` when undefined)."""
    if not _finite(x):
        return "–"
    return "<0.001" if float(x) < 0.001 else f"{float(x):.3f}"


def gaps_markdown(gaps: pd.DataFrame, metric: str, header: str) -> str:
    """Markdown block of :func:`dsnbench.analysis.pareto.point_gaps`, one block per dataset.

    A paired gap (with ``n`` > 0) shows its bootstrap 95 % interval, the Wilcoxon and t-test
    p-values and the number of utterances; a gap whose interval covers 0 is marked ``n.s.``;
    a point outside the reference's range says so."""
    lines = []
    for ds, d in gaps.groupby("dataset", sort=True):
        refs = d["reference"].unique()
        one = len(refs) == 1  # one reference curve for every point, or one per point ("own")
        ref = refs[0] if one else "reference"
        paired = "n" in d.columns and bool((pd.to_numeric(d["n"], errors="coerce") > 0).any())
        extra = " 95 % CI | p (Wilcoxon) | p (t) | n |" if paired else ""
        lines += [f"**{ds}**: against the {ref if one else 'own fixed-width'} curve{'' if one else 's'}", "",
                  f"| Point | GMAC/s | {header} |{'' if one else ' reference |'} {ref} curve at that cost | gap |{extra}",
                  "|:---|---:|---:|" + ("" if one else ":---|") + "---:|---:|" + ("---:|---:|---:|---:|" if paired else "")]
        for _, r in d.iterrows():
            inside = _finite(r["reference_at_cost"])
            at = f"{r['reference_at_cost']:.2f}" if inside else "outside its range"
            gap = "" if not _finite(r["gap"]) else f"{r['gap']:+.2f}"
            if paired and _finite(r["gap"]) and not bool(r.get("significant", True)):
                gap += " (n.s.)"
            which = "" if one else f" {r['reference']} |"
            cells = f"| {r['label']} | {r['gmacs']:.3f} | {r[metric]:.2f} |{which} {at} | {gap} |"
            if paired:
                ci = f"[{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}]" if _finite(r["ci_lo"]) else "–"
                n = str(int(r["n"])) if inside else "–"
                cells += f" {ci} | {format_p(r['p_wilcoxon'])} | {format_p(r['p_ttest'])} | {n} |"
            lines.append(cells)
        if paired:
            lines += ["", "Paired over utterances: each utterance's reference is interpolated between the two "
                      "reference models that bracket the point's GMAC/s; CI: seeded bootstrap 95 % of the mean "
                      "paired difference; n.s.: the interval covers 0."]
        lines.append("")
    return "\n".join(lines) + "\n"


def gaps_latex(gaps: pd.DataFrame, metric: str, header: str, label: str = "tab:dsnbench-gaps") -> str:
    """:func:`gaps_markdown` as a LaTeX ``table`` with booktabs rules, datasets as row blocks."""
    own = gaps["reference"].nunique() > 1
    heads = ["Point", "GMAC/s", latex_escape(header)] + (["Reference"] if own else []) + ["Reference at that cost", "Gap"]
    ncol = len(heads)
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l" + "r" * 2 + ("l" if own else "") + "rr}",
           r"\toprule", " & ".join(heads) + r" \\"]
    for ds, d in gaps.groupby("dataset", sort=True):
        refs = d["reference"].unique()
        against = f"against the {refs[0]} curve" if len(refs) == 1 else "against each DSN's own fixed-width curve"
        out += [r"\midrule", rf"\multicolumn{{{ncol}}}{{l}}{{\textit{{{latex_escape(str(ds))}}}, {latex_escape(against)}}} \\"]
        for _, r in d.iterrows():
            at = "--" if not _finite(r["reference_at_cost"]) else f"{r['reference_at_cost']:.2f}"
            gap = "--" if not _finite(r["gap"]) else f"{r['gap']:+.2f}"
            cells = [latex_escape(str(r["label"])), f"{r['gmacs']:.3f}", f"{r[metric]:.2f}"]
            cells += ([latex_escape(str(r["reference"]))] if own else []) + [at, gap]
            out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}",
            r"\caption{Each point against the reference curve at the same GMAC/s (gap $>$ 0: above it; -- outside "
            r"the reference's range).}", rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(out) + "\n"


def _legend(intervals: str) -> str:
    if intervals == "brackets":
        return "Mean [bootstrap 95 % interval]; best per dataset in bold (oracles excluded)."
    if intervals == "none":
        return "Means; best per dataset in bold (oracles excluded)."
    return "Mean ± half-width of the bootstrap 95 % interval; best per dataset in bold (oracles excluded)."


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "λ": r"$\lambda$", "β": r"$\beta$", "±": r"$\pm$", "–": "--"}


def latex_escape(s: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in s)


def latex_table(entries: pd.DataFrame, columns: Sequence[tuple[str, str, int]] | None = None,
                intervals: str = "pm", caption: str | None = None, label: str = "tab:dsnbench") -> str:
    """A LaTeX ``table`` with booktabs rules; datasets are row blocks. Needs ``\\usepackage{booktabs}``."""
    columns = columns or default_columns()
    rows_by_ds = table_rows(entries, columns, intervals)
    ncol = 2 + len(columns)
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l" + "r" * (ncol - 1) + "}", r"\toprule"]
    out.append(" & ".join(["Model", "Params (M)"] + [latex_escape(h) for _, h, _ in columns]) + r" \\")
    for ds, rows in rows_by_ds.items():
        out += [r"\midrule", rf"\multicolumn{{{ncol}}}{{l}}{{\textit{{{latex_escape(ds)}}}}} \\"]
        for r in rows:
            cells = [latex_escape(r["cells"]["model"]), latex_escape(r["cells"]["params"])]
            for key, _, _ in columns:
                v = latex_escape(r["cells"][key])
                cells.append(rf"\textbf{{{v}}}" if r["bold"][key] else v)
            out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    cap = caption or _legend(intervals)
    notes = _failures_note(rows_by_ds)
    if notes:
        cap += " " + " ".join(n + "." for n in notes)
    out += [rf"\caption{{{latex_escape(cap)}}}", rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(out) + "\n"


def html_table(entries: pd.DataFrame, columns: Sequence[tuple[str, str, int]] | None = None,
               intervals: str = "pm") -> str:
    """The same table as HTML (for the report)."""
    columns = columns or default_columns()
    rows_by_ds = table_rows(entries, columns, intervals)
    head = ["Model", "Params (M)"] + [h for _, h, _ in columns]
    parts = ['<table class="results">', "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for ds, rows in rows_by_ds.items():
        parts.append(f'<tr class="dataset"><td colspan="{len(head)}">{html.escape(ds)}</td></tr>')
        for r in rows:
            cells = [f"<td>{html.escape(r['cells']['model'])}</td>", f"<td class=\"num\">{r['cells']['params']}</td>"]
            for key, _, _ in columns:
                v = html.escape(r["cells"][key])
                cells.append(f'<td class="num">{"<b>" + v + "</b>" if r["bold"][key] else v}</td>')
            parts.append("<tr>" + "".join(cells) + "</tr>")
    parts += ["</tbody>", "</table>", f"<p class=\"note\">{html.escape(_legend(intervals))}</p>"]
    notes = _failures_note(rows_by_ds)
    if notes:
        parts.append("<ul class=\"note\">" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(parts)


def columns_for(metric_names: Sequence[str] | None) -> list[tuple[str, str, int]]:
    """Table columns for a chosen list of metrics (GMAC/s always first)."""
    if not metric_names:
        return default_columns()
    return [column("gmacs")] + [column(m) for m in metric_names if m != "gmacs"]
