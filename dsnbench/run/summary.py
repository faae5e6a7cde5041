"""summary.json of a run (schema version 1, design section 7) and the final tables.

:func:`build_summary` is a run's summary; :func:`entry_summary` (one entry from its rows) and
:func:`summary_document` (the document around the entries) are its parts, which anything else
that writes a run folder (the synthetic demo run of :mod:`dsnbench.analysis.demo`) uses too.
"""
from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import COSTS, METRICS, distributions
from ..metrics.cache import versions as installed_versions
from ..metrics.stats import summarize
from ..metrics.tradeoff import OutsideRange, paired_gap
from ..metrics.suite import make_suite
from ..results import SCHEMA_VERSION, EntryKey, PartStore, json_safe, sort_segments, sort_utterances, write_tables
from .config import RunConfig

#: packages whose versions every summary records, besides the metrics' libraries
VERSIONED_BEFORE = ["dsnbench", "torch", "numpy", "scipy", "pandas"]
VERSIONED_AFTER = ["fvcore", "soundfile"]


def bootstrap_mean(values: Any, seed: int = 0) -> dict[str, Any]:
    """``{"mean", "ci95"}`` of the finite values (seeded bootstrap; see metrics.stats.summarize)."""
    out = summarize(values, seed=seed)
    return {"mean": out["mean"], "ci95": out["ci95"]}


def versions() -> dict[str, str]:
    """Versions of dsnbench, torch, the array and table libraries and every metric's libraries."""
    names = VERSIONED_BEFORE + distributions() + VERSIONED_AFTER
    return installed_versions(dict.fromkeys(names))


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


def device_description(device: str = "cpu") -> str:
    """The device inference ran on, with its name (``cuda:0: NVIDIA H200``, ``cpu: x86_64``)."""
    import torch
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.split(":")[1]) if ":" in device else 0
        return f"cuda:{index}: {torch.cuda.get_device_name(index)}"
    return f"cpu: {platform.processor() or platform.machine()}"


def inference_record(cfg: RunConfig) -> dict:
    """How inference ran (summary.json ``inference``): device, precision, batch size. The
    precision is also in the config hash, so compare refuses runs of different precisions."""
    return {"device": device_description(cfg.device), "precision": cfg.precision, "batch_size": cfg.batch_size}


def metrics_meta(metric_names: Iterable[str]) -> dict[str, dict]:
    """``metrics_meta`` of a summary: each metric column's unit, direction and tolerance, from
    the registrations (every cost column too)."""
    meta = {}
    for n in metric_names:
        s = METRICS.get(n)
        for c in s.columns():
            meta[c] = s.meta()
    for n in COSTS.in_order():
        meta[n] = COSTS.get(n).meta()
    return meta


def entry_summary(key: EntryKey, utt: pd.DataFrame, seg: pd.DataFrame, metric_cols: Sequence[str], *,
                  n_total: int, seed: int = 0, family: str = "other", model_info: Any = None,
                  params: int | None = None) -> dict:
    """One entry of ``summary.json`` from its utterance and segment rows: utterance counts and
    failures, the mean and bootstrap interval of every metric column and of GMAC/s, and the
    share of segments run at each width."""
    failed: dict[str, int] = {}
    errors = utt["error"].fillna("")
    n_sep_failed = int(errors.str.contains(r"(?:^|; )(?:separate|data): ", regex=True).sum())
    if n_sep_failed:
        failed["separation"] = n_sep_failed
    n_macs_unknown = int(errors.str.contains(r"(?:^|; )macs: ", regex=True).sum())
    if n_macs_unknown:
        failed["macs"] = n_macs_unknown
    metrics = {}
    for c in metric_cols:
        vals = utt[c].to_numpy(dtype=np.float64) if c in utt else np.full(len(utt), np.nan)
        n_nan = int(np.sum(~np.isfinite(vals)))
        if n_nan:
            failed[c] = n_nan
        metrics[c] = bootstrap_mean(vals, seed=seed)
    gm = bootstrap_mean(utt["gmacs_per_s"].to_numpy(dtype=np.float64), seed=seed)
    widths = seg["width"].to_numpy(dtype=np.float64) if len(seg) else np.zeros(0)
    widths = widths[np.isfinite(widths)]
    share = None
    if widths.size:
        vals, counts = np.unique(widths, return_counts=True)
        share = {f"{v:g}": float(c / widths.size) for v, c in zip(vals, counts)}
    return {
        "model": key.model, "dataset": key.dataset, "operating_point": key.operating_point,
        "family": family,
        "model_info": jsonable(model_info),
        "n_utterances": {"total": n_total, "evaluated": int(len(utt) - n_sep_failed), "failed": failed},
        "metrics": metrics, "gmacs_per_s": gm, "params": params, "width_share": share,
    }


