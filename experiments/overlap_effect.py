"""How a DSN's compute follows the speaker overlap (issue 24's target on the overlap variants).

    .venv/bin/python experiments/overlap_effect.py runs/overlap [MORE_RUNS ...] [--csv out.csv]

Reads a run of experiments/overlap-variants.yaml (datasets labelled ov100, ov50, ov25), or
several runs of parts of it (each model and set in one of them), or a run of other models on
the same sets (e.g. ``--allocation oracle`` on the supernet: the best the weights allow a
per-segment allocation to do). A model with several operating points is shown once per point
(``model@beta``). Per model and set: SI-SNRi, total GMAC/s, and the width-dependent GMAC/s (the intra-chunk layers
at the widths run, priced per segment from the model's MAC table: sum over segments of the
chunk cost at the segment's width, over the audio's duration); the rest is what does not
depend on the widths and grows with the length by itself. Per DSN: the change of both from
ov100 to ov25, and its SI-SNRi against the static curve at the same GMAC/s on the same set
(paired per utterance, the static curve interpolated between the two statics that bracket the
DSN's mean cost; outside their range it says so). Last, the mean width per segment category
(silence / one speaker / overlap) of every model that chooses its widths.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsnbench.complexity import build_mac_table  # noqa: E402
from dsnbench.results import read_run  # noqa: E402
from dsnbench.run.config import ModelSpec  # noqa: E402
from dsnbench.run.loading import load_model  # noqa: E402

SETS = ["ov100", "ov50", "ov25"]


def recorded_models(summary: dict) -> dict[str, ModelSpec]:
    """The run's own model specs by result name, so a labelled checkpoint path (e.g. the staged
    lineage's ``dsn-l1``) is priced from that file, not from a bundled model of the same name."""
    return {spec.result_name: spec for spec in (
        ModelSpec(name=m["name"], label=m.get("label"), options=tuple(sorted((m.get("options") or {}).items())))
        for m in summary["config"]["models"])}


def width_dependent_gmacs(table: Any, segments: pd.DataFrame, utterances: pd.DataFrame) -> pd.Series:
    """Per utterance: sum over its segments of the width-dependent chunk cost (from the model's
    MAC table) at the width run, in GMAC per second of audio."""
    costs = np.asarray(table.chunk_costs(), dtype=np.float64)
    values = list(table.width_values)
    idx = segments["width"].map(lambda w: min(range(len(values)), key=lambda i: abs(values[i] - w)))
    per_seg = pd.Series(costs[idx.to_numpy()], index=segments.index)
    total = per_seg.groupby(segments["utt_id"]).sum()
    dur = utterances.set_index("utt_id")["duration_s"]
    return (total / dur.reindex(total.index)) / 1e9


