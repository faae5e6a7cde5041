"""Oracle allocation (dsnbench/run/allocation.py) and ``dsnbench run --allocation oracle``."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dsnbench.cli import main
from dsnbench.run.allocation import allocate, segment_errors


def test_allocate_picks_per_segment_the_cheapest_best_width():
    errors = np.array([[-10.0, -12.0, -12.5],
                       [-20.0, -20.0, -20.0],
                       [-5.0, -15.0, -30.0]])
    cost = [0.25, 0.5, 1.0]
    assert allocate(errors, cost, 0.0).tolist() == [2, 0, 2]   # ties go to the narrower width
    assert allocate(errors, cost, 4.0).tolist() == [1, 0, 2]   # -12+2=-10 beats -12.5+4=-8.5 and -10+1=-9
    assert allocate(errors, cost, 100.0).tolist() == [0, 0, 0]


def test_segment_errors_follow_si_snr_alignment():
    rng = np.random.default_rng(0)
    refs = rng.normal(size=(2, 800))
    ests = 3.0 * refs[::-1].copy() + 0.5   # swapped, scaled and offset: SI-SNR sees no error
    clean = segment_errors(refs, ests, length=200, hop=100, n_segments=8)
    assert np.all(clean <= -99.0)
    noisy = ests.copy()
    noisy[:, 450:550] += rng.normal(size=(2, 100))   # damage inside segments 3 and 4 (and 5's start)
    err = segment_errors(refs, noisy, length=200, hop=100, n_segments=8)
    # the global gain moves a little, so clean segments get a small error; the damaged ones stand out
    damaged, intact = err[[3, 4, 5]], err[[0, 1, 2, 6, 7]]
    assert damaged.min() > intact.max() + 10.0


def test_allocation_options_are_checked(tmp_path, capsys):
    assert main(["run", "--model", "dsn-l1", "--mu", "0", "1", "--out", str(tmp_path / "a")]) == 2
    assert "--mu needs --allocation oracle" in capsys.readouterr().err
    assert main(["run", "--allocation", "oracle", "--out", str(tmp_path / "b")]) == 2
    assert "--allocation needs --model" in capsys.readouterr().err
    assert main(["run", "--model", "static-0.5", "--allocation", "oracle", "--dataset", "mini-2mix",
                 "--limit", "1", "--out", str(tmp_path / "c"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "one width" in err and len(err.strip().splitlines()) == 1


def test_oracle_curve_is_never_below_the_best_fixed_width_on_a_real_mini_run(tmp_path, capsys):
    """The bundled dsn-l1 on two real mini-2mix utterances: its weights at each fixed width and
    its oracle allocation at three multipliers, in one run folder (family oracle-allocation)."""
    exp = tmp_path / "oracle.yaml"
    widths = [0.25, 0.5, 0.75, 1.0]
    exp.write_text("models:\n" + "".join(f"  - {{name: dsn-l1, width: {w}, label: w{w}}}\n" for w in widths)
                   + "  - {name: dsn-l1, operating_points: [0.0]}\n"
                   + "  - {name: dsn-l1, allocation: oracle, operating_points: [0.0, 1.0, 2.0]}\n"
                   + "datasets: [mini-2mix]\nmetrics: [si_snr]\nlimit: 2\nworkers: 1\n")
    out = tmp_path / "run"
    assert main(["run", str(exp), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = pd.DataFrame([{"model": e["model"], "family": e["family"], "op": e["operating_point"],
                          "gmacs": e["gmacs_per_s"]["mean"], "q": e["metrics"]["si_snri"]["mean"]}
                         for e in summary["entries"]])
    fixed = rows[rows["family"] == "slim"]
    oracle = rows[rows["family"] == "oracle-allocation"]
    assert len(fixed) == 4 and len(oracle) == 3 and set(oracle["model"]) == {"dsn-l1+oracle"}
    for _, o in oracle.iterrows():
        affordable = fixed[fixed["gmacs"] <= o["gmacs"]]
        assert len(affordable), f"mu={o['op']}: cheaper than every fixed width"
        assert o["q"] >= affordable["q"].max(), f"mu={o['op']}: below the best fixed width at its compute"
    # its segments are the forced widths, priced by the same MAC table as the fixed widths
    seg = pd.read_parquet(out / "segments.parquet")
    mine = seg[seg["model"] == "dsn-l1+oracle"]
    assert mine.groupby("operating_point")["width"].nunique().max() > 1
    assert (oracle.sort_values("op")["gmacs"].diff().dropna() <= 0).all()  # a larger mu is never costlier
    # the gate against its own oracle, paired, in table --gaps
    capsys.readouterr()
    assert main(["table", str(out), "--gaps", "--metrics", "si_snri"]) == 0
    text = capsys.readouterr().out
    block = text.split("Each DSN point against the oracle allocation of its own weights")[1]
    assert "| DSN λ=1 β=0 |" in block and "| 95 % CI |" in block and "oracle μ=0 (dsn-l1)" in text
    # the gate against the oracle per segment category, in the gates figures
    from dsnbench.analysis.figures import gate_figures
    from dsnbench.results import read_run
    figs = gate_figures(read_run(out), model="dsn-l1", operating_point=0.0, n_utterances=0)
    assert any(name.startswith("gates-agreement-dsn-l1") for name in figs)
    # ... and in the report: the gate's headroom and its agreement with the oracle
    from dsnbench.analysis.report import build_report
    page = build_report([read_run(out)], n_gate_utterances=0)
    assert "Each DSN point against the oracle allocation of its own weights" in page
    assert "Gate against the oracle allocation: dsn-l1" in page
