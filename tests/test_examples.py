"""Every example of the README and of every ``--help`` epilog (dsnbench/commands/*.py, the
experiment files' headers): each one parses, names models, experiment files and checkpoints
that exist, and the ones that run in seconds run as written, in a sandbox whose ``/data/...``
roots hold tiny generated sets in the published layouts (``/data/`` is the only substitution).

A ``run`` example runs with ``--dry-run`` added: the dry run does every check the run does
before its first row (dsnbench/run/plan.py), so an example that passes it starts.
"""
from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.helpers import cli

REPO = Path(__file__).resolve().parent.parent


def _epilog_examples() -> list[str]:
    from dsnbench.cli import build_parser
    found: list[str] = []
    stack = [build_parser()]
    while stack:
        parser = stack.pop()
        for line in (parser.epilog or "").replace("\\\n", " ").splitlines():
            if line.strip().startswith("dsnbench "):
                found.append(line.strip())
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                stack.extend(action.choices.values())
    return found


def _readme_examples() -> list[str]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("dsnbench "):
                found.append(line)
    return found


def _experiment_examples() -> list[str]:
    found = []
    for path in sorted((REPO / "experiments").glob("**/*.yaml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            text = line.lstrip("#").strip()
            if text.startswith("dsnbench ") and line.startswith("#"):
                while text.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    text = text[:-1].rstrip() + " " + lines[i].lstrip("#").strip()
                found.append(text)
    return found


def _argv(example: str) -> list[str]:
    """The example's arguments after ``dsnbench``, without its comment and shell redirection;
    ``a|b|c`` alternatives (``ls models|datasets|metrics``) become the first."""
    text = re.split(r"\s#\s|\s\(", example, maxsplit=1)[0]
    text = text.split(" > ")[0]
    words = shlex.split(text)[1:]
    return [w.split("|")[0] if "|" in w and not w.startswith("tcp") else w for w in words]


EXAMPLES = sorted(set(_epilog_examples() + _readme_examples() + _experiment_examples()))


def test_the_examples_are_found():
    assert len(EXAMPLES) > 40
    assert any(e.startswith("dsnbench run experiments/sweeps/paper-grid.yaml") for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_parses_and_names_what_exists(example):
    from dsnbench.cli import build_parser
    from dsnbench.models import MODELS
    argv = _argv(example)
    args = build_parser().parse_args(argv)  # SystemExit on a flag that does not exist
    names = []
    if argv[0] in ("macs", "latency"):
        names.append(args.model)
    if argv[0] == "run":
        names += list(args.model or [])
    for name in names:
        if ":" in name:   # adapter:path of the user's own file
            continue
        assert name in MODELS or (REPO / name).is_file(), f"{example}: no model {name!r}"
    if argv[0] in ("run", "train") and getattr(args, "experiment", None):
        assert (REPO / args.experiment).is_file() or args.experiment.startswith("/"), example
    if argv[0] == "run" and args.experiment:
        # the experiment's checkpoint globs match files here, model names exist
        from dsnbench.documents import load_document
        from dsnbench.run.sweep import expand_document
        doc = expand_document(load_document(REPO / args.experiment), args.experiment)
        for m in doc.get("models") or []:
            name = m if isinstance(m, str) else m["name"]
            assert name in MODELS or (REPO / name).is_file(), f"{example}: model {name!r}"
    for flag in ("model_a", "model_b"):
        value = getattr(args, flag, None)
        if value is not None:
            assert value in MODELS, f"{example}: --{flag.replace('_', '-')} {value!r} is no model"
    if argv[0] == "plot" and getattr(args, "model", None):
        assert args.model in MODELS, example


# -- the examples that run in seconds, as written --------------------------------------------

@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """A working folder as the README assumes one: the repository's experiments/ and bundled
    checkpoints, with every /data/ root written as a tiny set in its published layout."""
    from dsnbench.testing import write_folder, write_libri2mix, write_wham, write_wsj0_2mix
    box = tmp_path_factory.mktemp("examples")
    data = box / "data"
    write_wsj0_2mix(data / "wsj0-mix" / "2speakers", n=2, seconds=0.5)
    for ov in (100, 50, 25):
        write_wsj0_2mix(data / "wsj0-mix" / "variants" / f"overlap{ov}", n=2, seconds=0.5, seed=ov)
        # where experiments/overlap-variants.yaml reads the variants `dsnbench data variant` built
        write_wsj0_2mix(box / "runs" / "variants" / f"ov{ov}", n=2, seconds=0.5, seed=ov)
    write_wham(data / "wham", n=2, seconds=0.5)
    write_wham(data / "wham_mix", n=2, seconds=0.5)
    write_libri2mix(data / "librimix", n=2, seconds=0.5)
    write_folder(data / "my_mixtures", n=2, seconds=0.5)
    (box / "dsnbench" / "assets").mkdir(parents=True)
    (box / "dsnbench" / "assets" / "checkpoints").symlink_to(REPO / "dsnbench" / "assets" / "checkpoints")
    shutil.copytree(REPO / "experiments", box / "experiments", ignore=shutil.ignore_patterns("train"))
    for path in (box / "experiments").glob("**/*.yaml"):
        path.write_text(path.read_text().replace("/data/", f"{data}/"))
    return box


def _runs_quickly(example: str) -> bool:
    argv = _argv(example)
    if argv[0] == "run":
        return "--scheduler" not in argv or True
    if argv[0] in ("ls", "validate"):
        return True
    if argv[0] == "macs":
        return not argv[1].startswith("asteroid:")
    return False


QUICK = [e for e in EXAMPLES if _runs_quickly(e)]


@pytest.mark.parametrize("example", QUICK)
def test_the_quick_examples_run_as_written(example, sandbox, dsnbench_exe):
    argv = [w.replace("/data/", f"{sandbox}/data/") for w in _argv(example)]
    if argv[0] == "run" and "--dry-run" not in argv:
        argv.append("--dry-run")
    proc = cli(dsnbench_exe, *argv, cwd=sandbox)
    assert proc.returncode == 0, f"{example}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr


def test_latency_example_runs_as_written(dsnbench_exe):
    example = next(e for e in EXAMPLES if e.startswith("dsnbench latency dsn-l1 --json"))
    proc = cli(dsnbench_exe, *_argv(example), "--seconds", "0.25", "--repeats", "1", "--warmup", "0")
    assert proc.returncode == 0, proc.stderr


# -- the examples that read run folders, as written, on demo runs ------------------------------

#: examples that need what no test folder can hold (a placeholder, a user's file, a cluster)
NOT_RUN_HERE = ("ID1", "/path/", "tcp://", "--resume")
#: examples whose run folders must hold what the synthetic demo run does not: said, not hidden
NEEDS_OTHER_RUNS = {
    "--metric sdri": "the demo run has no SDR column",
    "dsnbench stats runs/a runs/b": "needs two one-model runs (the demo run holds every family)",
    "dsnbench stats runs/static runs/dsn": "needs two one-model runs (the demo run holds every family)",
}


def _reads_runs(example: str) -> bool:
    argv = _argv(example)
    return argv[0] in ("plot", "table", "report", "stats", "compare", "history") \
        and not any(tok in example for tok in NOT_RUN_HERE)


ANALYSIS = [e for e in EXAMPLES if _reads_runs(e)]


@pytest.fixture(scope="module")
def analysis_box(tmp_path_factory) -> Path:
    """runs/<name> for every run folder the examples name: the synthetic demo run (every
    family, overlap and noise variants, real audio), results/ as the repository has it."""
    from dsnbench.analysis.demo import write_demo_run
    box = tmp_path_factory.mktemp("analysis-examples")
    demo = write_demo_run(box / "demo", n_utterances=2, seconds=1.0, lambdas=(0.05, 1.0))
    names = {"old", "new"}
    for e in ANALYSIS:
        names |= {w for w in _argv(e) if w.startswith("runs/")}
    for name in names:
        shutil.copytree(demo, box / name)
    shutil.copytree(REPO / "results", box / "results")
    return box


@pytest.mark.parametrize("example", ANALYSIS)
def test_the_examples_on_run_folders_run_as_written(example, analysis_box, dsnbench_exe):
    for marker, reason in NEEDS_OTHER_RUNS.items():
        if marker in example:
            pytest.skip(reason)
    argv = _argv(example)
    proc = cli(dsnbench_exe, *argv, cwd=analysis_box)
    assert "Traceback" not in proc.stderr, f"{example}\n{proc.stderr}"
    # compare: 1 = a regression, 3 = not comparable (the demo run against the committed baseline)
    allowed = (0, 1, 3) if argv[0] == "compare" else (0,)
    assert proc.returncode in allowed, f"{example}\n{proc.stderr}"
