"""The run configuration (dsnbench/run/config.py): experiment files, --set overrides, the hash."""
from __future__ import annotations

import pytest

from dsnbench.errors import UserError
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


@pytest.mark.parametrize("override, message", [
    ("workers=abc", "workers must be an integer of at least 1, got 'abc'"),
    ("workers=1e400", "workers must be an integer of at least 1, got '1e400'"),
    ("seed=abc", "seed must be an integer of at least 0, got 'abc'"),
    ("chunk_size=[1,2]", "chunk_size must be an integer of at least 1, got [1, 2]"),
    ("limit=true", "limit must be an integer of at least 1, got True"),
    ("datasets.0.sample_rate=abc", "dataset 'wsj0-2mix': sample_rate must be an integer"),
    ("pesq_mode=xx", "pesq_mode must be nb or wb"),
    ("metrics=[si_snr, nope]", "unknown metric 'nope'"),
    ("models.0.__class__=x", "'__class__' is not an option name"),
])
def test_bad_values_are_one_line_errors_before_anything_runs(override, message):
    """Issue 21: each of these was a traceback (or silently accepted) and left a folder behind."""
    doc = {"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": "/nowhere"}]}
    with pytest.raises(UserError) as err:
        build_config(doc, [override], where="command line")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_integer_values_given_as_text_are_read_as_integers():
    doc = {"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "sample_rate": "8000"}]}
    cfg = build_config(doc, ["workers=3", "seed=7"])
    assert (cfg.workers, cfg.seed, cfg.datasets[0].sample_rate) == (3, 7, 8000)
