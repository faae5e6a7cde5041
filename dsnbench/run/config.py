"""Run configuration: frozen dataclasses built from an experiment YAML, CLI options and
``--set key=value`` overrides, with a stable hash (design section 2).

Experiment file format (every key optional; CLI options override the file)::

    models:                     # registry names, checkpoint paths or adapter specs
      - oracle-mixture
      - {name: dsn-l0.1, operating_points: [0.0, 0.5, 1.0]}
    datasets:
      - mini-2mix
      - {name: wsj0-2mix, root: /data/wsj0-mix/2speakers, sample_rate: 8000, mode: min, split: tt}
      - {name: wham, root: /data/wham, task: sep_noisy}
    metrics: [si_snr, sdr, pesq, stoi, estoi]   # default: all registered
    limit: null                 # evaluate only the first N utterances of each dataset
    workers: 2                  # metric worker processes (one thread each)
    device: cpu                 # inference device: cpu, cuda, cuda:N or auto
    batch_size: 1               # mixtures per inference batch (bucketed by length)
    precision: fp32             # inference precision: fp32, bf16 or fp16

Overrides address keys by dotted path, list items by index: ``--set limit=5``,
``--set datasets.0.root=/data/2speakers``, ``--set models.1.operating_points=[0,1]``.
Values are parsed as YAML scalars/flow collections.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from ..documents import apply_override, load_document, parse_override  # noqa: F401 (load_document: part of this module's API)
from ..errors import UserError
from .sweep import expand_document

#: keys that change how a run executes but not what it computes: left out of the hash (the
#: device and the batch size change results only by float rounding, and are recorded in
#: summary.json; the precision changes them more and is hashed)
RUNTIME_KEYS = ("workers", "progress", "chunk_size", "device", "batch_size")
#: inference precisions (``--precision``)
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate: a registry name, a checkpoint path, or ``adapter:path``."""

    name: str
    operating_points: tuple[float | None, ...] | None = None  # None = the model's own list
    label: str | None = None  # name used in the results (default: ``name``)
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def result_name(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: a registered reader name and its options."""

    name: str
    root: str | None = None
    sample_rate: int | None = None  # None: the reader's default (8000 for the WSJ0 family)
    mode: str | None = None
    split: str | None = None
    task: str | None = None
    label: str | None = None  # name used in the results (default: name, plus ":task" for sets with tasks)
    options: tuple[tuple[str, Any], ...] = ()

    def reader_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {k: getattr(self, k) for k in ("root", "sample_rate", "mode", "split", "task")
                                if getattr(self, k) is not None}
        opts.update(dict(self.options))
        return opts


@dataclass(frozen=True)
class RunConfig:
    """Everything one ``dsnbench run`` computes, resolved and frozen."""

    models: tuple[ModelSpec, ...]
    datasets: tuple[DatasetSpec, ...]
    metrics: tuple[str, ...] | None = None
    pesq_mode: str | None = None
    limit: int | None = None
    seed: int = 0
    workers: int = 2
    chunk_size: int = 8
    device: str = "cpu"
    batch_size: int = 1
    precision: str = "fp32"
    #: a model whose forward uses an op with no MAC rule: "error" (refuse) or "nan" (MACs unknown)
    uncounted_ops: str = "error"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for m in d["models"]:
            m["options"] = dict(m["options"])
            if m["operating_points"] is not None:
                m["operating_points"] = list(m["operating_points"])
        for ds in d["datasets"]:
            ds["options"] = dict(ds["options"])
        if d["metrics"] is not None:
            d["metrics"] = list(d["metrics"])
        return d

    def hash(self) -> str:
        """sha256 (16 hex) of the canonical JSON of what the run computes."""
        d = self.to_dict()
        for k in RUNTIME_KEYS:
            d.pop(k, None)
        if d.get("precision") == "fp32":
            d.pop("precision")       # the default: hashes of runs from before the key stay valid
        if d.get("uncounted_ops") == "error":
            d.pop("uncounted_ops")   # likewise
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return v


def _named_item(item: Any, kind: str, where: str) -> tuple[str, dict]:
    """(name, the other fields) of a list item that is a name or a mapping with 'name'."""
    if isinstance(item, str):
        return item, {}
    if not isinstance(item, dict) or "name" not in item:
        raise UserError(f"{where}: a {kind} is a name or a mapping with 'name', got {item!r}")
    item = dict(item)
    return str(item.pop("name")), item


def _model_spec(item: Any, where: str) -> ModelSpec:
    name, item = _named_item(item, "model", where)
    ops = item.pop("operating_points", None)
    if ops is not None:
        if not isinstance(ops, (list, tuple)):
            ops = [ops]
        ops = tuple(None if o is None else float(o) for o in ops)
    label = item.pop("label", None)
    for key in item:
        if not str(key).isidentifier() or str(key).startswith("_"):
            raise UserError(f"{where}: model {name!r}: {key!r} is not an option name")
    if label is None and item.get("allocation") is not None:  # never the same results name as the model itself
        label = f"{name}+{item['allocation']}"
    return ModelSpec(name=name, operating_points=ops, label=label, options=_freeze(item))


_DATASET_FIELDS = {"root", "sample_rate", "mode", "split", "task", "label"}


def _dataset_spec(item: Any, where: str) -> DatasetSpec:
    name, item = _named_item(item, "dataset", where)
    known = {k: item.pop(k) for k in list(item) if k in _DATASET_FIELDS}
    if "sample_rate" in known:
        known["sample_rate"] = strict_int(known["sample_rate"], f"{where}: dataset {name!r}: sample_rate", 1)
    if known.get("root") is not None:
        known["root"] = str(known["root"])
    return DatasetSpec(name=name, options=_freeze(item), **known)


_TOP_KEYS = {"models", "datasets", "metrics", "pesq_mode", "limit", "seed", "workers", "chunk_size",
             "device", "batch_size", "precision", "uncounted_ops"}


def strict_int(value: Any, what: str, minimum: int) -> int:
    """An integer of at least ``minimum`` (YAML or ``--set`` text of one); anything else, a
    bool, a float or a list included, is a one-line UserError naming ``what``."""
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{what} must be an integer of at least {minimum}, got {value!r}")
    return value


def check_metric_names(metrics: Any, where: str) -> tuple[str, ...] | None:
    """The metric names, each a registered metric (did-you-mean otherwise), or None (all)."""
    if metrics is None:
        return None
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not isinstance(metrics, (list, tuple)) or not all(isinstance(m, str) for m in metrics):
        raise UserError(f"{where}: metrics must be a list of names, got {metrics!r}")
    from ..metrics import METRICS
    from ..registry import UnknownNameError
    for m in metrics:
        try:
            METRICS.entry(m)
        except UnknownNameError as exc:
            raise UserError(f"{where}: {exc}") from None
    return tuple(metrics) or None


def check_device(value: Any, where: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto``; anything else is a one-line UserError. (Whether
    the device exists is checked when the run starts.)"""
    import re
    text = str(value).strip()
    if not re.fullmatch(r"cpu|auto|cuda(:\d+)?", text):
        raise UserError(f"{where}: device must be cpu, cuda, cuda:N or auto, got {value!r}")
    return text


def build_config(doc: dict, overrides: list[str] = (), where: str = "config") -> RunConfig:
    """Resolve a document (from YAML and CLI options) plus ``--set`` overrides into a RunConfig."""
    doc = copy.deepcopy(doc)
    for text in overrides:
        path, value = parse_override(text)
        apply_override(doc, path, value, text)
    doc = expand_document(doc, where)  # sweep/glob/range syntax -> plain lists
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        k = sorted(unknown)[0]
        close = difflib.get_close_matches(k, sorted(_TOP_KEYS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UserError(f"{where}: unknown key {k!r}{hint}")
    models = doc.get("models") or []
    datasets = doc.get("datasets") or []
    if isinstance(models, (str, dict)):
        models = [models]
    if isinstance(datasets, (str, dict)):
        datasets = [datasets]
    if not models:
        raise UserError(f"{where}: no models given (--model NAME or 'models:' in the experiment file)")
    if not datasets:
        raise UserError(f"{where}: no datasets given (--dataset NAME or 'datasets:' in the experiment file)")
    metrics = check_metric_names(doc.get("metrics"), where)
    limit = doc.get("limit")
    if limit is not None:
        limit = strict_int(limit, f"{where}: limit", 1)
    workers = strict_int(doc.get("workers", 2), f"{where}: workers", 1)
    pesq_mode = doc.get("pesq_mode")
    if pesq_mode is not None and pesq_mode not in ("nb", "wb"):
        raise UserError(f"{where}: pesq_mode must be nb or wb (or left out: by the sample rate), got {pesq_mode!r}")
    batch_size = doc.get("batch_size", 1)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")
    precision = str(doc.get("precision", "fp32"))
    if precision not in PRECISIONS:
        raise UserError(f"{where}: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    uncounted = str(doc.get("uncounted_ops", "error"))
    if uncounted not in ("error", "nan"):
        raise UserError(f"{where}: uncounted_ops must be 'error' or 'nan', got {uncounted!r}")
    return RunConfig(
        models=tuple(_model_spec(m, where) for m in models),
        datasets=tuple(_dataset_spec(d, where) for d in datasets),
        metrics=metrics,
        pesq_mode=pesq_mode,
        limit=limit,
        seed=strict_int(doc.get("seed", 0), f"{where}: seed", 0),
        workers=workers,
        chunk_size=strict_int(doc.get("chunk_size", 8), f"{where}: chunk_size", 1),
        device=check_device(doc.get("device", "cpu"), where),
        batch_size=batch_size,
        precision=precision,
        uncounted_ops=uncounted,
    )
