"""Figures from run folders (dsnbench/analysis/figures.py) and ``dsnbench plot``: every kind from
the synthetic demo run (every family, DSN traces and variant sets), from a real oracle run and
from a real run of untrained checkpoints of every family."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from dsnbench.analysis import collect, gates, pareto
from dsnbench.cli import main
from dsnbench.results import read_run
from dsnbench.run.folder import table_columns

UTTERANCE_COLUMNS = table_columns()


# -- figures, CLI, report ---------------------------------------------------------------

def _pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


def test_plot_pareto_cli(demo_run, tmp_path):
    assert main(["plot", "pareto", str(demo_run), "--out", str(tmp_path), "--dataset", "demo-2mix-ov100"]) == 0
    assert _pngs(tmp_path) == ["pareto-si_snri-demo-2mix-ov100.png"]
    assert (tmp_path / "pareto-si_snri-demo-2mix-ov100.pdf").read_bytes()[:4] == b"%PDF"


def test_plot_gates_cli_with_and_without_audio(demo_run, demo, tmp_path):
    uid = sorted(set(demo.segments["utt_id"]))[0]
    assert main(["plot", "gates", str(demo_run), "--utt", uid, "--out", str(tmp_path / "a")]) == 0
    names = _pngs(tmp_path / "a")
    assert len(names) == 3 and any(n.startswith("gates-timeline") for n in names)
    # audio not reachable: the figure is still drawn and says why
    from dsnbench.analysis.figures import gate_figures
    figs = gate_figures(demo, utt_ids=[uid], audio_root=tmp_path / "missing")
    fig = figs[next(k for k in figs if k.startswith("gates-timeline"))]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("waveform not available") for t in texts)
    figs2 = gate_figures(demo, utt_ids=[uid])
    fig2 = figs2[next(k for k in figs2 if k.startswith("gates-timeline"))]
    assert len(fig2.axes) == 5  # mixture, two sources, width, segment SI-SNR
    assert main(["plot", "gates", str(demo_run), "--utt", "nope", "--out", str(tmp_path / "b")]) == 2


def test_plot_overlap_cli(demo_run, tmp_path):
    assert main(["plot", "overlap", str(demo_run), "--out", str(tmp_path)]) == 0
    assert _pngs(tmp_path) == ["overlap-noise-si_snri.png"]


def test_bad_run_folder_is_one_line_error(tmp_path, capsys):
    assert main(["table", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "summary.json" in err


# -- a real run of the run loop ----------------------------------------------------------


def test_analysis_of_a_real_oracle_run(oracle_run, tmp_path, capsys):
    run = read_run(oracle_run)
    e = collect.entries_frame([run])
    assert set(e["family"]) == {"oracle"}
    assert main(["table", str(oracle_run)]) == 0
    md = capsys.readouterr().out
    assert "| oracle-irm |" in md and "| oracle-mixture |" in md
    assert main(["plot", "pareto", str(oracle_run), "--out", str(tmp_path / "f")]) == 0
    assert len(_pngs(tmp_path / "f")) == 1
    # no dynamic entries: a clear one-line error, and the report says so instead of failing
    assert main(["plot", "gates", str(oracle_run), "--out", str(tmp_path / "g")]) == 2
    assert main(["report", str(oracle_run), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "no gate decisions to show" in html and run.summary["datasets"]["wsj0-2mix"]["manifest_hash"] in html


def test_unknown_metric_is_a_one_line_error(oracle_run, tmp_path, capsys):
    assert main(["plot", "pareto", str(oracle_run), "--metric", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metric 'nope' is not in these runs" in err and "si_snri" in err


def test_waveforms_found_through_the_run_config(oracle_run):
    from dsnbench.analysis.audio import UtteranceAudio, find_audio
    run = read_run(oracle_run)
    uid = run.utterances["utt_id"].iloc[0]
    audio = find_audio(run.summary, "wsj0-2mix", uid)
    assert isinstance(audio, UtteranceAudio) and audio.sources.shape[0] == 2
    assert isinstance(find_audio(run.summary, "wsj0-2mix", uid, root="/nonexistent"), str)


def test_analysis_of_a_real_dsn_run(dsn_run, tmp_path, capsys):
    run = read_run(dsn_run)
    e = collect.entries_frame([run])
    assert sorted(e["label"]) == ["DSN λ=0.1 β=0", "DSN λ=0.1 β=2", "slim w=0.5", "static w=0.25", "static w=1"]
    assert set(e["curve"]) == {"dsn λ=0.1", "static", "slim"}
    assert main(["table", str(dsn_run)]) == 0
    assert "| DSN λ=0.1 β=2 |" in capsys.readouterr().out
    assert main(["plot", "pareto", str(dsn_run), "--out", str(tmp_path)]) == 0
    assert main(["plot", "gates", str(dsn_run), "--out", str(tmp_path)]) == 0
    names = _pngs(tmp_path)
    assert "gates-share-dsn-l0.1-b0-wsj0-2mix.png" in names
    assert sum(n.startswith("gates-timeline-dsn-l0.1-b0-wsj0-2mix-") for n in names) == 2
    # the waveforms were found through the run's own config (checkpoint models, no hints)
    from dsnbench.analysis.figures import gate_figures
    figs = gate_figures(run, n_utterances=1)
    fig = figs[next(k for k in figs if k.startswith("gates-timeline"))]
    assert not any(t.get_text().startswith("waveform not available") for ax in fig.axes for t in ax.texts)
    share = gates.width_share_by_category(gates.select_entry(run.segments, e["model"].iloc[0], 0.0))
    assert share["n"].sum() == len(gates.select_entry(run.segments, e["model"].iloc[0], 0.0).dropna(subset=["width"]))


def test_a_dsn_against_its_own_weights_at_fixed_widths(tmp_path, wsj0_root, capsys):
    """A DSN checkpoint run at fixed widths is its own curve ('slim (dsn-l0.1)'), never part of
    the supernet's slim curve; --reference own places each DSN point against exactly those
    entries; two models that would share a label are told apart by their model names."""
    torch = pytest.importorskip("torch")
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    prov = {"training_config": {}, "data": "untrained: random init, for analysis tests", "steps": 0,
            "val_si_snr": None, "val_si_snri": None}
    cfg = DSNConfig.preset("tiny")
    torch.manual_seed(1)
    dsn_model = DualPathDSN(cfg).eval()
    with torch.no_grad():  # the gate picks different widths for different chunks
        dsn_model.gate.logits.weight.mul_(20)
    dsn = save_checkpoint(tmp_path / "dsn-l0.1.safetensors", dsn_model, "dsn", dict(prov, stage="gate"),
                          operating_points=[0.0])
    torch.manual_seed(2)
    sup = save_checkpoint(tmp_path / "supernet.safetensors", DualPathDSN(cfg).eval(), "supernet",
                          dict(prov, stage="supernet"))
    stat = [save_checkpoint(tmp_path / f"r{k}" / "static-0.5.safetensors", DualPathDSN(cfg.static_at(0.5)).eval(),
                            "static", dict(prov, stage="static")) for k in (1, 2)]
    doc = {"models": [str(dsn)]
           + [{"name": str(dsn), "width": w, "label": f"own-{w}"} for w in (0.25, 0.5, 1.0)]
           + [{"name": str(sup), "width": w, "label": f"slim-{w}"} for w in (0.25, 1.0)]
           + [{"name": str(p), "label": f"static-0.5-r{k}"} for k, p in enumerate(stat, 1)],
           "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}], "metrics": ["si_snr"], "workers": 1,
           "limit": 2}
    run_experiment(build_config(doc), tmp_path / "run", progress=False)
    e = collect.entries_frame([read_run(tmp_path / "run")]).set_index("model")
    assert e.loc["own-0.25", "curve"] == "slim (dsn-l0.1)" and e.loc["own-0.25", "label"] == "slim w=0.25 (dsn-l0.1)"
    assert e.loc["slim-0.25", "curve"] == "slim" and e.loc["slim-0.25", "label"] == "slim w=0.25"
    assert e.loc["static-0.5-r1", "label"] == "static w=0.5 [static-0.5-r1]"
    assert e["label"].is_unique
    e = e.reset_index()
    own = pareto.point_gaps(e, "si_snri", reference="own")
    assert own["label"].tolist() == ["DSN λ=0.1 β=0"] and own["reference"].item() == "slim (dsn-l0.1)"
    mine = e[e["curve"] == "slim (dsn-l0.1)"]
    rc, rq = pareto.front(mine["gmacs"].to_numpy(float), mine["si_snri"].to_numpy(float))
    c = e.loc[e["family"] == "dsn", "gmacs"].item()
    want = np.interp(c, rc, rq) if rc[0] <= c <= rc[-1] else math.nan
    assert own["reference_at_cost"].item() == pytest.approx(want, nan_ok=True)
    # the slim reference is the supernet's curve only: the DSN's own fixed widths are points on it
    sl = pareto.point_gaps(e, "si_snri", reference="slim")
    sup_pts = e[e["curve"] == "slim"]
    rc, rq = pareto.front(sup_pts["gmacs"].to_numpy(float), sup_pts["si_snri"].to_numpy(float))
    row = sl[sl["label"] == "slim w=0.5 (dsn-l0.1)"]
    c = e.loc[e["model"] == "own-0.5", "gmacs"].item()
    assert row["reference"].item() == "slim"
    assert row["reference_at_cost"].item() == pytest.approx(
        np.interp(c, rc, rq) if rc[0] <= c <= rc[-1] else math.nan, nan_ok=True)
    assert main(["table", str(tmp_path / "run"), "--metrics", "si_snri", "--gaps", "--reference", "own"]) == 0
    assert "against the slim (dsn-l0.1) curve" in capsys.readouterr().out


def test_pareto_gap_box_shows_paired_intervals_and_marks_not_significant(demo):
    from dsnbench.analysis.figures import pareto_figures
    fig = pareto_figures([demo], datasets=["demo-2mix-ov100"])["pareto-si_snri-demo-2mix-ov100"]
    box = next(t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("Mean gap at equal compute"))
    e = collect.entries_frame([demo])
    e = e[e["dataset"] == "demo-2mix-ov100"]
    table = pareto.gap_table(e, values=pareto.utterance_values([demo], "si_snri")).set_index("curve")
    for curve, r in table.iterrows():
        line = next(ln for ln in box.splitlines() if f"{r['mean_gap']:+.2f} dB [{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}]" in ln)
        assert line.endswith("GMAC/s)") and (" n.s. " in line) == (not r["significant"])
    assert "paired over utterances" in box
    assert any(c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection") for c in fig.axes[0].collections)


def test_labels_of_the_default_pareto_figures_overlap_no_label_and_no_marker():
    """The committed baseline is the default run: its operating-point labels (β=, w=, μ=), as
    text bounding boxes, overlap neither each other nor any marker; the oracle anchors that
    would flatten the cluster are named off scale instead."""
    import itertools
    from pathlib import Path

    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from dsnbench.analysis.figures import pareto_figures
    from dsnbench.analysis.plots import MARKER_RADIUS_PT
    baseline = Path(__file__).resolve().parents[2] / "results" / "mini" / "baseline"
    figs = pareto_figures([read_run(baseline)])
    assert figs
    for name, fig in figs.items():
        ax = fig.axes[0]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        labels = [t for t in ax.texts if t.get_text().startswith(("β=", "w=", "μ="))]
        assert len(labels) >= 8, name
        boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text, not its leader line
        for i, j in itertools.combinations(range(len(boxes)), 2):
            assert not boxes[i].overlaps(boxes[j]), (name, labels[i].get_text(), labels[j].get_text())
        r = 0.9 * MARKER_RADIUS_PT * fig.dpi / 72.0
        for line in ax.lines:
            if line.get_marker() in (None, "None", "", " ", "_", "|"):  # lines and error-bar caps
                continue
            for mx, my in ax.transData.transform(line.get_xydata()):
                for t, b in zip(labels, boxes):
                    assert not (b.x0 - r < mx < b.x1 + r and b.y0 - r < my < b.y1 + r), (name, t.get_text())
        box = next(t.get_text() for t in ax.texts if "Off scale" in t.get_text())
        assert "oracle-irm" in box and "oracle-mixture" in box
        plt.close(fig)


def _entry_row(family, curve, label, gmacs, value, op=None, width=None):
    return {"family": family, "curve": curve, "label": label, "gmacs": gmacs, "gmacs_lo": gmacs, "gmacs_hi": gmacs,
            "si_snri": value, "si_snri_lo": value - 0.1, "si_snri_hi": value + 0.1, "dataset": "d",
            "operating_point": op, "width": width, "run_path": "run", "name": label.split(" ")[0],
            "model": label.split(" ")[0]}


def test_pareto_anchors_do_not_set_the_axes_and_dominance_crosses_families():
    import math

    import pandas as pd

    from dsnbench.analysis.plots import plot_pareto
    rows = [_entry_row("static", "static", "static-0.5", 1.0, 5.0, width=0.5),
            _entry_row("static", "static", "static-1.0", 2.0, 6.0, width=1.0),
            _entry_row("dsn", "dsn-l1", "dsn-l1 β=0", 1.5, 4.0, op=0.0),    # beaten by static-0.5
            _entry_row("dsn", "dsn-l1", "dsn-l1 β=1", 0.8, 4.5, op=1.0),
            _entry_row("oracle", "oracle", "oracle-irm", math.nan, 13.8),
            _entry_row("oracle", "oracle", "oracle-mixture", 0.0, 0.0)]
    fig = plot_pareto(pd.DataFrame(rows), "d")
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert hi < 13.8 and lo > 0.0              # the models fill the plot, not the anchors
    assert ax.get_xlim()[0] > 0.3              # oracle-mixture's 0 GMAC/s does not pull x to 0
    texts = [t.get_text() for t in ax.texts]
    box = next(t for t in texts if t.startswith("Off scale"))   # anchors named, not drawn as limits
    assert "↑ oracle-irm: 13.80" in box and "↓ oracle-mixture: 0.00" in box
    hollow = {(round(x, 3), round(y, 3)) for line in ax.lines if line.get_markerfacecolor() == "white"
              for x, y in zip(line.get_xdata(), line.get_ydata())}
    assert hollow == {(1.5, 4.0)}              # dominated by a static point: drawn hollow
    import matplotlib.pyplot as plt
    plt.close(fig)
