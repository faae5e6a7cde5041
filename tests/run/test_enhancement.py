"""WHAM! enhancement tasks (enh_single, enh_both) end to end through the run engine
(dsnbench/run/unit.py, dsnbench/metrics/suite.py): one target, so a two-output separator is
scored by its output closest to the target by SI-SNR, recorded as the row's permutation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dsnbench.data import load_dataset
from dsnbench.data.manifest import load_utterance
from dsnbench.metrics.functional import si_snr
from dsnbench.results import read_run
from dsnbench.run.config import build_config
from dsnbench.run.local_engine import run_experiment
from dsnbench.run.loading import load_model
from dsnbench.run.config import ModelSpec


@pytest.mark.parametrize("task", ["enh_single", "enh_both"])
def test_enhancement_tasks_run_oracles_and_a_two_output_separator(wham_root, tmp_path, task):
    doc = {"models": ["oracle-mixture", "oracle-irm", "static-0.25"],
           "datasets": [{"name": "wham", "root": str(wham_root), "task": task}],
           "metrics": ["si_snr", "stoi"], "workers": 1}
    summary = run_experiment(build_config(doc), tmp_path / "run", progress=False)
    u = read_run(tmp_path / "run").utterances
    assert (u["error"] == "").all(), u["error"].tolist()
    entries = {e["model"]: e for e in summary["entries"]}
    assert all(e["n_utterances"]["evaluated"] == 3 for e in entries.values())
    mixture_rows = u[u["model"] == "oracle-mixture"]
    assert (mixture_rows["si_snri"] == 0).all() and (mixture_rows["stoii"] == 0).all()
    assert entries["oracle-irm"]["metrics"]["si_snri"]["mean"] > 1.0   # the IRM counts the noise
    # the two-output separator: the row scores the output closest to the target, and names it
    manifest = load_dataset("wham", root=str(wham_root), task=task)
    sep = load_model(ModelSpec(name="static-0.25"))
    sep.prepare(manifest.sample_rate)
    rows = u[u["model"] == "static-0.25"].set_index("utt_id")
    for utt in manifest:
        mix, targets, _ = load_utterance(utt)
        with torch.no_grad():
            est = sep.separate(torch.from_numpy(mix.astype(np.float32))).estimates.numpy().astype(np.float64)
        scores = [si_snr(targets[0], e) for e in est]
        row = rows.loc[utt.utt_id]
        assert json.loads(row["permutation"]) == [int(np.argmax(scores))]
        assert abs(row["si_snr"] - max(scores)) < 1e-4


def test_a_one_output_model_on_a_separation_task_fails_every_row_and_the_run_exits_1(wsj0_root, tmp_path, dsnbench_exe):
    import subprocess
    import sys
    from pathlib import Path

    from tests.models.adapter_fixture_models import TinyMaskNet
    torch.manual_seed(0)
    weights = tmp_path / "one.pt"
    torch.save(TinyMaskNet(channels=8, n_src=1).state_dict(), weights)
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"models:\n  - name: class:tests.models.adapter_fixture_models:TinyMaskNet@{weights}\n"
                   f"    init: {{n_src: 1}}\n    n_src: 1\n"
                   f"datasets: [{{name: wsj0-2mix, root: '{wsj0_root}'}}]\nmetrics: [si_snr]\nworkers: 1\n")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([*dsnbench_exe, "run", str(exp), "--out", str(tmp_path / "run"), "--no-progress"],
                          capture_output=True, text=True, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "1 of 1 entry separated no utterance" in errors[0]
    assert "n_src=2" in errors[0]  # it points at the setting to change
    assert "Traceback" not in proc.stderr
