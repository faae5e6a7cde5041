"""How much runs of one recipe differ on test data, and what is left of a width gap after it.

Reads a finished `dsnbench run` folder that holds several trainings of the same models with
different seeds (experiments/seed-study.yaml). Models are grouped by the name and seed in their
checkpoint provenance (so result labels do not matter); a group is one trained model name,
e.g. ``static-0.75``. Prints, per dataset:

- per group: the mean of the metric for every seed, the mean over seeds, the standard deviation
  across seeds and their range;
- between consecutive groups in order of width (``static_width`` of the config; ``--order``
  overrides): the paired comparison of the seed-averaged utterance values (every utterance's
  metric averaged over the seeds of each group, then ``dsnbench.metrics.stats.
  paired_comparison``: mean difference, 95 % bootstrap interval, p-values), and in how many of
  the seed pairs (one run of each) the wider group has the higher mean;
- how well validation foretells the test: the rank correlation (Spearman) between the
  validation SI-SNRi in each checkpoint's provenance and its test mean, over all runs, and in
  how many groups the seed with the best validation (the one experiments/train/pick_seed.py
  bundles; ties to the lower seed) is also the best on the test set.

    .venv/bin/python experiments/train/seed_spread.py runs/seed-study [--metric si_snri] [--csv F]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dsnbench.metrics.stats import paired_comparison
from dsnbench.results import ResultsError, read_run


def runs_of(summary: dict) -> pd.DataFrame:
    """One row per result model: its group (provenance name), seed and width."""
    rows = {}
    for e in summary["entries"]:
        info = e.get("model_info") or {}
        prov = info.get("provenance") or {}
        if "name" not in prov or "seed" not in prov:
            raise ResultsError(f"model {e['model']!r}: no training provenance (name, seed) to group it by")
        width = (info.get("config") or {}).get("static_width")
        val = prov.get("val_si_snri")
        rows[e["model"]] = {"model": e["model"], "group": prov["name"], "seed": int(prov["seed"]),
                            "width": np.nan if width is None else float(width),
                            "val": np.nan if val is None else float(val)}
    table = pd.DataFrame(list(rows.values()))
    dup = table[table.duplicated(["group", "seed"], keep=False)]
    if len(dup):
        raise ResultsError(f"models {', '.join(dup['model'])} are the same training ({dup.iloc[0]['group']}, "
                           f"seed {dup.iloc[0]['seed']})")
    return table


def per_seed(utt: pd.DataFrame, runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per (dataset, group, seed) over the utterances."""
    d = utt.merge(runs, on="model")
    return (d.groupby(["dataset", "group", "seed"], sort=True)[metric].mean()
            .rename("mean").reset_index())


def spread(means: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per (dataset, group): seeds, mean over seeds, sd across seeds (ddof 1), range."""
    g = means.groupby(["dataset", "group"])["mean"]
    out = pd.DataFrame({"n_seeds": g.size(), "mean": g.mean(), "sd": g.std(ddof=1),
                        "range": g.max() - g.min()}).reset_index()
    out["group"] = pd.Categorical(out["group"], categories=order, ordered=True)
    return out.sort_values(["dataset", "group"]).reset_index(drop=True)


def gaps(utt: pd.DataFrame, runs: pd.DataFrame, means: pd.DataFrame, metric: str, order: list[str],
         seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Consecutive groups compared on seed-averaged utterance values, plus seed-pair wins."""
    d = utt.merge(runs, on="model")
    avg = d.groupby(["dataset", "group", "utt_id"], sort=True)[metric].mean()
    rows = []
    for ds in sorted(d["dataset"].unique()):
        present = [g for g in order if (ds, g) in avg.index.droplevel("utt_id")]
        for a, b in zip(present, present[1:]):
            va, vb = avg.loc[(ds, a)], avg.loc[(ds, b)]
            ids = va.index.intersection(vb.index)
            res = paired_comparison(va.loc[ids].to_numpy(), vb.loc[ids].to_numpy(), seed=seed, n_boot=n_boot)
            ma = means[(means.dataset == ds) & (means.group == a)]["mean"].to_numpy()
            mb = means[(means.dataset == ds) & (means.group == b)]["mean"].to_numpy()
            wins = int((mb[:, None] > ma[None, :]).sum())
            rows.append({"dataset": ds, "a": a, "b": b, "n": res["n"], "diff_b_minus_a": res["mean_diff"],
                         "ci95_lo": res["ci95"][0], "ci95_hi": res["ci95"][1], "p_wilcoxon": res["p_wilcoxon"],
                         "seed_pairs_b_higher": f"{wins}/{ma.size * mb.size}"})
    return pd.DataFrame(rows)


def validation_agreement(means: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: Spearman's rho between validation and test mean over the runs that have a
    validation value, and in how many groups (of those with 2+ such seeds) the best-validation
    seed (ties: the lower seed) is the best-test seed."""
    d = means.merge(runs[["group", "seed", "val"]], on=["group", "seed"]).dropna(subset=["val"])
    rows = []
    for ds, part in d.groupby("dataset", sort=True):
        rho = part["val"].rank().corr(part["mean"].rank()) if len(part) > 2 else np.nan
        hits = total = 0
        for _, grp in part.groupby("group"):
            if len(grp) < 2:
                continue
            total += 1
            by_val = grp.sort_values(["val", "seed"], ascending=[False, True]).iloc[0]["seed"]
            hits += int(by_val == grp.loc[grp["mean"].idxmax(), "seed"])
        rows.append({"dataset": ds, "n_runs": len(part), "spearman_val_test": rho,
                     "val_pick_is_test_best": f"{hits}/{total}"})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a dsnbench run folder with several seeds per model")
    ap.add_argument("--metric", default="si_snri", help="a column of utterances.parquet (default si_snri)")
    ap.add_argument("--order", nargs="+", default=None, help="groups in the order to compare (default: by width)")
    ap.add_argument("--csv", type=Path, default=None, help="also write the per-seed means here")
    args = ap.parse_args(argv)
    try:
        tables = read_run(args.run)
        runs = runs_of(tables.summary)
        if args.metric not in tables.utterances.columns:
            raise ResultsError(f"{args.run / 'utterances.parquet'}: no column {args.metric!r}")
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    order = args.order or (runs.groupby("group")["width"].first().sort_values(kind="stable").index.tolist())
    unknown = sorted(set(order) - set(runs["group"]))
    if unknown:
        print(f"error: --order names groups the run does not hold: {', '.join(unknown)}", file=sys.stderr)
        return 2
    utt = tables.utterances[tables.utterances["model"].isin(runs["model"])]
    means = per_seed(utt, runs, args.metric)
    pd.set_option("display.width", 200)
    print(f"{args.metric}: mean per seed\n")
    print(means.pivot_table(index=["dataset", "group"], columns="seed", values="mean", sort=False)
          .reindex(order, level="group").round(3).to_string())
    print("\nspread across seeds\n")
    print(spread(means, order).round(3).to_string(index=False))
    print("\nconsecutive groups, seed-averaged per utterance (b - a)\n")
    print(gaps(utt, runs, means, args.metric, order).round(4).to_string(index=False))
    agree = validation_agreement(means, runs)
    if len(agree):
        print(f"\nvalidation SI-SNRi (provenance) against the test {args.metric}\n")
        print(agree.round(3).to_string(index=False))
    if args.csv is not None:
        means.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
