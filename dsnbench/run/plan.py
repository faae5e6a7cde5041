"""The plan of a run: which (model, dataset, operating point) entries, in which order, over which
utterances, checked before any work starts. Both engines and ``--dry-run`` build it here.

Order: model, then dataset, then operating point (the models and datasets in the order the
experiment lists them; a model's operating points as the experiment gives them, else as the
model lists them). Every entry is an :class:`~dsnbench.results.EntryKey`; an utterance is done
when its key is in the run folder's done-set (:func:`dsnbench.results.committed_keys`).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DATASETS, load_dataset
from ..errors import UserError
from ..results import EntryKey, committed_keys
from .config import DatasetSpec, ModelSpec, RunConfig
from .folder import RunFolder
from .loading import load_model


#: the lowest sample rate a dataset may have (its 0.25 s segment grid and the metrics need it)
MIN_SAMPLE_RATE = 1000


def dataset_label(spec: DatasetSpec, manifest: Any) -> str:
    """The dataset's name in results: its label, else the registry name plus ``:task`` for
    datasets that have tasks (WHAM!-like), so a WHAM! sep_noisy run is never mistaken for sep_clean."""
    if spec.label:
        return spec.label
    task = manifest.info.get("task")
    takes_task = "task" in inspect.signature(DATASETS.get(spec.name)).parameters
    return f"{spec.name}:{task}" if task and takes_task else spec.name


def load_datasets(cfg: RunConfig) -> dict[str, Any]:
    """Every dataset of ``cfg`` read and validated (``limit`` applied), by result name."""
    manifests = {}
    for ds in cfg.datasets:
        manifest = load_dataset(ds.name, **ds.reader_options()).limit(cfg.limit)
        if len(manifest) and manifest.sample_rate < MIN_SAMPLE_RATE:
            raise UserError(f"{manifest.root}: its audio is at {manifest.sample_rate} Hz; dsnbench scores speech "
                            f"at {MIN_SAMPLE_RATE} Hz or more (its segment grid and metrics need it)")
        name = dataset_label(ds, manifest)
        if name in manifests:
            raise UserError(f"dataset {name!r} is listed twice; give one a 'label'")
        manifests[name] = manifest
    return manifests


def load_models(cfg: RunConfig, *, all_models: bool = True) -> dict[str, tuple[ModelSpec, Any]]:
    """(spec, separator) of every model by result name. With ``all_models=False`` only the
    models whose operating points the experiment does not give are loaded (to ask them); the
    others get None."""
    models: dict[str, tuple[ModelSpec, Any]] = {}
    for spec in cfg.models:
        if spec.result_name in models:
            raise UserError(f"model {spec.result_name!r} is listed twice; give one a 'label'")
        load = all_models or spec.operating_points is None
        models[spec.result_name] = (spec, load_model(spec) if load else None)
    return models


def model_operating_points(spec: ModelSpec, separator: Any | None) -> tuple[float | None, ...]:
    """The operating points an entry list uses: the spec's own, else the model's."""
    if spec.operating_points is not None:
        return tuple(spec.operating_points)
    if separator is None:
        raise ValueError("needs the loaded model to list its operating points")
    return tuple(separator.operating_points())


def with_operating_points(cfg: RunConfig, operating_points: list[float]) -> RunConfig:
    """``cfg`` with ``operating_points`` given to each model that has operating points of its
    own (a DSN's gate betas) and whose entry names none; the others are left as they are. None
    of them taking them is a UserError (``--operating-point`` would apply to nothing)."""
    import dataclasses
    specs, took = [], False
    for spec in cfg.models:
        if spec.operating_points is None and list(load_model(spec).operating_points()) != [None]:
            spec = dataclasses.replace(spec, operating_points=tuple(float(o) for o in operating_points))
            took = True
        specs.append(spec)
    if not took:
        raise UserError("--operating-point: no model here has operating points of its own to take them "
                        f"({', '.join(s.result_name for s in cfg.models) or 'no models'})")
    return dataclasses.replace(cfg, models=tuple(specs))


@dataclass
class Plan:
    """The models, the datasets and the entries of a run, in run order."""

    models: dict[str, tuple[ModelSpec, Any]]
    manifests: dict[str, Any]
    keys: list[EntryKey]

    @classmethod
    def of(cls, models: dict[str, tuple[ModelSpec, Any]], manifests: dict[str, Any]) -> "Plan":
        keys = [EntryKey.of(mname, dname, op)
                for mname, (spec, sep) in models.items()
                for dname in manifests
                for op in model_operating_points(spec, sep)]
        return cls(models, manifests, keys)

    def separator(self, key: EntryKey) -> Any:
        return self.models[key.model][1]

    def todo(self, key: EntryKey, done: set[tuple]) -> list[Any]:
        """The utterances of ``key``'s dataset not yet committed for ``key``, in manifest order."""
        return [u for u in self.manifests[key.dataset] if key.utterance(u.utt_id) not in done]

    def check_entry(self, key: EntryKey) -> None:
        """Set the entry's model up for its dataset and operating point (what the engines do
        before its first utterance); a model that cannot run it is a UserError."""
        try:
            sep = self.separator(key)
            sep.prepare(self.manifests[key.dataset].sample_rate)
            sep.set_operating_point(key.operating_point)
        except ValueError as exc:
            hint = ""
            if key.operating_point is not None and list(self.separator(key).operating_points()) == [None]:
                hint = " (an --operating-point belongs to the --model it follows)"
            raise UserError(f"model {key.model!r} on dataset {key.dataset!r}: {exc}{hint}") from None


@dataclass
class PreparedRun:
    """A run ready to start: its plan, its claimed folder (store and done-set)."""

    cfg: RunConfig
    out: Path
    plan: Plan
    folder: RunFolder

    @property
    def done(self) -> set[tuple]:
        return self.folder.done

    def todo(self, key: EntryKey) -> list[Any]:
        return self.plan.todo(key, self.done)

    def n_todo(self) -> int:
        return sum(len(self.todo(k)) for k in self.plan.keys)


def place_for_inference(sep: Any, cfg: RunConfig) -> None:
    """Put the separator on the run's device in its precision (its MAC table is built before,
    on the CPU, and does not depend on either). A model that cannot run there is a UserError."""
    try:
        sep.to_device(resolve_device(cfg.device), cfg.precision)
    except ValueError as exc:
        raise UserError(f"model {sep.name!r}: {exc}") from None


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``; ``cuda``/``cuda:N`` without one
    is a one-line UserError."""
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device {name!r}: this torch sees no usable CUDA device")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"device {name!r}: there are {torch.cuda.device_count()} CUDA device(s)")
    return name


def input_fingerprints(models: dict[str, tuple[ModelSpec, Any]], manifests: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a run's rows depend on beyond its config: each dataset's content fingerprint and
    each model's weights fingerprint (recorded in run.json, checked on resume)."""
    try:
        datasets = {name: m.content_fingerprint() for name, m in manifests.items()}
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return {"datasets": datasets,
            "models": {name: sep.weights_fingerprint() for name, (_, sep) in models.items() if sep is not None}}


def check_metric_settings(cfg: RunConfig, manifests: dict[str, Any]) -> None:
    """The run's metric settings (``--metrics``, ``--pesq-mode``) valid at every dataset's sample
    rate; else a one-line UserError naming the dataset (e.g. wide-band PESQ on 8 kHz data)."""
    from ..metrics.suite import make_suite
    for name, manifest in manifests.items():
        try:
            make_suite(cfg.metrics, manifest.sample_rate, cfg.pesq_mode)
        except (ValueError, KeyError) as exc:
            raise UserError(f"dataset {name!r} ({manifest.sample_rate} Hz): {exc}") from None


def checked_plan(cfg: RunConfig) -> Plan:
    """Models loaded (names checked), datasets read and validated, the metric settings checked
    at every sample rate and every entry set up once on its model: all that a run refuses is
    refused here, and ``--dry-run`` and a run call it alike."""
    models = load_models(cfg)
    manifests = load_datasets(cfg)
    check_metric_settings(cfg, manifests)
    plan = Plan.of(models, manifests)
    for key in plan.keys:
        plan.check_entry(key)
    return plan


def prepare_run(cfg: RunConfig, out: str | Path) -> PreparedRun:
    """Everything checked before work starts, for every engine (:func:`checked_plan`), the
    models placed on the run's device, then the run folder claimed for this config (its lock
    taken, its inputs' fingerprints recorded or checked), with the utterances already committed
    there. A run refused here leaves no folder behind."""
    plan = checked_plan(cfg)
    for _, sep in plan.models.values():
        place_for_inference(sep, cfg)
    folder = RunFolder(Path(out), cfg, input_fingerprints(plan.models, plan.manifests))
    return PreparedRun(cfg, Path(out), plan, folder)


# ---------------------------------------------------------------------------------------------
# --dry-run
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedEntry:
    """One (model, dataset, operating point) of a run and its utterance counts."""

    model: str
    dataset: str
    operating_point: float | None
    n_utterances: int
    n_done: int = 0  # already committed in the run folder (resume)


def plan_entries(cfg: RunConfig, out: str | Path | None = None) -> list[PlannedEntry]:
    """Expand a RunConfig into its entries with utterance counts, without evaluating anything.

    Checks what a run would check before its first row (:func:`checked_plan`: models loaded,
    layouts validated, metric settings, every entry set up on its model), so a dry run that
    passes is a run that starts. With ``out``, counts the utterances already committed there
    (read-only; nothing is written).
    """
    plan = checked_plan(cfg)
    manifests = plan.manifests
    done = committed_keys(out) if out is not None else set()
    return [PlannedEntry(*key, len(manifests[key.dataset]), len(manifests[key.dataset]) - len(plan.todo(key, done)))
            for key in plan.keys]


def format_plan(entries: list[PlannedEntry], show_done: bool = False) -> str:
    """The entries as a text table with a total line."""
    header = ["#", "model", "dataset", "op", "utterances"] + (["done"] if show_done else [])
    rows = []
    for i, e in enumerate(entries, 1):
        op = "-" if e.operating_point is None else f"{e.operating_point:g}"
        rows.append([str(i), e.model, e.dataset, op, str(e.n_utterances)]
                    + ([str(e.n_done)] if show_done else []))
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(header)]
    right = {0, 4, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if j in right else c.ljust(w)
                         for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [line(header)] + [line(r) for r in rows]
    total = sum(e.n_utterances for e in entries)
    n_models = len(dict.fromkeys(e.model for e in entries))
    n_datasets = len(dict.fromkeys(e.dataset for e in entries))
    summary = (f"{len(entries)} entries ({n_models} models x {n_datasets} datasets x operating points), "
               f"{total} utterance evaluations")
    if show_done:
        done = sum(e.n_done for e in entries)
        summary += f", {done} already committed, {total - done} to run"
    lines += ["", summary]
    return "\n".join(lines)
