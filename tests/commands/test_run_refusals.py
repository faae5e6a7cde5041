"""One-line errors, no traceback and no run folder, for settings a run cannot use
(dsnbench/run/plan.py checks, dsnbench/commands/latency.py)."""
from __future__ import annotations

from tests.helpers import cli


def test_wide_band_pesq_on_8khz_data_is_one_line_and_leaves_no_folder(dsnbench_exe, tmp_path):
    out = tmp_path / "wb"
    proc = cli(dsnbench_exe, "run", "--model", "oracle-mixture", "--dataset", "mini-2mix", "--pesq-mode", "wb",
               "--limit", "1", "--out", out, "--no-progress")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "mini-2mix" in proc.stderr and "wide-band PESQ needs 16000 Hz" in proc.stderr
    assert not out.exists()
    dry = cli(dsnbench_exe, "run", "--model", "oracle-mixture", "--dataset", "mini-2mix", "--pesq-mode", "wb",
              "--dry-run")
    assert dry.returncode == 2 and "wide-band PESQ" in dry.stderr


def test_latency_of_an_oracle_is_one_line(dsnbench_exe):
    proc = cli(dsnbench_exe, "latency", "oracle-irm")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "reference sources" in proc.stderr
