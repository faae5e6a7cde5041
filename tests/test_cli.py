"""The command line as a whole: every registry is listed, every sub-command's help shows an example."""
from __future__ import annotations

from tests.helpers import cli as _cli


def test_ls_lists_registries(dsnbench_exe):
    for what, name in (("models", "oracle-irm"), ("datasets", "wham"), ("metrics", "si_snr")):
        res = _cli(dsnbench_exe, "ls", what)
        assert res.returncode == 0 and name in res.stdout


def test_every_subcommand_help_shows_an_example(dsnbench_exe):
    from dsnbench.cli import COMMANDS
    for name in COMMANDS:
        res = _cli(dsnbench_exe, name, "--help")
        assert res.returncode == 0, (name, res.stderr)
        assert "example" in res.stdout.lower() and "dsnbench " + name in res.stdout, name
