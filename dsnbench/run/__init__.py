"""Running an experiment: the only place that brings models, data, complexity and metrics
together (design section 8).

From an experiment to a run folder, one module each:

- :mod:`.config`: the run configuration (frozen dataclasses from an experiment document and
  ``--set`` overrides; hashed), after :mod:`.sweep` expanded the sweep syntax;
- :mod:`.loading`: a model spec -> a separator; :mod:`.plan`: the datasets read and validated,
  the models loaded, the (model, dataset, operating point) entries in order, the run folder
  claimed (:mod:`.folder`) with its done-set; ``--dry-run``;
- :mod:`.unit`: the evaluation of one utterance (separate, price, score, rows), which both
  engines call; :mod:`.jobs`: the metric job a worker process computes;
- :mod:`.local_engine` (separation here, metrics in :mod:`.pool`) and :mod:`.dask_engine` (all
  on Dask workers), chosen by :mod:`.engines`; :mod:`.progress`: the progress bar;
- :mod:`.summary`: ``summary.json`` and the final tables.

The names below are importable from here; each is imported on first use, so importing this
package stays light (metric worker processes import :mod:`.jobs` through it).
"""
from __future__ import annotations

from ..registry import lazy_attributes

_EXPORTS = {
    "RunConfig": "config", "ModelSpec": "config", "DatasetSpec": "config", "build_config": "config",
    "load_document": "config", "load_model": "loading", "plan_entries": "plan", "format_plan": "plan",
    "prepare_run": "plan", "UtteranceEvaluator": "unit", "EngineOptions": "engines",
    "engine_options": "engines", "run_experiment_with": "engines", "run_experiment": "local_engine",
    "run_experiment_dask": "dask_engine", "build_summary": "summary",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
