"""What the notebooks call to open their runs: the committed results when they hold what the
notebook needs, else the synthetic demo run (said out loud, and stamped on every figure)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..results import ResultsError, RunTables, read_run
from . import gates as gates_mod
from .variants import factors_frame, has_variants


def _has(run: RunTables, need: str | None) -> str | None:
    """None if the run has what ``need`` asks for, else why not."""
    if need == "gates":
        if run.segments.empty or not gates_mod.dynamic_entries(run.segments):
            return "no entry chose more than one width (no trained DSN in it yet)"
    elif need == "variants":
        if not any(has_variants(factors_frame([run])).values()):
            return "no overlap or noise-activity variant datasets"
    return None


def open_runs(paths: Sequence[str | Path], need: str | None = None) -> list[RunTables]:
    """Read the run folders; if one is missing or lacks what ``need`` asks for ("gates",
    "variants", or None), print why and return the synthetic demo run instead."""
    from .demo import ensure_demo_run
    runs: list[RunTables] = []
    reason = None
    for p in paths:
        try:
            run = read_run(p)
        except ResultsError as exc:
            reason = str(exc)
            break
        reason = _has(run, need)
        if reason:
            reason = f"{p}: {reason}"
            break
        runs.append(run)
    if reason is None and runs:
        print("Runs:", ", ".join(str(r.path) for r in runs))
        return runs
    demo = ensure_demo_run()
    print(f"Using the SYNTHETIC demo run ({demo}) because {reason}. Its numbers are not results.")
    return [read_run(demo)]


def show(figures: dict) -> None:
    """Display each figure once in a notebook (and close it, so it is not shown twice)."""
    import matplotlib.pyplot as plt
    try:
        from IPython.display import display
    except ImportError:  # outside IPython: nothing to display into
        display = None
    for fig in figures.values():
        if display is not None:
            display(fig)
        plt.close(fig)
