"""scripts/ci_regression.sh end to end on a tiny generated WSJ0-2mix set (fast: one oracle, SI-SNR)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "ci_regression.sh"


def script(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)


def test_update_then_compare_then_regression(tmp_path, wsj0_root):
    run_args = ["--", "--model", "oracle-irm", "--dataset", "wsj0-2mix", "--root", str(wsj0_root),
                "--metrics", "si_snr", "--workers", "1"]
    base = tmp_path / "baseline"
    new = tmp_path / "new"
    hist = tmp_path / "history.csv"
    # the one benchmark run of this test: kept in --out, then promoted to the baseline
    res = script("--baseline", str(base), "--out", str(new), "--update-baseline", "--history", str(hist), *run_args)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (base / "summary.json").read_bytes() == (new / "summary.json").read_bytes()
    assert (base / "utterances.parquet").exists() and (base / "segments.parquet").exists()
    lines = hist.read_text().splitlines()  # a new baseline is appended to the history
    assert len(lines) == 2 and lines[0].startswith("run_id,") and "oracle-irm,wsj0-2mix" in lines[1]

    md = tmp_path / "compare.md"
    res = script("--baseline", str(base), "--new", str(new), "--markdown", str(md), "--json", str(tmp_path / "c.json"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no regression" in res.stdout and md.read_text().startswith("### dsnbench compare: :white_check_mark:")
    assert json.loads((tmp_path / "c.json").read_text())["verdict"] == "ok"

    # a baseline better than what the code now gives: the check fails with exit 1
    s = json.loads((base / "summary.json").read_text())
    s["entries"][0]["metrics"]["si_snri"]["mean"] += 1.0
    (base / "summary.json").write_text(json.dumps(s))
    res = script("--baseline", str(base), "--new", str(new), "--markdown", str(md))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "REGRESSION" in res.stderr
    text = md.read_text()  # appended after the first comparison, as a job summary collects steps
    assert text.count("### dsnbench compare") == 2 and "#### Regressions" in text

    # another dataset manifest: not comparable, exit 3
    s["datasets"]["wsj0-2mix"]["manifest_hash"] = "0" * 16
    (base / "summary.json").write_text(json.dumps(s))
    res = script("--baseline", str(base), "--new", str(new))
    assert res.returncode == 3 and "manifest_hash" in res.stdout


def test_missing_baseline_and_failing_run(tmp_path):
    res = script("--baseline", str(tmp_path / "none"))
    assert res.returncode == 2 and "no baseline" in res.stderr
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "summary.json").write_text("{}")
    res = script("--baseline", str(tmp_path / "b"), "--", "--model", "no-such-model", "--dataset", "mini-2mix")
    assert res.returncode == 4 and "benchmark run failed" in res.stderr
