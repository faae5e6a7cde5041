"""The run configuration (dsnbench/run/config.py): experiment files, --set overrides, the hash."""
from __future__ import annotations

from dsnbench.results import read_run
from dsnbench.run.config import build_config

from tests.helpers import cli as _cli


def test_experiment_yaml_with_overrides_and_hash(dsnbench_exe, wsj0_root, tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"""
models: [oracle-mixture, oracle-irm]
datasets:
  - {{name: wsj0-2mix, root: /nonexistent}}
metrics: [si_snr]
workers: 1
""")
    out = tmp_path / "run"
    res = _cli(dsnbench_exe, "run", exp, "--set", f"datasets.0.root={wsj0_root}", "--set", "limit=2",
               "--out", out, "--no-progress")
    assert res.returncode == 0, res.stderr
    s = read_run(out).summary
    assert [e["model"] for e in s["entries"]] == ["oracle-mixture", "oracle-irm"]
    assert s["config"]["datasets"][0]["root"] == str(wsj0_root)
    assert s["config"]["limit"] == 2
    cfg = build_config({"models": ["oracle-mixture", "oracle-irm"],
                        "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "metrics": ["si_snr"], "limit": 2, "workers": 7})
    assert s["config_hash"] == cfg.hash()  # workers do not change what is computed
    for e in s["entries"]:
        assert e["n_utterances"]["total"] == 2
