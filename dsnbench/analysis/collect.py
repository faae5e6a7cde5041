"""Summary entries of one or more run folders as one tidy table (the input of every analysis).

Each row is one entry of a summary.json (model, dataset, operating point) with its means,
bootstrap 95 % intervals, cost, parameters, and the labels analysis needs:

- ``family``: ``entry["family"]`` if the entry has it, else ``entry["model_info"]["family"]``,
  else ``summary["models"][model]["family"]``, else the model name before the first ``-``
  (``static-0.25`` -> ``static``, ``dsn-l0.1`` -> ``dsn``).
- ``width``: the fixed width of a static or slimmable model (from the info or the name suffix).
- ``lam``: the complexity-loss weight lambda of a DSN (info ``lambda``, else the ``gate.lam``
  its checkpoint's provenance was trained with, else a ``-l<value>`` part of the name).
- ``curve``: which curve the entry belongs to on a Pareto plot: ``static``, ``slim``,
  ``dsn λ=<lam>`` (its operating points, i.e. gate beta, trace the curve), ``oracle allocation
  (<name>)`` (a slimmable model's oracle allocation, :mod:`dsnbench.run.allocation`: its
  operating points are the multipliers mu), or the model name.
  A DSN checkpoint run at a fixed width (``{name: dsn-l1, width: 0.5}``: the gated model's own
  weights, gate unused) is family ``slim`` but its own curve, ``slim (<name>)``, labelled
  ``slim w=0.5 (dsn-l1)``, so that it is never mixed with the supernet's ``slim`` curve.
- ``source``: the checkpoint file the entry's weights came from (``model_info["source"]``), which
  ties a DSN to its own weights at fixed widths (``point_gaps(..., reference="own")``).
- ``label``: unique within a run and dataset; entries that would share one (the same recipe
  trained with several seeds, say) get their model name appended in brackets.
  Likewise a per-checkpoint curve (``dsn λ=...``, ``slim (<name>)``) that two checkpoint files
  would share (two trainings named ``dsn-l2`` in different folders) gets the shortest end of
  each file's path that tells them apart, in brackets: ``dsn λ=2 [anchor/dsn-l2]``, so one
  curve is always one checkpoint.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import UserError
from ..metrics import column_info, headline_columns
from ..results import ResultsError, RunTables, read_run

_LAMBDA_RE = re.compile(r"(?:^|[-_])(?:l|lam|lambda)([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)(?=$|[-_])", re.I)
_WIDTH_RE = re.compile(r"[-_]w?([0-9]*\.?[0-9]+)$")

#: the quality metrics tables print by default, in order (each registered metric's headline column)
TABLE_METRICS = headline_columns()


def load_runs(paths: Iterable[str | Path]) -> list[RunTables]:
    """Read run folders; a folder that is not a finished run is a one-line UserError."""
    runs = []
    for p in paths:
        try:
            runs.append(read_run(p))
        except ResultsError as exc:
            raise UserError(str(exc)) from None
    if not runs:
        raise UserError("no run folder given")
    return runs


def _info(entry: dict, summary: dict) -> dict:
    info: dict = {}
    models = summary.get("models")
    if isinstance(models, dict) and isinstance(models.get(entry.get("model")), dict):
        info.update(models[entry["model"]])
    if isinstance(entry.get("model_info"), dict):
        info.update(entry["model_info"])
    return info


def family_of(entry: dict, summary: dict | None = None) -> str:
    """Model family of a summary entry (see the module docstring for the order of sources)."""
    if entry.get("family"):
        return str(entry["family"])
    info = _info(entry, summary or {})
    if info.get("family"):
        return str(info["family"])
    return str(entry.get("model", "other")).split("-", 1)[0] or "other"


_CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")


def short_name(model: str, info: dict | None = None) -> str:
    """A model's display name: a checkpoint path becomes the name the checkpoint gives itself
    (``model_info["name"]``) or its file stem; other names stay as they are."""
    m = str(model)
    if "/" in m or "\\" in m or m.endswith(_CHECKPOINT_SUFFIXES):
        if info and info.get("name"):
            return str(info["name"])
        stem = m.replace("\\", "/").rsplit("/", 1)[-1]
        for suf in _CHECKPOINT_SUFFIXES:
            if stem.endswith(suf):
                return stem[: -len(suf)]
        return stem
    return m


def lambda_of(entry: dict, summary: dict | None = None) -> float | None:
    info = _info(entry, summary or {})
    for key in ("lambda", "lam", "complexity_weight"):
        if info.get(key) is not None:
            return float(info[key])
    prov = info.get("provenance")
    gate = prov.get("gate") if isinstance(prov, dict) else None
    if isinstance(gate, dict) and gate.get("lam") is not None:  # the lambda it was trained with
        return float(gate["lam"])
    m = _LAMBDA_RE.search(short_name(str(entry.get("model", "")), info))
    return float(m.group(1)) if m else None


def width_of(entry: dict, summary: dict | None = None) -> float | None:
    info = _info(entry, summary or {})
    if info.get("width") is not None:
        return float(info["width"])
    cfg = info.get("config")
    if isinstance(cfg, dict) and cfg.get("static_width") is not None:
        return float(cfg["static_width"])
    m = _WIDTH_RE.search(short_name(str(entry.get("model", "")), info))
    return float(m.group(1)) if m else None


def _fmt_num(x: float) -> str:
    return f"{x:g}"


#: the name an allocated model's results carry after its own (run/loading.py: ``<model>+oracle``)
_ALLOCATED_SUFFIX = "+oracle"


def _allocated(model: str) -> str:
    return model[: -len(_ALLOCATED_SUFFIX)] if model.endswith(_ALLOCATED_SUFFIX) else model


def curve_of(family: str, model: str, lam: float | None) -> str:
    if family in ("static", "slim"):
        return family
    if family == "oracle-allocation":  # the gate's headroom: one curve per allocated model
        return f"oracle allocation ({_allocated(model)})"
    if family == "dsn":
        return f"dsn λ={_fmt_num(lam)}" if lam is not None else model
    return model


def label_of(family: str, model: str, op: float | None, width: float | None, lam: float | None) -> str:
    """A short human label: ``static w=0.5``, ``DSN λ=0.1 β=0.5``, or the model name."""
    if family in ("static", "slim") and width is not None:
        return f"{family} w={_fmt_num(width)}"
    if family == "dsn":
        parts = ["DSN"] + ([f"λ={_fmt_num(lam)}"] if lam is not None else [model])
        if op is not None:
            parts.append(f"β={_fmt_num(op)}")
        return " ".join(parts)
    if family == "oracle-allocation":
        return f"oracle μ={_fmt_num(op)} ({_allocated(model)})" if op is not None else f"oracle ({_allocated(model)})"
    return model if op is None else f"{model} @{_fmt_num(op)}"


def _mean_ci(block: Any) -> tuple[float, float, float]:
    if not isinstance(block, dict):
        v = float(block) if isinstance(block, (int, float)) and block is not None else math.nan
        return v, math.nan, math.nan
    mean = block.get("mean")
    ci = block.get("ci95") or [None, None]
    f = lambda v: math.nan if v is None else float(v)  # noqa: E731
    return f(mean), f(ci[0]), f(ci[1])


def run_label(run: RunTables) -> str:
    return str(run.summary.get("run_id") or Path(run.path).name)


def entries_frame(runs: Sequence[RunTables]) -> pd.DataFrame:
    """One row per summary entry of every run, with labels and ``<metric>``, ``<metric>_lo``,
    ``<metric>_hi`` columns for each metric and for ``gmacs`` (GMAC per second of audio)."""
    rows = []
    for run in runs:
        s = run.summary
        for order, e in enumerate(run.entries()):
            fam = family_of(e, s)
            model = str(e.get("model"))
            op = e.get("operating_point")
            op = None if op is None or (isinstance(op, float) and math.isnan(op)) else float(op)
            lam = lambda_of(e, s) if fam == "dsn" else None
            width = width_of(e, s) if fam in ("static", "slim") else None
            n = e.get("n_utterances") or {}
            info = _info(e, s)
            name = short_name(model, info)
            curve, label = curve_of(fam, name, lam), label_of(fam, name, op, width, lam)
            if fam == "slim" and _trained_as(info) == "gate":  # a DSN's weights at a fixed width
                own = _trained_name(info) or name
                curve, label = f"slim ({own})", f"{label} ({own})"
            row: dict[str, Any] = {
                "run": run_label(run), "run_path": str(run.path), "order": order,
                "model": model, "name": name, "dataset": str(e.get("dataset")), "operating_point": op,
                "family": fam, "lam": lam, "width": width,
                "curve": curve, "label": label, "source": info.get("source"),
                "params": e.get("params"),
                "n_total": n.get("total"), "n_evaluated": n.get("evaluated"),
                "failed": dict(n.get("failed") or {}),
                "width_share": e.get("width_share"),
            }
            row["gmacs"], row["gmacs_lo"], row["gmacs_hi"] = _mean_ci(e.get("gmacs_per_s"))
            for name, block in (e.get("metrics") or {}).items():
                row[name], row[f"{name}_lo"], row[f"{name}_hi"] = _mean_ci(block)
            rows.append(row)
    df = pd.DataFrame(rows)
    if len(df):
        df["params"] = pd.to_numeric(df["params"], errors="coerce")
        clash = df.groupby(["run_path", "dataset", "label"])["model"].transform("nunique") > 1
        df.loc[clash, "label"] = df.loc[clash, "label"] + " [" + df.loc[clash, "model"] + "]"
        per_file = (df["family"] == "dsn") | df["curve"].str.startswith("slim (")
        for _, idx in df[per_file & df["source"].notna()].groupby(["run_path", "dataset", "curve"]).groups.items():
            sources = df.loc[idx, "source"]
            if sources.nunique() > 1:
                tags = distinct_tails(sorted(set(sources)))
                df.loc[idx, "curve"] = df.loc[idx, "curve"] + " [" + sources.map(tags) + "]"
    return df


def distinct_tails(paths: Sequence[str]) -> dict[str, str]:
    """Each path's shortest ending (in whole path parts, file extension dropped) that no other
    path in ``paths`` shares: ``a/x/m.pt``, ``b/x/m.pt`` -> ``a/x/m``, ``b/x/m``."""
    split = {p: list(Path(p).with_suffix("").parts) for p in paths}
    longest = max((len(v) for v in split.values()), default=0)
    for k in range(1, longest + 1):
        tails = {p: "/".join(v[-k:]) for p, v in split.items()}
        if len(set(tails.values())) == len(tails):
            return tails
    return {p: p for p in paths}


def _trained_name(info: dict) -> str | None:
    """The name the weights were trained under: provenance ``name``, else the checkpoint's stem."""
    prov = info.get("provenance")
    if isinstance(prov, dict) and prov.get("name"):
        return str(prov["name"])
    src = info.get("source")
    return short_name(str(src)) if src else None


