"""summary.json of a run (schema version 1, design section 7) and the final tables."""
from __future__ import annotations

import importlib.metadata as md
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import RunConfig
from .results import (SCHEMA_VERSION, PartStore, _op_key, json_safe, sort_segments, sort_utterances,
                      write_tables)

#: packages whose versions every summary records
VERSIONED = ["dsnbench", "torch", "numpy", "scipy", "pandas", "pesq", "pystoi", "fvcore", "soundfile"]
#: columns of utterances.parquet that are not metrics
NON_METRIC = {"model", "dataset", "operating_point", "utt_id", "duration_s", "macs", "gmacs_per_s",
              "mean_width", "permutation", "error"}


def bootstrap_mean(values: Any, seed: int = 0) -> dict[str, Any]:
    """``{"mean", "ci95"}`` of the finite values (seeded bootstrap; see metrics.stats.summarize)."""
    from .metrics.stats import summarize
    out = summarize(values, seed=seed)
    return {"mean": out["mean"], "ci95": out["ci95"]}


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    here = Path(__file__).resolve().parent.parent
    try:
        res = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if res.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return res.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def device_description() -> str:
    import torch
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def metrics_meta(metric_names: list[str]) -> dict[str, dict]:
    from .metrics import COST_SPECS, METRICS
    meta = {}
    for n in metric_names:
        s = METRICS.get(n)
        base = {"unit": s.unit, "higher_is_better": s.higher_is_better, "tolerance": s.tolerance}
        meta[n] = dict(base)
        if s.has_input:
            meta[f"{n}_input"] = dict(base)
            meta[f"{n}i"] = dict(base)
    for n, s in COST_SPECS.items():
        meta[n] = {"unit": s.unit, "higher_is_better": s.higher_is_better, "tolerance": s.tolerance}
    return meta


def _entry(cfg: RunConfig, model: str, dataset: str, op: float | None, sep: Any, n_total: int,
           utt: pd.DataFrame, seg: pd.DataFrame, metric_cols: list[str]) -> dict:
    failed: dict[str, int] = {}
    errors = utt["error"].fillna("")
    n_sep_failed = int(errors.str.contains(r"(?:^|; )(?:separate|data): ", regex=True).sum())
    if n_sep_failed:
        failed["separation"] = n_sep_failed
    metrics = {}
    for c in metric_cols:
        vals = utt[c].to_numpy(dtype=np.float64) if c in utt else np.full(len(utt), np.nan)
        n_nan = int(np.sum(~np.isfinite(vals)))
        if n_nan:
            failed[c] = n_nan
        metrics[c] = bootstrap_mean(vals, seed=cfg.seed)
    gm = bootstrap_mean(utt["gmacs_per_s"].to_numpy(dtype=np.float64), seed=cfg.seed)
    widths = seg["width"].to_numpy(dtype=np.float64) if len(seg) else np.zeros(0)
    widths = widths[np.isfinite(widths)]
    share = None
    if widths.size:
        vals, counts = np.unique(widths, return_counts=True)
        share = {f"{v:g}": float(c / widths.size) for v, c in zip(vals, counts)}
    try:
        params = int(sep.params())
    except Exception:  # a model that cannot count its parameters: recorded as unknown
        params = None
    return {
        "model": model, "dataset": dataset, "operating_point": op,
        "family": getattr(sep, "family", "other"),
        "model_info": _jsonable(sep.describe()),
        "n_utterances": {"total": n_total, "evaluated": int(len(utt) - n_sep_failed), "failed": failed},
        "metrics": metrics, "gmacs_per_s": gm, "params": params, "width_share": share,
    }


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def build_summary(cfg: RunConfig, created: str, manifests: dict, models: dict, plan: list,
                  store: PartStore) -> dict:
    # sorted first: the bootstrap resamples by position, so its interval must not depend on
    # the order in which chunks happened to be committed (resume, parallel engines)
    utt, seg = store.read()
    utt, seg = sort_utterances(utt), sort_segments(seg)
    metric_names = list(cfg.metrics) if cfg.metrics else _suite_names()
    metric_cols = [c for n in metric_names for c in _metric_columns(n)]
    entries = []
    for model, dataset, op in plan:
        opk = _op_key(op)
        mu = utt[(utt["model"] == model) & (utt["dataset"] == dataset) & _op_mask(utt, opk)]
        ms = seg[(seg["model"] == model) & (seg["dataset"] == dataset) & _op_mask(seg, opk)] if len(seg) else seg
        entries.append(_entry(cfg, model, dataset, opk, models[model][1], len(manifests[dataset]),
                              mu, ms, metric_cols))
    ch = cfg.hash()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": f"{created.replace(':', '').replace('-', '')[:15]}-{ch[:8]}",
        "created": created,
        "config": cfg.to_dict(),
        "config_hash": ch,
        "git_commit": git_commit(),
        "versions": versions(),
        "device": device_description(),
        "datasets": {name: {"manifest_hash": m.hash(), "n_utterances": len(m),
                            "sample_rate": m.sample_rate, "info": _jsonable(m.info),
                            "warnings": list(m.warnings)}
                     for name, m in manifests.items()},
        "metrics_meta": metrics_meta(metric_names),
        "metric_settings": {name: _jsonable(_suite_settings(cfg, m.sample_rate)) for name, m in manifests.items()},
        "entries": entries,
    }


def _suite_settings(cfg: RunConfig, sample_rate: int) -> dict:
    from .evaluate import make_suite
    return make_suite(cfg.metrics, sample_rate, cfg.pesq_mode).settings()


def _op_mask(df: pd.DataFrame, op: float | None) -> pd.Series:
    if op is None:
        return df["operating_point"].isna()
    return np.isclose(df["operating_point"].astype(float), op) & df["operating_point"].notna()


def _suite_names() -> list[str]:
    from .metrics import METRICS
    return METRICS.names()


def _metric_columns(name: str) -> list[str]:
    from .metrics import METRICS
    spec = METRICS.get(name)
    return [name, f"{name}_input", f"{name}i"] if spec.has_input else [name]


def finalize(out: Path, store: PartStore, summary: dict) -> None:
    """Merge the committed chunks into the final tables and write summary.json last."""
    utt, seg = store.read()
    write_tables(Path(out), utt, seg, json_safe(summary))
