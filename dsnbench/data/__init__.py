"""Data: dataset readers (published layouts), manifests, labels, variants, the mini benchmark."""
from __future__ import annotations

import argparse
import inspect
from typing import Any

from ..registry import Registry
from .manifest import DatasetError, Manifest, Utterance

DATASETS = Registry("dataset")

DATASETS.register("wsj0-2mix", "dsnbench.data.layouts:wsj0_2mix",
                  help="WSJ0-2mix: <root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix,s1,s2}", needs_root=True)
DATASETS.register("wham", "dsnbench.data.layouts:wham",
                  help="WHAM!: <root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix_clean,mix_both,mix_single,s1,s2,noise}; --task",
                  needs_root=True)
DATASETS.register("libri2mix", "dsnbench.data.layouts:libri2mix",
                  help="Libri2Mix: <root>/Libri2Mix/wav{8k,16k}/{min,max}/{train-100,train-360,dev,test}/...; --task",
                  needs_root=True)
DATASETS.register("whamr", "dsnbench.data.layouts:whamr",
                  help="WHAMR!: <root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix_*_{anechoic,reverb},s{1,2}_{anechoic,reverb},noise}; "
                       "--task sep_clean|sep_noisy|sep_reverb|sep_reverb_noisy (anechoic targets)",
                  needs_root=True)
DATASETS.register("folder", "dsnbench.data.layouts:folder",
                  help="any data: <root>/{mix,s1,s2[,noise]}/<id>.wav [+ <root>/metadata.csv]", needs_root=True)
DATASETS.register("mini-2mix", "dsnbench.data.layouts:mini_2mix",
                  help="bundled: 40 LibriSpeech test-other mixtures, WSJ0-2mix layout and mixing, 8 kHz min (no --root)",
                  needs_root=False)
DATASETS.register("mini-wham", "dsnbench.data.layouts:mini_wham",
                  help="bundled: mini-2mix plus real noise at WHAM! levels, WHAM! layout (no --root); --task",
                  needs_root=False)
DATASETS.register("mini-2mix-large", "dsnbench.data.layouts:mini_2mix_large",
                  help="200 mixtures of the mini-2mix recipe (first 40 = mini-2mix), built once from ../shared/data "
                       "into ~/.cache/dsnbench or --root",
                  needs_root="optional")
DATASETS.register("mini-wham-large", "dsnbench.data.layouts:mini_wham_large",
                  help="mini-2mix-large plus real noise at WHAM! levels, built like it; --task",
                  needs_root="optional")

#: the generic dataset options shared by ``dsnbench run``, ``validate`` and ``data variant``
DATASET_OPTIONS = ("root", "sample_rate", "mode", "split", "task")


def add_dataset_arguments(parser: argparse.ArgumentParser, *, dataset_flag: str | None = "--dataset",
                          dataset_required: bool = True) -> None:
    """Add ``--dataset NAME --root DIR --sample-rate --mode --split --task`` to ``parser``
    (``dataset_flag`` None: the reader options only; the caller names the dataset its own way).

    Options left out stay None, so each reader's own default applies (and a YAML value is not
    overridden by a CLI default). Use :func:`dataset_options` to collect them from ``args``.
    A new reader option is one more name in :data:`DATASET_OPTIONS` and its argument here.
    """
    if dataset_flag is not None:
        parser.add_argument(dataset_flag, dest="dataset", metavar="NAME", required=dataset_required,
                            help="registered dataset (dsnbench ls datasets), e.g. wsj0-2mix, wham, mini-2mix")
    parser.add_argument("--root", metavar="DIR", default=None,
                        help="corpus root, where the published layout starts (not needed for mini-2mix, mini-wham)")
    parser.add_argument("--sample-rate", type=int, choices=(8000, 16000), default=None,
                        help="8000 or 16000 (default: the dataset's, 8000 for the WSJ0 family)")
    parser.add_argument("--mode", choices=("min", "max"), default=None, help="min or max (default: min)")
    parser.add_argument("--split", default=None,
                        help="tt, cv, tr (Libri2Mix: test, dev, train-100, train-360; default: the test split)")
    parser.add_argument("--task", default=None,
                        help="WHAM!-like sets: sep_clean, sep_noisy, enh_single, enh_both "
                             "(WHAMR!: sep_clean, sep_noisy, sep_reverb, sep_reverb_noisy)")


def dataset_options(args: argparse.Namespace) -> dict[str, Any]:
    """The dataset options given on the command line (those left out are not included)."""
    return {k: getattr(args, k) for k in DATASET_OPTIONS if getattr(args, k, None) is not None}


def load_dataset(name: str, **opts: Any) -> Manifest:
    """Read dataset ``name`` with reader options (root, sample_rate, mode, split, task, ...).

    Options that are None are left to the reader's defaults. An option the reader does not
    take, a missing ``root``, an unknown name or a broken layout raise
    :class:`dsnbench.errors.UserError` with one line. ``problems=[]`` collects layout problems
    instead of raising on the first (see :func:`dsnbench.data.layouts.collect`).
    """
    from ..errors import UserError
    from ..registry import UnknownNameError

    try:
        entry = DATASETS.entry(name)
    except UnknownNameError as exc:
        raise UserError(str(exc)) from None
    opts = {k: v for k, v in opts.items() if v is not None}
    reader = entry.load()
    params = inspect.signature(reader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    needs_root = entry.meta.get("needs_root", True)
    if needs_root is True:
        if "root" not in opts:
            raise UserError(f"dataset {name!r} needs --root DIR ({entry.help})")
    elif needs_root is False and "root" in opts:
        raise UserError(f"dataset {name!r} is bundled with dsnbench and takes no --root")
    if not takes_any:
        unknown = sorted(k for k in opts if k not in params)
        if unknown:
            flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
            raise UserError(f"dataset {name!r} does not take {flags}")
    try:
        return reader(**opts)
    except DatasetError as exc:
        raise UserError(str(exc)) from None


__all__ = ["DATASETS", "DATASET_OPTIONS", "DatasetError", "Manifest", "Utterance",
           "add_dataset_arguments", "dataset_options", "load_dataset"]