def jsonable(x: Any) -> Any:
    """``x`` as plain JSON types (anything else as its string)."""
    return json.loads(json.dumps(x, default=str))


def summary_document(*, created: str, run_id: str, config: Mapping, config_hash: str, datasets: Mapping,
                     metric_names: Iterable[str], metric_settings: Mapping, entries: list[dict],
                     git_commit: str, versions: Mapping, device: str, **extra: Any) -> dict:
    """A ``summary.json`` (schema version 1) around its entries; ``extra`` keys go after
    ``created`` (e.g. the demo run's ``synthetic`` flag) and ``metrics_meta`` comes from the
    metric registry."""
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "created": created, **extra,
            "config": dict(config), "config_hash": config_hash, "git_commit": git_commit,
            "versions": dict(versions), "device": device, "datasets": dict(datasets),
            "metrics_meta": metrics_meta(metric_names), "metric_settings": dict(metric_settings),
            "entries": entries}


def _params(sep: Any) -> int | None:
    try:
        return int(sep.params())
    except Exception:  # a model that cannot count its parameters: recorded as unknown
        return None


def build_summary(cfg: RunConfig, created: str, plan: Any, store: PartStore) -> dict:
    """The summary of a run of ``cfg`` (a :class:`dsnbench.run.plan.Plan`) from its committed rows."""
    # sorted first: the bootstrap resamples by position, so its interval must not depend on
    # the order in which chunks happened to be committed (resume, parallel engines)
    utt, seg = store.read()
    utt, seg = sort_utterances(utt), sort_segments(seg)
    metric_names = list(cfg.metrics) if cfg.metrics else METRICS.names()
    metric_cols = [c for n in metric_names for c in METRICS.get(n).columns()]
    entries = []
    for key in plan.keys:
        sep = plan.separator(key)
        entries.append(entry_summary(key, key.rows(utt), key.rows(seg), metric_cols,
                                     n_total=len(plan.manifests[key.dataset]), seed=cfg.seed,
                                     family=getattr(sep, "family", "other"), model_info=sep.describe(),
                                     params=_params(sep)))
    ch = cfg.hash()
    gaps = paired_gaps(entries, utt, seed=cfg.seed)
    doc = summary_document(
        created=created, run_id=f"{created.replace(':', '').replace('-', '')[:15]}-{ch[:8]}",
        config=cfg.to_dict(), config_hash=ch, git_commit=git_commit(), versions=versions(),
        device=device_description(cfg.device), inference=inference_record(cfg),
        datasets={name: {"manifest_hash": m.hash(), "n_utterances": len(m), "sample_rate": m.sample_rate,
                         "info": jsonable(m.info), "warnings": list(m.warnings)}
                  for name, m in plan.manifests.items()},
        metric_names=metric_names,
        metric_settings={name: jsonable(make_suite(cfg.metrics, m.sample_rate, cfg.pesq_mode).settings())
                         for name, m in plan.manifests.items()},
        entries=entries)
    if gaps:
        doc["paired_gaps"] = gaps
    return doc


#: the metric summary.json's paired gaps are computed on
GAP_METRIC = "si_snri"


