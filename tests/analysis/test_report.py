"""The self-contained HTML report (dsnbench/analysis/report.py)."""
from __future__ import annotations

import json
import re

from dsnbench.cli import main


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


def test_report_and_figures_are_deterministic(oracle_run, tmp_path):
    for name in ("a", "b"):
        assert main(["report", str(oracle_run), "--out", str(tmp_path / f"{name}.html")]) == 0
        assert main(["plot", "pareto", str(oracle_run), "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    for f in ("pareto-si_snri-wsj0-2mix.png", "pareto-si_snri-wsj0-2mix.pdf"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
