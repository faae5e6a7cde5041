"""The metric history: one CSV row per (run, entry), appended run by run, and its trend plot.

``results/history.csv`` is the project's convention (:data:`DEFAULT_HISTORY`). CSV rather than
JSON lines: a diff of the committed file shows one line per model and dataset, and pandas,
spreadsheets and ``git log -p`` all read it. Columns (:func:`columns`): the run (run_id,
git_commit, created), the entry (model, dataset, operating_point), n_evaluated, and the mean of
each tracked metric (:func:`tracked_metrics`: every registered metric's headline column and
the cost, as the metric registry says). A metric the run did not measure is an empty cell; a
mean that was NaN is ``nan``. A file written before a metric was registered keeps its columns
and gains the new one (empty in its older rows) at the next append. Rows are deterministic functions of ``summary.json``: the date is
the run's ``created``, not the time of appending, and a run already in the file (same run_id)
is not added again.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Mapping

from .errors import UserError
from .metrics import COSTS, column_info, headline_columns

DEFAULT_HISTORY = Path("results") / "history.csv"

#: the columns of a history row before its metrics
RUN_COLUMNS = ["run_id", "git_commit", "created", "model", "dataset", "operating_point", "n_evaluated"]


def tracked_metrics() -> list[str]:
    """The metrics tracked over time: each registered metric's headline column, then the costs."""
    return headline_columns() + [c for name in COSTS.in_order() if (c := COSTS.get(name).headline_column())]


def columns() -> list[str]:
    return RUN_COLUMNS + tracked_metrics()


#: the tracked metrics and the columns of a new history file, with the shipped metrics
HISTORY_METRICS = tracked_metrics()
COLUMNS = columns()


def rows_from_summary(summary: Mapping) -> list[dict[str, str]]:
    """History rows of one run, one per entry, sorted by (model, dataset, operating point)."""
    run_id = summary.get("run_id")
    if not run_id:
        raise UserError("summary has no run_id; cannot add it to the history")
    rows = []
    for e in summary.get("entries") or []:
        metrics = e.get("metrics") or {}
        row = {
            "run_id": str(run_id),
            "git_commit": str(summary.get("git_commit") or ""),
            "created": str(summary.get("created") or ""),
            "model": str(e.get("model")),
            "dataset": str(e.get("dataset")),
            "operating_point": _cell(e.get("operating_point"), missing=""),
            "n_evaluated": _cell((e.get("n_utterances") or {}).get("evaluated"), missing=""),
        }
        for name in tracked_metrics():
            is_cost = column_info(name).kind == "cost"  # costs sit beside the entry's metrics
            present = e.get(name) is not None if is_cost else name in metrics
            if not present:
                row[name] = ""  # not measured in this run
                continue
            rec = e.get(name) if is_cost else metrics.get(name)
            row[name] = _cell(rec.get("mean") if isinstance(rec, Mapping) else rec, missing="nan")
        rows.append(row)
    rows.sort(key=lambda r: (r["model"], r["dataset"], r["operating_point"] != "",
                             float(r["operating_point"]) if r["operating_point"] else 0.0))
    return rows


def _cell(v: Any, missing: str) -> str:
    if v is None:
        return missing
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "nan" if missing == "nan" else missing
    return repr(f)


def read_history(path: str | Path) -> list[dict[str, str]]:
    """Rows of a history file (as strings); a missing file is an empty history."""
    return _read(path)[1]


