"""Analysis: Pareto fronts and curve gaps on constructed points, gate statistics, variant
factors, tables, every figure and the report from a run folder (the synthetic demo run, which
has every family, DSN traces and variant sets, and a real oracle run from ``dsnbench run``)."""
from __future__ import annotations

import json
import math
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from dsnbench.analysis import collect, gates, pareto, tables, variants
from dsnbench.analysis.demo import write_demo_run
from dsnbench.cli import main
from dsnbench.results import SEGMENT_COLUMNS, read_run
from dsnbench.run.folder import table_columns

UTTERANCE_COLUMNS = table_columns()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    return write_demo_run(tmp_path_factory.mktemp("analysis") / "demo", n_utterances=2, seconds=1.2)


@pytest.fixture(scope="session")
def demo(demo_run):
    return read_run(demo_run)


@pytest.fixture(scope="session")
def demo_entries(demo):
    return collect.entries_frame([demo])


# -- Pareto front -----------------------------------------------------------------------

def test_pareto_mask_on_constructed_points():
    cost = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    qual = np.array([5.0, 7.0, 6.0, 6.5, 9.0, 9.0, 20.0])
    # (2,6) is dominated by (2,7); (3,6.5) by (2,7); (5,9) by (4,9); NaN is never on the front
    assert pareto.pareto_mask(cost, qual).tolist() == [True, True, False, False, True, False, False]
    # lower-is-better quality flips the direction
    assert pareto.pareto_mask(cost, qual, higher_is_better=False).tolist() == [True, False, False, False, False, False, False]


def test_pareto_equal_points_and_front_order():
    cost = np.array([3.0, 1.0, 3.0, 2.0])
    qual = np.array([4.0, 1.0, 4.0, 3.0])
    assert pareto.pareto_mask(cost, qual).tolist() == [True, True, True, True]  # equal points do not dominate each other
    c, q = pareto.front(cost, qual)
    assert c.tolist() == [1.0, 2.0, 3.0] and q.tolist() == [1.0, 3.0, 4.0]


def test_pareto_rejects_bad_shapes():
    with pytest.raises(ValueError):
        pareto.pareto_mask(np.zeros(3), np.zeros(4))


# -- curve gap --------------------------------------------------------------------------

def test_curve_gap_parallel_lines():
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    b = (np.array([0.0, 10.0]), np.array([-2.0, 8.0]))
    g = pareto.curve_gap(a, b)
    assert g.mean_gap == pytest.approx(2.0) and g.area == pytest.approx(20.0)
    assert (g.lo, g.hi) == (0.0, 10.0)
    assert pareto.curve_gap(b, a).mean_gap == pytest.approx(-2.0)


def test_curve_gap_known_piecewise_curves():
    # A: q = c on [0, 10]; B: (2,0) (6,4) (12,4). Overlap [2, 10]:
    # on [2,6] A-B = 2 (area 8); on [6,10] A-B = c-4 from 2 to 6 (area 16). Mean 24/8 = 3.
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    b = (np.array([2.0, 6.0, 12.0]), np.array([0.0, 4.0, 4.0]))
    g = pareto.curve_gap(a, b)
    assert g.area == pytest.approx(24.0) and g.mean_gap == pytest.approx(3.0)
    assert (g.lo, g.hi) == (2.0, 10.0)
    # lower-is-better: the sign flips so that positive still means "A better"
    assert pareto.curve_gap(a, b, higher_is_better=False).mean_gap == pytest.approx(-3.0)


def test_curve_gap_matches_dense_integration():
    rng = np.random.default_rng(3)
    for _ in range(20):
        ca = np.sort(rng.choice(np.arange(1, 40), size=5, replace=False)).astype(float)
        cb = np.sort(rng.choice(np.arange(1, 40), size=4, replace=False)).astype(float)
        qa, qb = rng.normal(size=5), rng.normal(size=4)
        g = pareto.curve_gap((ca, qa), (cb, qb))
        lo, hi = max(ca[0], cb[0]), min(ca[-1], cb[-1])
        if lo >= hi:
            continue
        x = np.linspace(lo, hi, 200001)
        trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
        dense = trapezoid(np.interp(x, ca, qa) - np.interp(x, cb, qb), x)
        assert g.area == pytest.approx(dense, abs=1e-6)


