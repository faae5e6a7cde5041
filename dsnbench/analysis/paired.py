"""A paired comparison of two models on the same utterances, from their run folders'
utterance tables (``dsnbench stats``): one metric, paired by utterance id."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..metrics.stats import paired_comparison
from ..results import ResultsError, read_run


def _pick(values: list, given: Any, what: str, path: Path) -> Any:
    if given is not None:
        if given not in values:
            raise UserError(f"{path}: no {what} {given!r} (it holds {', '.join(map(str, values)) or 'none'})")
        return given
    if len(values) == 1:
        return values[0]
    raise UserError(f"{path}: holds {len(values)} {what.split('-')[0]}s ({', '.join(map(str, values))}); "
                    f"choose one with --{what}")


def _select(tables: Any, path: Path, metric: str, model: str, dataset: str, op: float | None,
            flag: str):
    df = tables.utterances
    if metric not in df.columns:
        raise UserError(f"{path / 'utterances.parquet'}: no column {metric!r}")
    sel = df[(df["model"] == model) & (df["dataset"] == dataset)]
    ops = sorted({None if (isinstance(v, float) and math.isnan(v)) else float(v) for v in sel["operating_point"]},
                 key=lambda v: (v is not None, v if v is not None else 0.0))
    if op is None and len(ops) > 1:
        raise UserError(f"{path}: model {model!r} has {len(ops)} operating points "
                        f"({', '.join('none' if o is None else f'{o:g}' for o in ops)}); choose one with --op-{flag}")
    if op is not None:
        if op not in ops:
            raise UserError(f"{path}: model {model!r} has no operating point {op:g}")
        sel = sel[sel["operating_point"] == op]
    if sel["utt_id"].duplicated().any():
        raise UserError(f"{path}: utterance ids repeat for model {model!r} on {dataset!r}")
    return model, sel.set_index("utt_id")[metric]


def _manifest_hash(summary: dict, dataset: str) -> str | None:
    entry = (summary.get("datasets") or {}).get(dataset) or {}
    value = entry.get("manifest_hash") if isinstance(entry, dict) else None
    return str(value) if value else None


def compare_runs(run_a: Path, run_b: Path, metric: str = "si_snri", model_a: str | None = None,
                 model_b: str | None = None, dataset: str | None = None, op_a: float | None = None,
                 op_b: float | None = None, seed: int = 0, n_boot: int = 1000,
                 allow_different_audio: bool = False) -> dict[str, Any]:
    """The paired comparison as a dict (what ``--json`` prints). Raises UserError on bad input.

    Pairs are made by utterance id, so both runs must hold the same audio under those ids: the
    datasets' manifest hashes (summary.json) must be equal, else a UserError with exit code 3
    (a variant of a set, e.g. its 50 %-overlap version, keeps the ids and changes the audio),
    unless ``allow_different_audio``. A run whose summary records no manifest hash is paired."""
    try:
        ta, tb = read_run(run_a), read_run(run_b)
    except ResultsError as exc:
        raise UserError(str(exc)) from None
    ma = model_a if model_a is not None else _pick(sorted(ta.utterances["model"].unique().tolist()), None, "model-a", run_a)
    mb = model_b if model_b is not None else _pick(sorted(tb.utterances["model"].unique().tolist()), None, "model-b", run_b)
    for m, t, p in ((ma, ta, run_a), (mb, tb, run_b)):
        if m not in set(t.utterances["model"]):
            raise UserError(f"{p}: no model {m!r} (it holds {', '.join(sorted(t.utterances['model'].unique()))})")
    da = set(ta.utterances.loc[ta.utterances["model"] == ma, "dataset"])
    db = set(tb.utterances.loc[tb.utterances["model"] == mb, "dataset"])
    common = sorted(da & db)
    if not common:
        raise UserError(f"models {ma!r} and {mb!r} share no dataset ({sorted(da)} vs {sorted(db)})", 3)
    if dataset is None:
        if len(common) > 1:
            raise UserError(f"the runs share {len(common)} datasets ({', '.join(common)}); choose one with --dataset")
        dataset = common[0]
    elif dataset not in common:
        raise UserError(f"dataset {dataset!r} is not evaluated for both models (shared: {', '.join(common)})")
    ha, hb = _manifest_hash(ta.summary, dataset), _manifest_hash(tb.summary, dataset)
    if ha and hb and ha != hb and not allow_different_audio:
        raise UserError(f"not comparable: dataset {dataset!r} has different audio in the two runs (manifest hash "
                        f"{ha[:12]} in A, {hb[:12]} in B: another root, variant or version of the set), so "
                        "equal utterance ids are not the same mixtures; --allow-different-audio pairs them anyway", 3)
    _, sa = _select(ta, run_a, metric, ma, dataset, op_a, "a")
    _, sb = _select(tb, run_b, metric, mb, dataset, op_b, "b")
    ids_a, ids_b = set(sa.index), set(sb.index)
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b), sorted(ids_b - ids_a)

        def ex(ids: list) -> str:
            return f" (e.g. {', '.join(ids[:3])})" if ids else ""
        raise UserError(f"not comparable: the utterance sets differ on {dataset!r}: {len(only_a)} id(s) only in "
                        f"A{ex(only_a)}, {len(only_b)} only in B{ex(only_b)} ({len(ids_a & ids_b)} shared)", 3)
    ids = sorted(ids_a)
    res = paired_comparison(sa.loc[ids].to_numpy(dtype=float), sb.loc[ids].to_numpy(dtype=float),
                            seed=seed, n_boot=n_boot)
    return {"metric": metric, "dataset": dataset,
            "a": {"run": str(run_a), "model": ma, "operating_point": op_a},
            "b": {"run": str(run_b), "model": mb, "operating_point": op_b},
            "n_utterances": len(ids), **res}
