"""Run folders the analysis tests share: the synthetic demo run, a real oracle run and a real
run of untrained checkpoints of every family."""
from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from dsnbench.analysis import collect
from dsnbench.analysis.demo import write_demo_run
from dsnbench.cli import main
from dsnbench.results import read_run


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    return write_demo_run(tmp_path_factory.mktemp("analysis") / "demo", n_utterances=2, seconds=1.2)


@pytest.fixture(scope="session")
def demo(demo_run):
    return read_run(demo_run)


@pytest.fixture(scope="session")
def demo_entries(demo):
    return collect.entries_frame([demo])


@pytest.fixture(scope="session")
def oracle_run(tmp_path_factory, wsj0_root):
    out = tmp_path_factory.mktemp("oracle-run") / "run"
    rc = main(["run", "--model", "oracle-mixture", "--model", "oracle-irm", "--dataset", "wsj0-2mix",
               "--root", str(wsj0_root), "--limit", "2", "--workers", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    return out


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