def test_curve_gap_without_overlap_is_nan_and_single_point():
    a = (np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    b = (np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    assert math.isnan(pareto.curve_gap(a, b).mean_gap)
    single = (np.array([1.5]), np.array([0.0]))
    g = pareto.curve_gap(a, single)
    assert g.mean_gap == pytest.approx(1.5) and g.area == 0.0
    with pytest.raises(ValueError):
        pareto.curve_gap((np.array([2.0, 1.0]), np.array([0.0, 0.0])), a)


# -- collecting entries -----------------------------------------------------------------

def test_family_from_entry_model_info_or_name():
    assert collect.family_of({"model": "static-0.5"}) == "static"
    assert collect.family_of({"model": "my-net", "family": "dsn"}) == "dsn"
    assert collect.family_of({"model": "my-net", "model_info": {"family": "slim"}}) == "slim"
    assert collect.family_of({"model": "x"}, {"models": {"x": {"family": "dsn"}}}) == "dsn"
    assert collect.lambda_of({"model": "dsn-l0.1"}) == pytest.approx(0.1)
    assert collect.lambda_of({"model": "dsn-lambda0.05-small"}) == pytest.approx(0.05)
    assert collect.lambda_of({"model": "dsn", "model_info": {"lambda": 2}}) == 2.0
    assert collect.width_of({"model": "slim-0.75"}) == 0.75
    assert collect.width_of({"model": "static-w0.25"}) == 0.25


def test_entries_frame_of_demo(demo, demo_entries):
    e = demo_entries
    assert len(e) == len(demo.entries())
    assert set(e["family"]) == {"static", "slim", "dsn"}
    assert set(e.loc[e["family"] == "dsn", "curve"]) == {"dsn λ=0.05", "dsn λ=0.2"}
    assert (e["si_snri_lo"] <= e["si_snri"]).all() and (e["si_snri"] <= e["si_snri_hi"]).all()
    # entries agree with the utterance table they summarise
    u = demo.utterances
    row = e[(e["model"] == "static-0.5") & (e["dataset"] == "demo-2mix-ov100")].iloc[0]
    assert row["si_snri"] == pytest.approx(u[(u["model"] == "static-0.5") & (u["dataset"] == "demo-2mix-ov100")]["si_snri"].mean())


def test_gap_table_has_every_curve_against_static(demo_entries):
    g = pareto.gap_table(demo_entries)
    ds = g[g["dataset"] == "demo-2mix-ov100"]
    assert set(ds["curve"]) == {"slim", "dsn λ=0.05", "dsn λ=0.2", "dsn (all)"}
    assert (ds["reference"] == "static").all()
    assert np.isfinite(ds["mean_gap"]).all()
    assert ((ds["mean_gap"] * (ds["hi"] - ds["lo"]) - ds["area"]).abs() < 1e-9).all()


def _points(*rows: tuple) -> pd.DataFrame:
    """Entries of one dataset 'd' from (label, family, gmacs, m) tuples; the curve is the family."""
    return pd.DataFrame([{"dataset": "d", "label": lab, "family": fam, "curve": fam, "gmacs": g, "m": m}
                         for lab, fam, g, m in rows])


def test_point_gaps_against_the_static_front():
    """Static front (1, 1) -> (2, 3); (1.5, 0.5) is dominated and not part of it."""
    e = _points(("s1", "static", 1.0, 1.0), ("s2", "static", 2.0, 3.0), ("s3", "static", 1.5, 0.5),
                ("a", "dsn", 1.5, 2.5), ("b", "slim", 1.25, 1.0), ("c", "dsn", 2.5, 9.0), ("o", "oracle", 0.0, 0.0))
    g = pareto.point_gaps(e, "m").set_index("label")
    assert list(g.index) == ["a", "b", "c"]                 # oracle and the reference left out
    assert g.loc["a", "reference_at_cost"] == pytest.approx(2.0) and g.loc["a", "gap"] == pytest.approx(0.5)
    assert g.loc["b", "gap"] == pytest.approx(-0.5)
    assert math.isnan(g.loc["c", "gap"])                    # beyond the front: not extrapolated
    low = pareto.point_gaps(e.assign(m=-e["m"]), "m", higher_is_better=False).set_index("label")
    assert low.loc["a", "gap"] == pytest.approx(0.5)        # positive still means better
    no_static = pareto.point_gaps(e[e["family"] != "static"], "m")
    assert set(no_static["reference"]) == {"slim"} and list(no_static["label"]) == ["a", "c"]
    assert pareto.point_gaps(e[e["family"].isin(["dsn", "oracle"])], "m").empty


def test_table_cli_prints_point_gaps(demo_run, capsys):
    assert main(["table", str(demo_run), "--gaps", "--dataset", "demo-2mix-ov100", "--metrics", "si_snri"]) == 0
    out = capsys.readouterr().out
    assert "against the static curve" in out and "| gap |" in out
    block = out.split("against the static curve")[1]
    assert re.search(r"\| [+-]\d+\.\d\d \|", block)
    assert main(["table", str(demo_run), "--gaps", "--format", "latex"]) == 2
    assert main(["table", str(demo_run), "--gaps", "--reference", "slim", "--dataset", "demo-2mix-ov100"]) == 0
    out = capsys.readouterr().out
    assert "against the slim curve" in out and "| static w=" in out
    assert main(["table", str(demo_run), "--gaps", "--reference", "nope"]) == 2


# -- gates ------------------------------------------------------------------------------

def test_width_share_by_category(demo):
    seg = gates.select_entry(demo.segments, "dsn-l0.05", 0.0, "demo-wham-na50")
    share = gates.width_share_by_category(seg)
    widths = [c for c in share.columns if c != "n"]
    assert np.allclose(share[widths].sum(axis=1), 1.0)
    assert share["n"].sum() == len(seg)
    # noisy set: groups are split by noise activity
    assert any(g.endswith(", noise") for g in share.index) and any(g.endswith(", no noise") for g in share.index)
    # counts recomputed by hand for one group
    grp = share.index[0]
    cat, _, lab = grp.partition(", ")
    sub = seg[(seg["category"] == cat) & (seg["noise_active"] == (lab == "noise"))]
    assert share.loc[grp, "n"] == len(sub)


def test_width_share_counts_unlabelled_segments():
    seg = pd.DataFrame({"model": "dsn", "dataset": "d", "operating_point": 0.0, "utt_id": "u", "segment": range(4),
                        "width": [0.5, 1.0, 1.0, 0.5], "category": ["one", "overlap", None, None],
                        "noise_active": None, "seg_si_snr": 1.0})
    share = gates.width_share_by_category(seg)
    assert list(share.index) == ["one", "overlap", "unlabelled"] and share["n"].sum() == 4


def test_seg_snr_by_width_and_default_entry(demo):
    m, d, op = gates.default_entry(demo.segments)
    assert m.startswith("dsn") and op == 0.0
    seg = gates.select_entry(demo.segments, m, op, d)
    t = gates.seg_snr_by_width(seg)
    assert t["n"].sum() + t["n_nan"].sum() == len(seg)
    w = t["width"].iloc[0]
    v = seg[seg["width"] == w]["seg_si_snr"].dropna()
    assert t["mean"].iloc[0] == pytest.approx(v.mean())


def test_select_entry_errors(demo):
    from dsnbench.errors import UserError
    with pytest.raises(UserError, match="model 'nope'"):
        gates.select_entry(demo.segments, "nope")
    with pytest.raises(UserError, match="operating point"):
        gates.select_entry(demo.segments, "dsn-l0.05", 7.0)


def test_utterance_spans_tile_time(demo):
    seg = gates.select_entry(demo.segments, "dsn-l0.05", 0.0, "demo-2mix-ov100")
    uid = sorted(set(seg["utt_id"]))[0]
    g = gates.utterance_segments(seg, uid)
    assert g["span_start_s"].iloc[0] == 0.0
    assert np.allclose(g["span_start_s"].to_numpy()[1:], g["span_end_s"].to_numpy()[:-1])


# -- overlap / noise factors ------------------------------------------------------------

def test_dataset_factors_from_info_and_names():
    assert variants.dataset_factors("x", {"info": {"overlap": 0.5, "noise_activity": 100}}) == (0.5, 1.0)
    assert variants.dataset_factors("wsj-ov25", {}) == (0.25, None)
    assert variants.dataset_factors("wham-overlap0.5-na50", None) == (0.5, 0.5)
    assert variants.dataset_factors("wham:sep_noisy", {"manifest_hash": "x"}) == (None, None)


def test_variant_table_holds_the_other_factor(demo, demo_entries):
    f = variants.factors_frame([demo])
    ov = variants.variant_table(demo_entries, f, "overlap")
    # the overlap axis uses the clean sets only (noise not varied), one row per entry and overlap
    assert sorted(set(ov["overlap"])) == [0.25, 0.5, 1.0]
    assert not ov.duplicated(["label", "overlap"]).any()
    na = variants.variant_table(demo_entries, f, "noise_activity")
    assert sorted(set(na["noise_activity"])) == [0.5, 1.0]
    lines = variants.default_lines(ov)
    assert set(lines["family"]) == {"static", "dsn"}
    assert set(lines.loc[lines["family"] == "dsn", "operating_point"]) == {0.0}


# -- tables -----------------------------------------------------------------------------

def test_markdown_table(demo_entries):
    e = demo_entries[demo_entries["dataset"] == "demo-2mix-ov100"]
    md = tables.markdown_table(e)
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert lines[0].startswith("| Model | Params (M) | GMAC/s | SI-SNRi (dB)")
    assert len(lines) == 1 + len(e)
    best = e.loc[e["si_snri"].idxmax()]
    row = next(ln for ln in lines if ln.startswith(f"| {best['label']} |"))
    assert f"**{best['si_snri']:.2f} ± {(best['si_snri_hi'] - best['si_snri_lo']) / 2:.2f}**" in row
    assert "| – |" in row  # SDR was not computed in the demo: a dash, never a 0


def test_latex_table_escapes_and_notes_failures(demo_entries):
    e = demo_entries[demo_entries["dataset"] == "demo-2mix-ov100"].copy()
    e.at[e.index[0], "failed"] = {"pesq": 2}
    tex = tables.latex_table(e, intervals="brackets")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"$\lambda$" in tex
    assert r"demo-2mix-ov100" in tex and "pesq failed on 2 utterance(s)" in tex
    assert re.search(r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]", tex)
    body = [ln for ln in tex.splitlines() if ln.endswith(r"\\") and "&" in ln]
    assert all(ln.count("&") == 6 for ln in body)


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


def test_table_cli(demo_run, capsys):
    assert main(["table", str(demo_run), "--format", "latex", "--dataset", "demo-2mix-ov50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(r"\begin{table}") and "demo-2mix-ov50" in out
    assert main(["table", str(demo_run), "--dataset", "nope"]) == 2


def test_report_is_self_contained(demo_run, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(demo_run), "--out", str(out)]) == 0
    html = out.read_text()
    assert html.count("data:image/png;base64,") >= 5
    assert not re.search(r"""(src|href)=["']https?:""", html)
    summary = json.loads((demo_run / "summary.json").read_text())
    for info in summary["datasets"].values():
        assert info["manifest_hash"] in html
    assert summary["config_hash"] in html and "Synthetic demo data" in html
    assert "Failed metrics" in html and "Mean gap at equal compute" in html
    assert "Each point against the reference curve" in html


def test_bad_run_folder_is_one_line_error(tmp_path, capsys):
    assert main(["table", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "summary.json" in err


def test_demo_run_is_schema_valid_and_deterministic(demo_run, demo, tmp_path):
    assert list(demo.utterances.columns[: len(UTTERANCE_COLUMNS)]) == UTTERANCE_COLUMNS
    assert list(demo.segments.columns[: len(SEGMENT_COLUMNS)]) == SEGMENT_COLUMNS
    assert set(demo.segments["category"]) <= {"silence", "one", "overlap"}
    assert demo.summary["synthetic"] is True
    small = dict(n_utterances=2, seconds=1.0, variants=False, perceptual=False)
    one = read_run(write_demo_run(tmp_path / "one", **small))
    two = read_run(write_demo_run(tmp_path / "two", **small))
    pd.testing.assert_frame_equal(one.utterances, two.utterances)
    pd.testing.assert_frame_equal(one.segments, two.segments)
    assert json.dumps(one.summary["entries"]) == json.dumps(two.summary["entries"])


# -- a real run of the run loop ----------------------------------------------------------

@pytest.fixture(scope="session")
def oracle_run(tmp_path_factory, wsj0_root):
    out = tmp_path_factory.mktemp("oracle-run") / "run"
    rc = main(["run", "--model", "oracle-mixture", "--model", "oracle-irm", "--dataset", "wsj0-2mix",
               "--root", str(wsj0_root), "--limit", "2", "--workers", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    return out


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


def test_report_and_figures_are_deterministic(oracle_run, tmp_path):
    for name in ("a", "b"):
        assert main(["report", str(oracle_run), "--out", str(tmp_path / f"{name}.html")]) == 0
        assert main(["plot", "pareto", str(oracle_run), "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    for f in ("pareto-si_snri-wsj0-2mix.png", "pareto-si_snri-wsj0-2mix.pdf"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


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


@pytest.fixture(scope="session")
def dsn_run(tmp_path_factory, wsj0_root):
    """A real run of the run loop on untrained (random-init) checkpoints of every family: DSN
    traces, static widths, a supernet at one width; only SI-SNR, 2 utterances."""
    pytest.importorskip("dsnbench.complexity.table")
    torch = pytest.importorskip("torch")
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    prov = {"training_config": {}, "data": "untrained: random init, for analysis tests", "steps": 0,
            "val_si_snr": None, "val_si_snri": None}
    folder = tmp_path_factory.mktemp("dsn-run")
    cfg = DSNConfig.preset("tiny")
    torch.manual_seed(0)
    model = DualPathDSN(cfg).eval()
    with torch.no_grad():  # spread the gate's logits so the widths vary between segments
        model.gate.logits.weight.mul_(20)
        model.gate.logits.bias.copy_(torch.tensor([0.0, 0.5, 1.0, 1.5]))
    dsn = save_checkpoint(folder / "dsn-l0.1.safetensors", model, "dsn", prov, operating_points=[0.0, 2.0])
    sup = save_checkpoint(folder / "supernet.safetensors", model, "supernet", prov)
    statics = [save_checkpoint(folder / f"static-{w:g}.safetensors", DualPathDSN(cfg.static_at(w)).eval(), "static", prov)
               for w in (0.25, 1.0)]
    doc = {"models": [str(dsn)] + [str(p) for p in statics] + [{"name": str(sup), "label": "slim-0.5", "width": 0.5}],
           "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}], "metrics": ["si_snr"], "workers": 1, "limit": 2}
    run_experiment(build_config(doc), folder / "run", progress=False)
    return folder / "run"


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


def test_two_checkpoints_of_one_name_are_two_curves(tmp_path, wsj0_root):
    """Two trainings both named dsn-l0.1, in different folders: their operating points and
    their fixed-width entries form one curve per file (tagged with the path end that tells the
    files apart), and each DSN is placed against its own weights only."""
    torch = pytest.importorskip("torch")
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    prov = {"training_config": {}, "data": "untrained: random init, for analysis tests", "steps": 0,
            "val_si_snr": None, "val_si_snri": None, "stage": "gate", "name": "dsn-l0.1",
            "gate": {"lam": 0.1}}  # the labels below name no lambda: it comes from here
    paths = []
    for k, folder in enumerate(("first/x", "second/x")):
        torch.manual_seed(10 + k)
        net = DualPathDSN(DSNConfig.preset("tiny")).eval()
        paths.append(save_checkpoint(tmp_path / folder / "dsn-l0.1.safetensors", net, "dsn", prov,
                                     operating_points=[0.0]))
    doc = {"models": [{"name": str(p), "label": f"dsn-{k}"} for k, p in enumerate(paths)]
           + [{"name": str(p), "width": w, "label": f"own{k}-{w}"} for k, p in enumerate(paths) for w in (0.25, 1.0)],
           "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}], "metrics": ["si_snr"], "workers": 1,
           "limit": 2}
    run_experiment(build_config(doc), tmp_path / "run", progress=False)
    e = collect.entries_frame([read_run(tmp_path / "run")]).set_index("model")
    assert e.loc["dsn-0", "curve"] == "dsn λ=0.1 [first/x/dsn-l0.1]"
    assert e.loc["dsn-1", "curve"] == "dsn λ=0.1 [second/x/dsn-l0.1]"
    assert e.loc["own0-0.25", "curve"] == e.loc["own0-1.0", "curve"] == "slim (dsn-l0.1) [first/x/dsn-l0.1]"
    assert e.loc["own1-1.0", "curve"] == "slim (dsn-l0.1) [second/x/dsn-l0.1]"
    own = pareto.point_gaps(e.reset_index(), "si_snri", reference="own").set_index("label")
    assert set(own["reference"]) == {"slim (dsn-l0.1) [first/x/dsn-l0.1]", "slim (dsn-l0.1) [second/x/dsn-l0.1]"}
    assert collect.distinct_tails(["a/x/m.pt", "b/x/m.pt", "c/y/m.pt"]) == \
        {"a/x/m.pt": "a/x/m", "b/x/m.pt": "b/x/m", "c/y/m.pt": "c/y/m"}
    assert collect.distinct_tails(["a/m.pt", "a/n.pt"]) == {"a/m.pt": "m", "a/n.pt": "n"}
    from dsnbench.analysis.plots import _curve_label  # the legend names them as the table does
    assert _curve_label(e.loc["dsn-0", "curve"], "dsn") == "DSN λ=0.1 [first/x/dsn-l0.1]"
    assert _curve_label(e.loc["own1-1.0", "curve"], "slim") == "slim (dsn-l0.1) [second/x/dsn-l0.1]"


def test_own_reference_interpolates_each_dsn_on_its_own_weights_curve():
    """reference='own' with known numbers: each DSN point against the fixed-width curve of the
    checkpoint it came from (same source, same run), never another DSN's or the supernet's."""
    rows = []
    for src, base in (("a.safetensors", 1.0), ("b.safetensors", 3.0)):
        for w, g, q in ((0.25, 0.2, base), (1.0, 0.4, base + 2.0)):
            rows.append({"dataset": "d", "run_path": "r", "family": "slim", "curve": f"slim ({src})",
                         "label": f"w{w} {src}", "source": src, "gmacs": g, "si_snri": q})
        rows.append({"dataset": "d", "run_path": "r", "family": "dsn", "curve": f"dsn {src}", "label": f"dsn {src}",
                     "source": src, "gmacs": 0.3, "si_snri": base + 1.5})
    rows.append({"dataset": "d", "run_path": "r", "family": "slim", "curve": "slim", "label": "supernet 0.3",
                 "source": "s.safetensors", "gmacs": 0.3, "si_snri": 10.0})
    g = pareto.point_gaps(pd.DataFrame(rows), "si_snri", reference="own").set_index("label")
    assert g.loc["dsn a.safetensors", "reference_at_cost"] == pytest.approx(2.0)  # halfway from 1 to 3
    assert g.loc["dsn a.safetensors", "gap"] == pytest.approx(0.5)
    assert g.loc["dsn b.safetensors", "reference_at_cost"] == pytest.approx(4.0)
    assert g.loc["dsn b.safetensors", "reference"] == "slim (b.safetensors)"
    assert len(g) == 2


def test_point_gaps_hold_the_front_flat_up_to_the_costliest_reference_member():
    """A dominated costly static (3.0, 2.0) does not lower the curve: between the front's last
    point (2, 3) and cost 3 a budget buys static quality 3; beyond cost 3 nothing is said."""
    e = _points(("s1", "static", 1.0, 1.0), ("s2", "static", 2.0, 3.0), ("s4", "static", 3.0, 2.0),
                ("in", "dsn", 2.5, 3.25), ("edge", "dsn", 3.0, 2.0), ("past", "dsn", 3.5, 9.0),
                ("cheap", "dsn", 0.5, 9.0))
    g = pareto.point_gaps(e, "m").set_index("label")
    assert g.loc["in", "reference_at_cost"] == pytest.approx(3.0) and g.loc["in", "gap"] == pytest.approx(0.25)
    assert g.loc["edge", "gap"] == pytest.approx(-1.0)
    assert math.isnan(g.loc["past", "gap"]) and math.isnan(g.loc["cheap", "gap"])
    low = pareto.point_gaps(e.assign(m=-e["m"]), "m", higher_is_better=False).set_index("label")
    assert low.loc["in", "gap"] == pytest.approx(0.25)