def _trained_as(info: dict) -> str | None:
    """The training stage in a checkpoint's provenance (``static``, ``supernet``, ``gate``)."""
    prov = info.get("provenance")
    return str(prov["stage"]) if isinstance(prov, dict) and prov.get("stage") else None


def metrics_meta(runs: Sequence[RunTables]) -> dict[str, dict]:
    """Union of the runs' ``metrics_meta`` (first run wins on a conflict)."""
    meta: dict[str, dict] = {}
    for run in runs:
        for k, v in (run.summary.get("metrics_meta") or {}).items():
            meta.setdefault(k, dict(v))
    return meta


def higher_is_better(metric: str, meta: dict[str, dict]) -> bool:
    """The direction of a column: the run's ``metrics_meta``, else the metric registry (raw
    ``macs`` is a cost)."""
    if metric in meta and "higher_is_better" in meta[metric]:
        return bool(meta[metric]["higher_is_better"])
    info = column_info(metric)
    return info.spec.higher_is_better if info is not None else metric != "macs"


def metric_label(metric: str, meta: dict[str, dict] | None = None, with_unit: bool = True) -> str:
    """An axis label: the registered label, with the unit (the run's ``metrics_meta`` unit
    first, else the registered one)."""
    info = column_info(metric)
    unit = meta[metric].get("unit") if meta and metric in meta else None
    if info is None:
        return metric if not with_unit or unit in (None, "", "1", "none") else f"{metric} ({unit})"
    if not with_unit:
        return info.label
    return info.label_with_unit(None if unit is None else str(unit))


def require_metric(df: pd.DataFrame, metric: str) -> None:
    if metric not in df.columns or not np.isfinite(pd.to_numeric(df[metric], errors="coerce")).any():
        have = sorted(c for c in df.columns if f"{c}_lo" in df.columns and c != "gmacs")
        raise UserError(f"metric {metric!r} is not in these runs (they have: {', '.join(have) or 'none'})")
