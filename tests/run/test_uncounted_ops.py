"""A user model with an STFT runs and is counted (dsnbench/complexity/counting.py); one with an op
nobody counts is refused in one line, or runs with MACs unknown (NaN, counted as failed[macs],
one warning naming the op) under ``--uncounted-ops nan`` (dsnbench/run/unit.py)."""
from __future__ import annotations

import math

import numpy as np
import torch

from tests.helpers import cli


def _weights(tmp_path, **init) -> str:
    from tests.models.adapter_fixture_models import StftMaskNet
    torch.manual_seed(0)
    path = tmp_path / "stft.pt"
    torch.save(StftMaskNet(**init).state_dict(), path)
    return str(path)


def _experiment(tmp_path, root, weights: str, uncounted: bool, extra: str = "") -> str:
    exp = tmp_path / f"exp-{uncounted}.yaml"
    exp.write_text(f"models:\n  - name: class:tests.models.adapter_fixture_models:StftMaskNet@{weights}\n"
                   f"    init: {{uncounted: {str(uncounted).lower()}}}\n"
                   f"datasets: [{{name: wsj0-2mix, root: '{root}'}}]\nmetrics: [si_snr]\nworkers: 1\n{extra}")
    return str(exp)


def test_an_stft_model_runs_with_its_macs_counted(wsj0_root, tmp_path, dsnbench_exe):
    from dsnbench.results import read_run
    out = tmp_path / "run"
    proc = cli(dsnbench_exe, "run", _experiment(tmp_path, wsj0_root, _weights(tmp_path), False), "--out", out,
               "--no-progress")
    assert proc.returncode == 0, proc.stderr
    u = read_run(out).utterances
    assert (u["error"] == "").all() and (u["macs"] > 0).all()


def test_an_uncounted_op_is_refused_in_one_line_or_run_with_macs_unknown(wsj0_root, tmp_path, dsnbench_exe):
    from dsnbench.results import read_run, read_summary
    exp = _experiment(tmp_path, wsj0_root, _weights(tmp_path, uncounted=True), True)
    out = tmp_path / "refused"
    proc = cli(dsnbench_exe, "run", exp, "--out", out, "--no-progress")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "aten::fft_rfft" in proc.stderr and "--uncounted-ops nan" in proc.stderr
    assert not out.exists()
    out = tmp_path / "unknown"
    proc = cli(dsnbench_exe, "run", exp, "--out", out, "--no-progress", "--uncounted-ops", "nan")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "aten::fft_rfft" in warnings[0]
    u = read_run(out).utterances
    assert u["macs"].isna().all() and u["si_snr"].notna().all()
    assert u["error"].str.contains("macs: unknown").all()
    (entry,) = read_summary(out)["entries"]
    assert entry["n_utterances"]["failed"]["macs"] == len(u) and entry["n_utterances"]["evaluated"] == len(u)
    assert entry["gmacs_per_s"]["mean"] is None or math.isnan(entry["gmacs_per_s"]["mean"])
