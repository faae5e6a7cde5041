"""``dsnbench run --operating-point`` (dsnbench/commands/run.py, dsnbench/run/plan.py): an
operating point belongs to the --model it follows, or (given before any --model) to the models
that have operating points; the dry run refuses what the run refuses; a refused run leaves no
folder behind."""
from __future__ import annotations

from dsnbench.cli import main


def _plan(capsys, *args) -> tuple[int, list[tuple[str, str]], str]:
    code = main(["run", *args, "--dataset", "mini-2mix", "--limit", "1", "--dry-run"])
    out, err = capsys.readouterr()
    rows = [tuple(line.split()[1:4:2]) for line in out.splitlines()[1:] if line.strip() and line.split()[0].isdigit() and "entries" not in line]
    return code, rows, err


def test_an_operating_point_belongs_to_the_model_it_follows(capsys):
    code, rows, err = _plan(capsys, "--model", "dsn-l1", "--operating-point", "0", "--operating-point", "2",
                            "--model", "static-1.0")
    assert code == 0, err
    assert rows == [("dsn-l1", "0"), ("dsn-l1", "2"), ("static-1.0", "-")]


def test_operating_points_before_any_model_go_to_the_models_that_have_them(capsys):
    code, rows, err = _plan(capsys, "--operating-point", "1", "--model", "static-0.25", "--model", "dsn-l2")
    assert code == 0, err
    assert rows == [("static-0.25", "-"), ("dsn-l2", "1")]
    code, rows, err = _plan(capsys, "--operating-point", "1", "--model", "static-0.25")
    assert code == 2 and "no model here has operating points" in err


def test_the_dry_run_and_the_run_refuse_an_operating_point_of_a_static_model(capsys, tmp_path):
    code, _, err = _plan(capsys, "--model", "static-1.0", "--operating-point", "1")
    assert code == 2
    assert "'static-1.0'" in err and "no operating point" in err and "Traceback" not in err
    out = tmp_path / "refused"
    code = main(["run", "--model", "static-1.0", "--operating-point", "1", "--dataset", "mini-2mix",
                 "--limit", "1", "--out", str(out), "--no-progress"])
    assert code == 2 and not out.exists()
