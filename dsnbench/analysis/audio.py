"""Find the audio of an utterance of a run, for waveform figures; never fatal.

The run's summary names the dataset; the run's config (``summary["config"]["datasets"]``)
says how it was read (reader name, root, options), and is used first; else the ``datasets``
section may carry the reader name (``layout``/``reader``), its ``root`` and reader options. A caller can instead hand over a :class:`~dsnbench.data.Manifest` or a root folder.
When the audio cannot be found, :func:`find_audio` returns the reason instead of raising, so a
figure can say "waveform not available: <reason>" and still draw the gate decisions.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_READER_OPTIONS = ("sample_rate", "mode", "split", "task")


@dataclass
class UtteranceAudio:
    """Shape: ``mixture [T]``, ``sources [n_src, T]``."""

    sample_rate: int
    mixture: np.ndarray
    sources: np.ndarray


def _spec_for(summary: dict, dataset: str) -> dict | None:
    """The run config's dataset spec whose results carry the name ``dataset``."""
    specs = ((summary.get("config") or {}).get("datasets")) or []
    base, _, task = dataset.partition(":")
    for spec in specs:
        if not isinstance(spec, dict):
            continue
        if spec.get("label") == dataset:
            return spec
    for spec in specs:
        if isinstance(spec, dict) and not spec.get("label") and spec.get("name") in (dataset, base):
            if not task or spec.get("task") in (None, task):
                return spec
    return None


def _manifest_for(summary: dict, dataset: str, root: str | Path | None) -> Any:
    """Re-read a dataset of a run: from the run's config (what ``dsnbench run`` records), else
    from reader hints in ``summary["datasets"][dataset]`` (``layout``/``reader``, ``root``, options)."""
    from ..data import DATASETS, load_dataset
    spec = _spec_for(summary, dataset)
    if spec is not None:
        opts = {k: spec.get(k) for k in _READER_OPTIONS + ("root",) if spec.get(k) is not None}
        opts.update(spec.get("options") or {})
        _, _, task = dataset.partition(":")
        if task and "task" not in opts:
            opts["task"] = task
        if root is not None:
            opts["root"] = str(root)
        return load_dataset(spec["name"], **opts)
    info = dict((summary.get("datasets") or {}).get(dataset) or {})
    if isinstance(info.get("info"), dict):
        info = {**info["info"], **{k: v for k, v in info.items() if k != "info"}}
    reader = info.get("layout") or info.get("reader") or dataset.partition(":")[0]
    if reader not in DATASETS:
        raise LookupError(f"dataset {dataset!r}: no known reader (summary names {reader!r}); pass a manifest")
    factory = DATASETS.get(reader)
    accepted = set(inspect.signature(factory).parameters)
    kwargs = {k: info[k] for k in _READER_OPTIONS if k in info and k in accepted}
    r = root if root is not None else info.get("root")
    if r is not None and "root" in accepted:
        kwargs["root"] = str(r)
    return load_dataset(reader, **kwargs)


def find_audio(summary: dict, dataset: str, utt_id: str, manifest: Any = None,
               root: str | Path | None = None) -> UtteranceAudio | str:
    """The utterance's mixture and sources, or a one-line reason why they are not available."""
    from ..data.manifest import load_utterance
    try:
        man = manifest if manifest is not None else _manifest_for(summary, dataset, root)
        utt = next((u for u in man if u.utt_id == utt_id), None)
        if utt is None:
            return f"utterance {utt_id!r} is not in the manifest of {dataset!r}"
        mix, srcs, _ = load_utterance(utt)
        return UtteranceAudio(int(utt.sample_rate), mix, srcs)
    except Exception as exc:  # any failure only costs the waveform panel
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return msg[:160]
