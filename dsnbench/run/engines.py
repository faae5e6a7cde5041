"""Which engine runs an experiment, and how: the options of ``--engine``, ``--scheduler``,
``--unit-size`` and ``--workers``, and the registry of engines.

Which engine by default: ``local`` (the process pool, no cluster start-up: best for one small
run); ``dask`` when ``--scheduler`` is given or the experiment file says ``engine: dask`` (the
sweep files in ``experiments/sweeps/`` do). ``--engine`` always wins. Every engine is called as
``engine(cfg, out, options, progress=..., log=...)`` and returns the summary.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import Registry
from .config import RunConfig

#: the engines, by ``--engine`` name (lazy: choosing one imports only it)
ENGINES = Registry("engine")
ENGINES.register("local", "dsnbench.run.local_engine:run_experiment",
                 help="this machine: separation here, metrics in a process pool")
ENGINES.register("dask", "dsnbench.run.dask_engine:run_experiment_dask",
                 help="a Dask cluster (a LocalCluster, or --scheduler ADDRESS)")

#: experiment-file keys that choose how a run executes (popped before the config is built, so
#: they never enter the config hash: the same experiment on either engine is the same run)
ENGINE_KEYS = ("engine", "scheduler", "unit_size")


@dataclass(frozen=True)
class EngineOptions:
    """How a run executes: which engine, where, in what units."""

    name: str = "local"
    scheduler: str | None = None     # address of a running Dask scheduler
    n_workers: int | None = None     # LocalCluster worker processes (None: one per usable CPU)
    unit_size: int | None = None     # utterances per work unit (None: the engine's default)


def engine_options(doc: dict, args: argparse.Namespace | None = None) -> EngineOptions:
    """Engine options from the CLI (``--engine``, ``--scheduler``, ``--unit-size``,
    ``--workers``) and the experiment document; removes the engine keys from ``doc``."""
    file_opts = {k: doc.pop(k) for k in ENGINE_KEYS if k in doc}
    cli = (lambda k: getattr(args, k, None)) if args is not None else (lambda k: None)
    scheduler = cli("scheduler") or file_opts.get("scheduler")
    name = cli("engine") or file_opts.get("engine") or ("dask" if scheduler else "local")
    if name not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES.in_order())}, got {name!r}")
    if scheduler and name != "dask":
        raise UserError("--scheduler needs the dask engine (--engine dask)")
    batch = cli("unit_size")
    if batch is None:
        batch = file_opts.get("unit_size")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise UserError(f"unit_size must be a positive integer, got {batch!r}")
    workers = cli("workers")
    if workers is None:
        workers = doc.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise UserError(f"workers must be a positive integer, got {workers!r}")
    return EngineOptions(name, str(scheduler) if scheduler else None, workers, batch)


def run_experiment_with(cfg: RunConfig, out: str | Path, options: EngineOptions, *, progress: bool = True,
                        **kwargs: Any) -> dict:
    """Evaluate ``cfg`` into ``out`` on the engine ``options`` names; returns the summary.

    A run that stops before its first committed row (a model refused, a count that fails, an
    interrupt) leaves no run folder behind (:func:`dsnbench.run.folder.remove_if_unused`)."""
    from .folder import remove_if_unused
    out = Path(out)
    existed, had_run_json = out.exists(), (out / "run.json").exists()
    try:
        return ENGINES.get(options.name)(cfg, out, options, progress=progress, **kwargs)
    except BaseException:
        remove_if_unused(out, existed=existed, had_run_json=had_run_json)
        raise
