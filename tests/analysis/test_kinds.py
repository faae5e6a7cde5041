"""Plot kinds and table formats are registered (dsnbench/analysis/kinds.py): ``dsnbench plot``
and ``dsnbench table`` list and dispatch them from the registry, with no branch per kind."""
from __future__ import annotations

import sys
import types

import pytest

from dsnbench.analysis.kinds import PLOTS, TABLES, PlotKind, formats
from dsnbench.cli import build_parser, main


def test_every_registered_kind_is_a_sub_command_with_its_options():
    parser = build_parser()
    for name in PLOTS.in_order():
        args = parser.parse_args(["plot", name, *(["RUN", "--out", "o"] if name != "history" else [])])
        assert args.kind == name and callable(args.func)
    assert PLOTS.in_order() == ["pareto", "gates", "overlap", "history"]


def test_a_new_kind_needs_no_change_to_the_command(tmp_path, capsys):
    module = types.ModuleType("dsnbench_test_plot_kind")
    module.draw = lambda args: [tmp_path / f"{args.word}.png"]
    sys.modules[module.__name__] = module
    PLOTS.register("echo", PlotKind(f"{module.__name__}:draw", ((("word",), {}),)), help="a test kind")
    try:
        assert main(["plot", "echo", "hello"]) == 0
        assert capsys.readouterr().out.strip() == str(tmp_path / "hello.png")
    finally:
        PLOTS.unregister("echo")
        del sys.modules[module.__name__]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plot", "echo", "hello"])


def test_formats_default_and_order():
    assert formats(types.SimpleNamespace(format=None)) == ("png", "pdf")
    assert formats(types.SimpleNamespace(format=["svg", "png", "svg"])) == ("svg", "png")


def test_table_formats_are_registered_renderers(demo_run, capsys):
    assert TABLES.in_order() == ["md", "latex", "html"]
    for fmt, needle in (("md", "| Model |"), ("latex", r"\toprule"), ("html", "<table")):
        assert main(["table", str(demo_run), "--format", fmt]) == 0
        assert needle in capsys.readouterr().out
