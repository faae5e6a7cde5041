"""Result tables (dsnbench/analysis/tables.py) and ``dsnbench table``."""
from __future__ import annotations

import re

from dsnbench.analysis import tables
from dsnbench.cli import main


def test_table_cli_prints_point_gaps(demo_run, capsys):
    assert main(["table", str(demo_run), "--gaps", "--dataset", "demo-2mix-ov100", "--metrics", "si_snri"]) == 0
    out = capsys.readouterr().out
    assert "against the static curve" in out and "| gap |" in out
    block = out.split("against the static curve")[1]
    assert re.search(r"\| [+-]\d+\.\d\d(?: \(n\.s\.\))? \| \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\] \|", block)
    assert "| 95 % CI | p (Wilcoxon) | p (t) | n |" in block
    assert "area between each curve and the static curve" in out and "hypervolume against the reference point" in out
    assert main(["table", str(demo_run), "--gaps", "--format", "latex", "--dataset", "demo-2mix-ov100"]) == 0
    tex = capsys.readouterr().out
    assert tex.count(r"\begin{tabular}") == 2 and "against the static curve" in tex
    assert re.search(r"& [+-]\d+\.\d\d \\\\", tex)  # a gap cell ends a row
    assert main(["table", str(demo_run), "--gaps", "--reference", "slim", "--dataset", "demo-2mix-ov100"]) == 0
    out = capsys.readouterr().out
    assert "against the slim curve" in out and "| static w=" in out
    assert main(["table", str(demo_run), "--gaps", "--reference", "nope"]) == 2


def test_markdown_table(demo_entries):
    e = demo_entries[demo_entries["dataset"] == "demo-2mix-ov100"]
    md = tables.markdown_table(e)
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert lines[0].startswith("| Model | Params (M) | GMAC/s | SI-SNRi (dB)")
    assert len(lines) == 1 + len(e)
    best = e.loc[e["si_snri"].idxmax()]
    row = next(ln for ln in lines if ln.startswith(f"| {best['label']} |"))
    assert f"**{best['si_snri']:.2f} ± {(best['si_snri_hi'] - best['si_snri_lo']) / 2:.2f}**" in row
    assert "| – |" in row  # SDR was not computed in the demo: a dash, never a 0


def test_latex_table_escapes_and_notes_failures(demo_entries):
    e = demo_entries[demo_entries["dataset"] == "demo-2mix-ov100"].copy()
    e.at[e.index[0], "failed"] = {"pesq": 2}
    tex = tables.latex_table(e, intervals="brackets")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"$\lambda$" in tex
    assert r"demo-2mix-ov100" in tex and "pesq failed on 2 utterance(s)" in tex
    assert re.search(r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]", tex)
    body = [ln for ln in tex.splitlines() if ln.endswith(r"\\") and "&" in ln]
    assert all(ln.count("&") == 6 for ln in body)


def test_table_cli(demo_run, capsys):
    assert main(["table", str(demo_run), "--format", "latex", "--dataset", "demo-2mix-ov50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(r"\begin{table}") and "demo-2mix-ov50" in out
    assert main(["table", str(demo_run), "--dataset", "nope"]) == 2