def paired_gap_to_statics(dsn: pd.DataFrame, statics: dict[float, pd.DataFrame], cost: float) -> tuple[float, float, float] | None:
    """Mean paired SI-SNRi difference of the DSN against the static curve at ``cost`` GMAC/s,
    with a seeded bootstrap 95 % interval; None outside the statics' range."""
    curve = sorted((float(df["gmacs_per_s"].mean()), w) for w, df in statics.items())
    costs = [c for c, _ in curve]
    if not costs[0] <= cost <= costs[-1]:
        return None
    j = max(0, min(len(curve) - 2, int(np.searchsorted(costs, cost)) - 1))
    (c0, w0), (c1, w1) = curve[j], curve[j + 1]
    t = 0.0 if c1 == c0 else (cost - c0) / (c1 - c0)
    a = statics[w0].set_index("utt_id")["si_snri"]
    b = statics[w1].set_index("utt_id")["si_snri"]
    ref = (1 - t) * a + t * b
    d = (dsn.set_index("utt_id")["si_snri"] - ref.reindex(dsn["utt_id"]).to_numpy()).dropna().to_numpy()
    rng = np.random.default_rng(0)
    boots = d[rng.integers(0, d.size, (2000, d.size))].mean(1)
    return float(d.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def entry_names(utt: pd.DataFrame) -> pd.DataFrame:
    """Adds ``entry``: the model's name, or ``model@beta`` for a model run at several operating
    points."""
    ops = utt.groupby("model")["operating_point"].nunique(dropna=False)
    several = set(ops[ops > 1].index)
    utt = utt.copy()
    utt["entry"] = [f"{m}@{op:g}" if m in several else m
                    for m, op in zip(utt["model"], utt["operating_point"])]
    return utt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="run folder(s), e.g. the statics and each gate run apart")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args(argv)
    runs = [read_run(r) for r in args.runs]
    seen: dict[tuple[str, str], Path] = {}
    for run in runs:
        for key in run.utterances[["model", "dataset"]].drop_duplicates().itertuples(index=False, name=None):
            key = (str(key[0]), str(key[1]))
            if key in seen:
                ap.error(f"{run.path}: {key[0]} on {key[1]} is also in {seen[key]}; give each entry once")
            seen[key] = run.path
    utt = entry_names(pd.concat([r.utterances for r in runs], ignore_index=True))
    seg = pd.concat([r.segments for r in runs], ignore_index=True)
    seg = seg.merge(utt[["model", "operating_point", "entry"]].drop_duplicates(), how="left",
                    on=["model", "operating_point"])
    specs = {name: spec for r in runs for name, spec in recorded_models(r.summary).items()}
    tables: dict[str, Any] = {}                 # one MAC table a model, whatever the sets
    rows = []
    for (entry, ds), g in utt.groupby(["entry", "dataset"]):
        if ds not in SETS:
            continue
        model = g["model"].iloc[0]
        s = seg[(seg["entry"] == entry) & (seg["dataset"] == ds)]
        if model not in tables:
            tables[model] = build_mac_table(load_model(specs.get(model, model)))
        wd = width_dependent_gmacs(tables[model], s, g)
        rows.append({"model": entry, "set": ds, "si_snri": g["si_snri"].mean(), "gmacs_per_s": g["gmacs_per_s"].mean(),
                     "width_gmacs_per_s": wd.mean(), "mean_width": g["mean_width"].mean(), "n": len(g)})
    table = pd.DataFrame(rows)
    print(table.pivot(index="model", columns="set", values=["gmacs_per_s", "width_gmacs_per_s", "si_snri"])
          .reindex(columns=SETS, level=1).round(3).to_string())
    print()
    for model in sorted(m for m in table["model"].unique() if not m.startswith(("static-", "oracle-"))):
        t = table[table["model"] == model].set_index("set")
        if not {"ov100", "ov25"} <= set(t.index):
            continue
        total = 100 * (t.loc["ov25", "gmacs_per_s"] / t.loc["ov100", "gmacs_per_s"] - 1)
        width = 100 * (t.loc["ov25", "width_gmacs_per_s"] / t.loc["ov100", "width_gmacs_per_s"] - 1)
        line = f"{model}: GMAC/s 25 % vs 100 % overlap {total:+.1f} % (width-dependent part {width:+.1f} %)"
        for ds in SETS:
            dsn = utt[(utt["entry"] == model) & (utt["dataset"] == ds)]
            statics = {float(m.split("-")[1]): utt[(utt["model"] == m) & (utt["dataset"] == ds)]
                       for m in utt["model"].unique() if m.startswith("static-")}
            if dsn.empty:
                line += f"; {ds}: not in these runs"
                continue
            if not statics:
                line += f"; {ds}: no static on this set in these runs"
                continue
            gap = paired_gap_to_statics(dsn, statics, float(dsn["gmacs_per_s"].mean()))
            line += f"; {ds}: " + ("outside the statics' range" if gap is None
                                   else f"{gap[0]:+.2f} dB [{gap[1]:+.2f}, {gap[2]:+.2f}] vs static at equal GMAC/s")
        print(line)
    chosen = seg[~seg["entry"].str.startswith(("static-", "oracle-")) & seg["dataset"].isin(SETS)]
    if len(chosen):
        print()
        print("mean width per segment category")
        print(chosen.pivot_table(index=["entry", "dataset"], columns="category", values="width", aggfunc="mean")
              .reindex(columns=["silence", "one", "overlap"])
              .reindex(SETS, level=1).round(2).to_string())
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
