"""A separator's MAC table as a report (dsnbench/complexity/report.py)."""
from __future__ import annotations

import math

from dsnbench.complexity.report import macs_report
from dsnbench.models.oracles import OracleIRM, OracleMixture


def test_closed_form_and_undefined_counts():
    r = macs_report(OracleMixture(), 2.0, None)
    assert r["kind"] == "rate" and r["sample_rate"] == 8000 and r["n_samples"] == 16000
    assert r["widths"] == [{"width": None, "macs": 0.0, "gmacs_per_s": 0.0, "parts": {}}]
    r = macs_report(OracleIRM(), 1.0, 16000)
    assert r["kind"] == "undefined" and "not defined" in r["note"] and r["widths"] == []
    assert not math.isnan(r["seconds"])
