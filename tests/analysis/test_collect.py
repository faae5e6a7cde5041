"""Summary entries as one table (dsnbench/analysis/collect.py): families, lambdas, widths,
curves and labels."""
from __future__ import annotations

import pytest

from dsnbench.analysis import collect, pareto
from dsnbench.results import read_run


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