def _read(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a history file; a missing file has the current :func:`columns`."""
    p = Path(path)
    if not p.exists():
        return columns(), []
    try:
        with p.open(newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read the history ({exc})") from None
    if header and header[:len(RUN_COLUMNS)] != RUN_COLUMNS:
        raise UserError(f"{p}: unexpected columns {header}; expected {columns()}")
    return header or columns(), rows


def add_run(run: str | Path, history: str | Path = DEFAULT_HISTORY) -> tuple[int, bool]:
    """Append the rows of a run (folder or summary.json) to ``history``.

    Returns (rows added, whether the run was already there). The file is rewritten atomically,
    so a killed append leaves the old file whole.
    """
    from .compare import load_summary
    from .results import atomic_write_bytes
    summary = load_summary(run)
    new_rows = rows_from_summary(summary)
    if not new_rows:
        raise UserError(f"{run}: the run has no entries; nothing to add to the history")
    history = Path(history)
    header, old = _read(history)
    if any(r["run_id"] == new_rows[0]["run_id"] for r in old):
        return 0, True
    header = header + [c for c in columns() if c not in header]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(old)
    writer.writerows(new_rows)
    atomic_write_bytes(history, buf.getvalue().encode())
    return len(new_rows), False


def plot_history(history_path: str | Path, out_dir: str | Path, metrics: list[str] | None = None,
                 formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Draw each metric's trend per model (one panel per metric and dataset); PNG and PDF.

    Runs are placed in the order of their ``created`` time (ties by run_id), labelled by their
    short commit. Returns the written paths: ``out_dir/history.png`` and ``history.pdf`` (or
    the ``formats`` asked for).
    """
    import numpy as np
    import pandas as pd

    from .analysis.style import OKABE_ITO, save_figure, style

    header, rows = _read(history_path)
    if not rows:
        raise UserError(f"{history_path}: the history is empty or missing; add runs with `dsnbench history add RUN`")
    df = pd.DataFrame(rows, columns=header)
    tracked = header[len(RUN_COLUMNS):]
    metrics = metrics or tracked
    for m in metrics:
        if m not in tracked:
            raise UserError(f"history has no metric {m!r} (it tracks {', '.join(tracked)})")
        df[m] = pd.to_numeric(df[m], errors="coerce")
    metrics = [m for m in metrics if df[m].notna().any()]
    if not metrics:
        raise UserError(f"{history_path}: no metric has a value in the history")
    runs = df[["run_id", "created", "git_commit"]].drop_duplicates("run_id").sort_values(
        ["created", "run_id"], kind="mergesort").reset_index(drop=True)
    position = {rid: i for i, rid in enumerate(runs["run_id"])}
    labels = [(c[:7] if c else r[:7]) for r, c in zip(runs["run_id"], runs["git_commit"])]
    df["x"] = df["run_id"].map(position)
    # one line per model: a model with operating points is drawn at its lowest one (beta 0, the
    # gate as trained, when the history has it); the datasets differ by line style
    op_value = pd.to_numeric(df["operating_point"].replace("", np.nan), errors="coerce")
    df["op_value"] = op_value
    lowest = df.groupby("model")["op_value"].transform("min")
    df = df[(df["op_value"] == lowest) | (df["op_value"].isna() & lowest.isna())]
    models = sorted(df["model"].unique())
    datasets = sorted(df["dataset"].unique())
    op_of = {m: df.loc[df["model"] == m, "op_value"].iloc[0] for m in models}
    markers = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
    dashes = ["-", "--", ":", "-."]
    look = {m: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": markers[i % len(markers)]}
            for i, m in enumerate(models)}
    style_of = {ds: dashes[i % len(dashes)] for i, ds in enumerate(datasets)}

    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    n_cols = min(3, len(metrics))
    n_rows = -(-len(metrics) // n_cols)
    with style():
        fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, sharex=True,
                                 figsize=(3.4 * n_cols + 2.2, 2.4 * n_rows + 0.9))
        step = max(1, -(-len(runs) // 12))  # at most about 12 run labels on the axis
        for k, m in enumerate(metrics):
            ax = axes[k // n_cols][k % n_cols]
            for model in models:
                for ds in datasets:
                    g = df[(df["model"] == model) & (df["dataset"] == ds)].sort_values("x")
                    if g[m].notna().any():
                        ax.plot(g["x"], g[m], ms=3.5, linewidth=1.2, linestyle=style_of[ds], **look[model])
            info = column_info(m)
            unit = info.spec.unit if info is not None else ""
            ax.set_title(f"{m} ({unit})" if unit else m)
            ax.set_xticks(range(0, len(runs), step))
            ax.set_xticklabels(labels[::step], rotation=60, ha="right")
        for k in range(len(metrics), n_rows * n_cols):
            axes[k // n_cols][k % n_cols].set_visible(False)
        for c in range(n_cols):
            axes[-1][c].set_xlabel("run (commit)")
        handles = [Line2D([], [], linestyle="-", **look[m]) for m in models]
        names = [m if math.isnan(op_of[m]) else f"{m} (β={op_of[m]:g})" for m in models]
        if len(datasets) > 1:
            handles += [Line2D([], [], color="#555555", linestyle=style_of[ds]) for ds in datasets]
            names += [f"dataset {ds}" for ds in datasets]
        fig.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False, fontsize=7)
        fig.suptitle("dsnbench metric history")
        fig.tight_layout()
        paths = save_figure(fig, out_dir, "history", formats)
        plt.close(fig)
    return paths


def draw_history(args: Any) -> list[Path]:
    """``dsnbench plot history`` (a plot kind of :mod:`dsnbench.analysis.kinds`)."""
    from .analysis.kinds import formats
    history = args.history if args.history is not None else DEFAULT_HISTORY
    out = args.out if args.out is not None else Path(history).parent
    return plot_history(history, out, args.metric, formats(args))
