"""dsnbench history: appending runs (no duplicates, deterministic rows) and the trend plot."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dsnbench.errors import UserError
from dsnbench.history import COLUMNS, add_run, plot_history, read_history, rows_from_summary


def run_summary(run_id: str, created: str, commit: str, si_snri: float, gmacs: float, pesq: float | None = 2.0) -> dict:
    def entry(model: str, dataset: str, op: float | None, shift: float) -> dict:
        return {"model": model, "dataset": dataset, "operating_point": op,
                "n_utterances": {"total": 4, "evaluated": 4, "failed": {}},
                "metrics": {"si_snri": {"mean": si_snri + shift, "ci95": [None, None]},
                            "sdri": {"mean": si_snri + shift + 0.5, "ci95": [None, None]},
                            "pesq": {"mean": pesq, "ci95": [None, None]},
                            "stoi": {"mean": 0.8, "ci95": [None, None]},
                            "si_snr_input": {"mean": 0.1, "ci95": [None, None]}},
                "gmacs_per_s": {"mean": gmacs + shift / 10, "ci95": [None, None]}}
    return {"schema_version": 1, "run_id": run_id, "created": created, "git_commit": commit,
            "config": {}, "config_hash": "x", "datasets": {},
            "entries": [entry("static-1.0", "mini-wham", None, -1.0), entry("dsn", "mini-2mix", 0.5, 0.0),
                        entry("dsn", "mini-2mix", 0.0, 0.3), entry("static-1.0", "mini-2mix", None, 0.2)]}


def write_run(tmp: Path, s: dict) -> Path:
    d = tmp / s["run_id"]
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(s))
    return d


def test_rows_are_deterministic_and_sorted():
    s = run_summary("r1", "2026-11-28T10:00:00+00:00", "aaaaaaaa1", 10.0, 1.0, pesq=None)
    rows = rows_from_summary(s)
    assert rows == rows_from_summary(s)
    assert [(r["model"], r["dataset"], r["operating_point"]) for r in rows] == [
        ("dsn", "mini-2mix", "0.0"), ("dsn", "mini-2mix", "0.5"),
        ("static-1.0", "mini-2mix", ""), ("static-1.0", "mini-wham", "")]
    r = rows[1]
    assert r["si_snri"] == "10.0" and r["sdri"] == "10.5" and r["gmacs_per_s"] == "1.0"
    assert r["pesq"] == "nan"  # a NaN mean stays visible, never 0
    assert r["created"] == "2026-11-28T10:00:00+00:00" and r["git_commit"] == "aaaaaaaa1"
    del s["entries"][0]["metrics"]["stoi"]
    assert rows_from_summary(s)[-1]["stoi"] == ""  # not measured: empty


def test_add_twice_no_duplicate(tmp_path):
    hist = tmp_path / "results" / "history.csv"
    r1 = write_run(tmp_path, run_summary("r1", "2026-11-28T10:00:00+00:00", "aaaaaaaa1", 10.0, 1.0))
    r2 = write_run(tmp_path, run_summary("r2", "2026-11-28T11:00:00+00:00", "bbbbbbbb2", 10.4, 0.9))
    assert add_run(r1, hist) == (4, False)
    first = hist.read_text()
    assert add_run(r1, hist) == (0, True)
    assert add_run(r1 / "summary.json", hist) == (0, True)
    assert hist.read_text() == first
    assert add_run(r2, hist) == (4, False)
    rows = read_history(hist)
    assert len(rows) == 8 and [r["run_id"] for r in rows] == ["r1"] * 4 + ["r2"] * 4
    with hist.open() as f:
        assert next(csv.reader(f)) == COLUMNS
    # the same two runs added to a fresh file give the same bytes
    hist2 = tmp_path / "h2.csv"
    add_run(r1, hist2)
    add_run(r2, hist2)
    assert hist2.read_bytes() == hist.read_bytes()


def test_bad_history_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "h.csv"
    bad.write_text("a,b\n1,2\n")
    r1 = write_run(tmp_path, run_summary("r1", "2026-11-28T10:00:00+00:00", "a1", 10.0, 1.0))
    with pytest.raises(UserError, match="unexpected columns"):
        add_run(r1, bad)
    with pytest.raises(UserError, match="no such run"):
        add_run(tmp_path / "missing", tmp_path / "h2.csv")


def test_plot_history_writes_png_and_pdf(tmp_path):
    hist = tmp_path / "history.csv"
    for i, (snr, g) in enumerate([(10.0, 1.0), (10.4, 0.9), (10.2, 0.95)]):
        add_run(write_run(tmp_path, run_summary(f"r{i}", f"2026-11-28T1{i}:00:00+00:00", f"c{i}" * 4, snr, g)), hist)
    paths = plot_history(hist, tmp_path / "fig")
    assert [p.name for p in paths] == ["history.png", "history.pdf"]
    for p in paths:
        assert p.stat().st_size > 1000
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"
    with pytest.raises(UserError, match="empty or missing"):
        plot_history(tmp_path / "none.csv", tmp_path / "fig2")


def test_cli_history_add(tmp_path, capsys):
    from dsnbench.cli import main
    hist = tmp_path / "h.csv"
    r1 = write_run(tmp_path, run_summary("r1", "2026-11-28T10:00:00+00:00", "a1", 10.0, 1.0))
    assert main(["history", "add", str(r1), "--history", str(hist)]) == 0
    assert "added 4 rows" in capsys.readouterr().out
    assert main(["history", "add", str(r1), "--history", str(hist)]) == 0
    assert "already in" in capsys.readouterr().out
    assert len(read_history(hist)) == 4
    assert main(["history", "add", str(tmp_path / "nope"), "--history", str(hist)]) == 2


def test_plot_history_command(tmp_path, capsys):
    """``dsnbench plot history``: the kind on its own parser, then through the CLI."""
    import argparse

    from dsnbench.commands.history import add_plot_parser
    hist = tmp_path / "h.csv"
    add_run(write_run(tmp_path, run_summary("r1", "2026-11-28T10:00:00+00:00", "a1", 10.0, 1.0)), hist)
    parser = argparse.ArgumentParser()
    add_plot_parser(parser.add_subparsers(dest="kind"))
    args = parser.parse_args(["history", str(hist), "--metric", "si_snri", "--format", "png"])
    assert args.func(args) == 0
    assert (tmp_path / "history.png").stat().st_size > 1000 and not (tmp_path / "history.pdf").exists()
    assert str(tmp_path / "history.png") in capsys.readouterr().out
    from dsnbench.cli import main
    assert main(["plot", "history", str(hist), "--out", str(tmp_path / "f")]) == 0
    assert (tmp_path / "f" / "history.pdf").stat().st_size > 1000
    assert main(["plot", "history", str(tmp_path / "none.csv"), "--out", str(tmp_path / "g")]) == 2


def test_plot_history_one_panel_per_metric_one_line_per_model(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from dsnbench.analysis import style as style_mod
    hist = tmp_path / "history.csv"
    for i, (snr, g) in enumerate([(10.0, 1.0), (10.4, 0.9), (10.2, 0.95)]):
        add_run(write_run(tmp_path, run_summary(f"r{i}", f"2026-11-28T1{i}:00:00+00:00", f"c{i}" * 4, snr, g)), hist)
    seen = {}
    original = style_mod.save_figure

    def keep(fig, *args, **kwargs):
        seen["fig"] = fig
        seen["size"] = tuple(fig.get_size_inches() * fig.dpi)
        seen["panels"] = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        seen["legend"] = [t.get_text() for t in fig.legends[0].get_texts()]
        return original(fig, *args, **kwargs)
    monkeypatch.setattr(style_mod, "save_figure", keep)
    plot_history(hist, tmp_path / "fig", ["si_snri", "sdri", "gmacs_per_s"])
    assert seen["panels"] == ["si_snri (dB)", "sdri (dB)", "gmacs_per_s (GMAC/s)"]
    # one entry per model (the DSN at its lowest operating point) and one per dataset's line style
    assert seen["legend"] == ["dsn (β=0)", "static-1.0", "dataset mini-2mix", "dataset mini-wham"]
    assert seen["size"][0] < 2000
    plt.close("all")