def paired_gaps(entries: Sequence[dict], utt: pd.DataFrame, metric: str = GAP_METRIC, seed: int = 0,
                n_boot: int = 1000) -> list[dict]:
    """summary.json ``paired_gaps``: per dataset, every entry that is neither a static network
    nor an oracle anchor against the static networks' curve at its own mean GMAC/s, paired over
    utterances (:func:`dsnbench.metrics.tradeoff.paired_gap`): ``gap`` (positive = above the
    curve), ``ci95``, ``p_wilcoxon``, ``p_ttest``, ``n``; a point outside the static range has
    ``gap`` null and ``outside`` saying why. Empty when no dataset has two static networks
    or the metric was not computed."""
    if metric not in utt.columns:
        return []
    values = {}
    for e in entries:
        rows = EntryKey.of(e["model"], e["dataset"], e["operating_point"]).rows(utt)
        values[id(e)] = pd.Series(rows[metric].to_numpy(dtype=np.float64), index=rows["utt_id"].astype(str).to_numpy())
    cost = lambda e: float((e.get("gmacs_per_s") or {}).get("mean", np.nan))  # noqa: E731
    out = []
    for dataset in sorted({e["dataset"] for e in entries}):
        mine = [e for e in entries if e["dataset"] == dataset and np.isfinite(cost(e))]
        refs = [e for e in mine if e.get("family") == "static"]
        if len(refs) < 2:
            continue
        for e in mine:
            if e.get("family") in ("static", "oracle"):
                continue
            ids = values[id(e)].index
            rec = {"model": e["model"], "dataset": dataset, "operating_point": e["operating_point"],
                   "family": e.get("family"), "reference": "static", "metric": metric, "gmacs_per_s": cost(e)}
            try:
                res = paired_gap(values[id(e)].to_numpy(), cost(e), [cost(r) for r in refs],
                                 np.stack([values[id(r)].reindex(ids).to_numpy(dtype=np.float64) for r in refs]),
                                 seed=seed, n_boot=n_boot)
            except OutsideRange as exc:
                out.append({**rec, "gap": None, "ci95": None, "p_wilcoxon": None, "p_ttest": None, "n": 0,
                            "outside": str(exc)})
                continue
            out.append({**rec, "gap": res["gap"], "ci95": res["ci95"], "p_wilcoxon": res["p_wilcoxon"],
                        "p_ttest": res["p_ttest"], "n": res["n"], "n_dropped": res["n_dropped"], "outside": None})
    return out


def finalize(out: Path, store: PartStore, summary: dict) -> None:
    """Merge the committed chunks into the final tables and write summary.json last."""
    utt, seg = store.read()
    write_tables(Path(out), utt, seg, json_safe(summary))


def entries_with_no_result(summary: Mapping, out: str | Path) -> str | None:
    """One line naming the entries of which no utterance could be separated, with the first
    error of the first such entry (from ``out/utterances.parquet``); None when every entry has a
    result. A run that ends so evaluated nothing there: the command exits non-zero with it."""
    empty = [e for e in summary.get("entries", [])
             if e["n_utterances"]["total"] and not e["n_utterances"]["evaluated"]]
    if not empty:
        return None
    first = empty[0]
    reason = ""
    try:
        from ..results import read_parquet
        utt = read_parquet(Path(out) / "utterances.parquet", columns=["model", "dataset", "operating_point", "error"])
        rows = utt[(utt["model"] == first["model"]) & (utt["dataset"] == first["dataset"]) & (utt["error"] != "")]
        if len(rows):
            reason = f"; first error: {rows['error'].iloc[0]}"
    except Exception:  # the line still says what failed without the reason
        pass
    names = ", ".join(f"{e['model']} on {e['dataset']}" for e in empty[:3]) + (" ..." if len(empty) > 3 else "")
    total = len(summary["entries"])
    return (f"{len(empty)} of {total} entr{'y' if total == 1 else 'ies'} separated no utterance "
            f"({names}){reason}")
