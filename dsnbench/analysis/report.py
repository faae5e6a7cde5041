"""One self-contained static HTML page for one or more runs: tables, figures, gaps,
provenance and failed-metric counts. Figures are embedded as base64 PNG and the style sheet is
inline, so the file opens offline and can be mailed or archived as is. The page carries no
clock time of its own, so the same runs give the same page.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from ..errors import UserError
from ..results import RunTables
from . import gates as gates_mod
from .collect import entries_frame, higher_is_better, metric_label, metrics_meta, require_metric, run_label
from .figures import gate_figures, overlap_noise_figure, overlap_noise_tables, pareto_figures
from .pareto import ORACLE_ALLOCATION, gap_table, hypervolumes, point_gaps, utterance_values
from .tables import html_table

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.dataset td{background:#eef3f8;font-style:italic;font-weight:600}
figure{margin:1em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.note{font-size:.85em;color:#555} .warn{background:#fff4e5;border-left:4px solid #E69F00;padding:.5em 1em}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em;max-height:30em}
code{font-size:.9em}
"""


def figure_to_data_uri(fig: plt.Figure, dpi: int = 130) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_html(fig: plt.Figure, caption: str) -> str:
    return (f'<figure><img alt="{html.escape(caption)}" src="{figure_to_data_uri(fig)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _frame_html(df: pd.DataFrame, floatfmt: str = "{:.2f}") -> str:
    if df.empty:
        return "<p class=\"note\">(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for v in r:
            if isinstance(v, float):
                cells.append(f'<td class="num">{"–" if math.isnan(v) else floatfmt.format(v)}</td>')
            elif isinstance(v, int):
                cells.append(f'<td class="num">{v}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def failures_frame(runs: Sequence[RunTables]) -> pd.DataFrame:
    """Failed-metric counts per entry (one row per entry and metric with a failure)."""
    rows = []
    for run in runs:
        for e in run.entries():
            n = e.get("n_utterances") or {}
            for metric, count in sorted((n.get("failed") or {}).items()):
                rows.append({"run": run_label(run), "model": e.get("model"), "dataset": e.get("dataset"),
                             "operating point": "–" if e.get("operating_point") is None else f"{e['operating_point']:g}",
                             "metric": metric, "failed": int(count), "of": int(n.get("total") or 0)})
    return pd.DataFrame(rows, columns=["run", "model", "dataset", "operating point", "metric", "failed", "of"])


def error_messages(runs: Sequence[RunTables], limit: int = 20) -> pd.DataFrame:
    """The distinct per-utterance error messages (column ``error``) with their counts."""
    frames = []
    for run in runs:
        u = run.utterances
        if "error" not in u.columns:
            continue
        err = u["error"].fillna("").astype(str)
        bad = u[err != ""]
        if len(bad):
            c = bad.groupby(["model", "error"]).size().reset_index(name="utterances")
            c.insert(0, "run", run_label(run))
            frames.append(c)
    if not frames:
        return pd.DataFrame(columns=["run", "model", "error", "utterances"])
    return pd.concat(frames, ignore_index=True).sort_values("utterances", ascending=False).head(limit)


#: dataset facts worth a reader's eye in the provenance table
_DATA_FACTS = ("layout", "task", "sample_rate", "mode", "split", "subtype", "overlap", "noise_activity")


def _provenance_html(run: RunTables) -> str:
    s = run.summary
    facts = [("run id", s.get("run_id")), ("folder", str(run.path)), ("created", s.get("created")),
             ("schema version", s.get("schema_version")), ("git commit", s.get("git_commit")),
             ("config hash", s.get("config_hash")), ("device", s.get("device"))]
    parts = [f"<h3>Run {html.escape(run_label(run))}</h3>", "<table>"]
    parts += [f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code></td></tr>" for k, v in facts if v is not None]
    parts.append("</table>")
    ds = s.get("datasets") or {}
    if ds:
        rows = []
        for name, info in ds.items():
            info = info if isinstance(info, dict) else {}
            flat = {**(info.get("info") if isinstance(info.get("info"), dict) else {}),
                    **{k: v for k, v in info.items() if k != "info"}}
            details = {k: flat[k] for k in _DATA_FACTS if flat.get(k) is not None}
            rows.append({"dataset": name, "manifest hash": str(info.get("manifest_hash", "–")),
                         "utterances": str(info.get("n_utterances", "–")),
                         "details": ", ".join(f"{k}={v}" for k, v in details.items()),
                         "warnings": "; ".join(str(w) for w in (info.get("warnings") or [])) or "–"})
        parts += ["<h4>Data</h4>", _frame_html(pd.DataFrame(rows))]
    mm = s.get("metrics_meta") or {}
    if mm:
        rows = []
        for name, m in mm.items():
            m = m if isinstance(m, dict) else {}
            rest = {k: v for k, v in m.items() if k not in ("unit", "higher_is_better", "tolerance")}
            rows.append({"metric": name, "unit": str(m.get("unit", "")), "higher is better": str(m.get("higher_is_better", "")),
                         "tolerance": str(m.get("tolerance", "")), "settings": ", ".join(f"{k}={v}" for k, v in rest.items())})
        table = pd.DataFrame(rows)
        if not table["settings"].astype(bool).any():
            table = table.drop(columns=["settings"])  # no metric records a setting: no empty column
        parts += ["<h4>Metrics</h4>", _frame_html(table)]
    versions = s.get("versions") or {}
    if versions:
        parts += ["<h4>Versions</h4>", _frame_html(pd.DataFrame([{"package": k, "version": str(v)} for k, v in versions.items()]))]
    parts += ["<h4>Configuration</h4>", f"<pre>{html.escape(json.dumps(s.get('config', {}), indent=2, sort_keys=True, default=str))}</pre>"]
    return "\n".join(parts)


def gaps_html(runs: Sequence[RunTables], entries: pd.DataFrame, metric: str, hib: bool, seed: int = 0) -> list[str]:
    """The report's gap sections: the area between each curve and the reference, each point
    against the reference curve (both paired over utterances, with bootstrap 95 % intervals and
    paired tests), and each front's hypervolume against the stated reference point."""
    body: list[str] = []
    entries = entries.dropna(subset=[metric])
    values = utterance_values(runs, metric)
    gaps = gap_table(entries, metric, hib, values=values, seed=seed)
    if not gaps.empty:
        gaps = gaps.assign(significant=gaps["significant"].map({True: "yes", False: "no (CI covers 0)"}))
        gaps = gaps.rename(columns={"mean_gap": "mean gap", "lo": "from GMAC/s", "hi": "to GMAC/s", "ci_lo": "CI low",
                                    "ci_hi": "CI high", "p_wilcoxon": "p (Wilcoxon)", "p_ttest": "p (t)"})
        body += ["<h3>Mean gap at equal compute (area between fronts)</h3>",
                 "<p class=\"note\">Per utterance, the integral of (curve − reference) over the GMAC/s range both "
                 "cover, divided by that range; the mean over utterances with a seeded bootstrap 95 % interval "
                 "(resampling utterances, so the pairing is kept) and paired tests. Area = mean gap × range.</p>",
                 _frame_html(gaps, "{:.3g}")]
    points = point_gaps(entries, metric, hib, values=values, seed=seed)
    if not points.empty:
        points = _readable_gaps(points, "reference curve at that cost")
        body += ["<h3>Each point against the reference curve</h3>",
                 "<p class=\"note\">Paired over utterances: each utterance's reference is interpolated between "
                 "the two reference models that bracket the point's GMAC/s; gap = mean of (point − reference) "
                 "with a seeded bootstrap 95 % interval, Wilcoxon signed-rank and paired-t p-values and the "
                 "number of utterances. A point outside the reference's compute range says so (nothing is "
                 "extrapolated).</p>",
                 _frame_html(points, "{:.3g}")]
    if (entries["family"] == ORACLE_ALLOCATION).any():
        own = point_gaps(entries, metric, hib, reference=ORACLE_ALLOCATION, values=values, seed=seed)
        if not own.empty:
            own = _readable_gaps(own, "oracle curve at that cost")
            body += ["<h3>Each DSN point against the oracle allocation of its own weights</h3>",
                     "<p class=\"note\">The gate's headroom: the oracle allocation (greedy per segment on the "
                     "fixed-width outputs, then the real output with that allocation forced) interpolated at the "
                     "point's GMAC/s on each utterance, flat above its best allocation; gap &lt; 0: the gate is "
                     "below it.</p>", _frame_html(own, "{:.3g}")]
    hv = hypervolumes(entries, metric, hib)
    if not hv.empty:
        body += ["<h3>Hypervolume of each front</h3>",
                 "<p class=\"note\">The area each front dominates up to the reference point (ref_gmacs, "
                 "ref_quality): the costliest point's GMAC/s and 0 for an improvement metric (else the worst "
                 "point). Larger is better; comparable only against the same point.</p>",
                 _frame_html(hv, "{:.4g}")]
    return body


def _agreement_html(run: RunTables) -> list[str]:
    """Per DSN entry with an oracle allocation of its model in the run: how often the gate chose
    the oracle's width, per segment category, at matched mean compute."""
    out = []
    for model, dataset, op in gates_mod.dynamic_entries(run.segments):
        if model.endswith("+oracle"):
            continue
        agreement, mu = gates_mod.oracle_agreement(run.segments, model, op, dataset)
        if agreement.empty:
            continue
        tab = agreement.reset_index().rename(columns={"index": "category", "dsn_mean_width": "gate mean width",
                                                      "oracle_mean_width": "oracle mean width"})
        op_txt = "" if op is None else f", β={op:g}"
        out += [f"<h4>Gate against the oracle allocation: {html.escape(model)}{op_txt}, {html.escape(dataset)} "
                f"(oracle at μ={mu:g}, matched mean compute)</h4>",
                "<p class=\"note\">Share of segments where the gate chose the width the oracle allocation chose "
                "(greedy per segment on the fixed-width outputs, exact output), per segment category.</p>",
                _frame_html(tab, "{:.3g}")]
    return out


def build_report(runs: Sequence[RunTables], metric: str = "si_snri", utt_ids: Sequence[str] | None = None,
                 audio_root: str | Path | None = None, title: str | None = None, n_gate_utterances: int = 2) -> str:
    """The HTML page as a string (see the module docstring)."""
    if not runs:
        raise UserError("no run folder given")
    entries = entries_frame(runs)
    if entries.empty:
        raise UserError("the runs have no summary entries")
    require_metric(entries, metric)
    meta = metrics_meta(runs)
    names = ", ".join(run_label(r) for r in runs)
    from .. import __version__
    body = [f"<h1>{html.escape(title or 'dsnbench report')}</h1>",
            f"<p class=\"note\">Runs: {html.escape(names)}. Made by dsnbench {html.escape(__version__)} from the run folders only.</p>"]
    synthetic = [r for r in runs if r.summary.get("synthetic")]
    if synthetic:
        note = synthetic[0].summary.get("note", "")
        body.append(f"<p class=\"warn\"><b>Synthetic demo data.</b> {html.escape(str(note))}</p>")
    body += ["<h2>Results</h2>", html_table(entries)]
    # Pareto
    body.append(f"<h2>Quality against compute</h2><p class=\"note\">Each point is one model (and operating point) "
                f"with bootstrap 95 % intervals on both axes. Lines join each curve's Pareto front (piecewise linear in "
                f"GMAC/s); hollow markers are dominated. The mean gap is the area between a curve and the reference "
                f"curve over their common compute range divided by that range ({html.escape(metric_label(metric, meta))}).</p>")
    for name, fig in pareto_figures(runs, metric).items():
        body.append(_figure_html(fig, name))
    hib = higher_is_better(metric, meta)
    body += gaps_html(runs, entries, metric, hib)
    # gates
    body.append("<h2>Gate decisions</h2>")
    any_gate = False
    for run in runs:
        if run.segments.empty or not gates_mod.dynamic_entries(run.segments):
            continue
        any_gate = True
        figs = gate_figures(run, utt_ids=utt_ids, audio_root=audio_root, n_utterances=n_gate_utterances)
        body.append(f"<h3>{html.escape(str(run.path))}</h3>")
        for name, fig in figs.items():
            body.append(_figure_html(fig, name))
        body += _agreement_html(run)
    if not any_gate:
        body.append("<p class=\"note\">No entry chose more than one width per segment: no gate decisions to show.</p>")
    # overlap / noise
    body.append("<h2>Speaker overlap and noise activity</h2>")
    on = overlap_noise_figure(runs, metric)
    if on:
        for name, fig in on.items():
            body.append(_figure_html(fig, name))
        for factor, tab in overlap_noise_tables(runs, metric).items():
            cols = [c for c in ["label", factor, "gmacs", metric] if c in tab.columns]
            body += [f"<h4>{html.escape(factor.replace('_', ' '))}</h4>", _frame_html(tab[cols])]
    else:
        body.append("<p class=\"note\">No variant test sets (datasets with an overlap ratio or noise activity) in these runs.</p>")
    # failures
    body.append("<h2>Failed metrics</h2>")
    fails = failures_frame(runs)
    total = int(fails["failed"].sum()) if not fails.empty else 0
    body.append(f"<p>{total} failed metric value(s) in all; each is NaN in its table and left out of its mean.</p>")
    body.append(_frame_html(fails))
    errs = error_messages(runs)
    if not errs.empty:
        body += ["<h3>Error messages</h3>", _frame_html(errs)]
    body.append("<h2>Provenance</h2>")
    body += [_provenance_html(r) for r in runs]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title or 'dsnbench report')}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(runs: Sequence[RunTables], out: str | Path, **kwargs) -> Path:
    from ..results import atomic_write_bytes
    text = build_report(runs, **kwargs)
    p = Path(out)
    atomic_write_bytes(p, text.encode("utf-8"))
    return p


def _readable_gaps(points: pd.DataFrame, at_cost: str) -> pd.DataFrame:
    """A point-gap table with the report's column names (``at_cost`` for the reference column)."""
    points = points.assign(significant=points["significant"].map({True: "yes", False: "no"}))
    return points.rename(columns={"reference_at_cost": at_cost, "ci_lo": "CI low", "ci_hi": "CI high",
                                  "p_wilcoxon": "p (Wilcoxon)", "p_ttest": "p (t)"})
