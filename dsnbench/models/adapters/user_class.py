"""Your own ``nn.Module`` class by import path, plus a state dict loaded as data.

``class:package.module:ClassName@/path/weights.pt`` (or ``weights:`` as an option). Importing
the class runs its module's code, so, as for ``torchscript:``, it needs an explicit opt-in: the
model option ``trust_code: true`` or DSNBENCH_TRUST_CLASS=1; without it nothing is imported.
The weights file is only ever read as data:
``torch.load(weights_only=True)`` or safetensors. Constructor keyword arguments go in the
option ``init: {...}``; ``n_src`` (default 2) and ``sample_rate`` (default 8000) describe the
model. A dict with a ``state_dict`` key (a common training checkpoint layout) is accepted too.
The module must map ``[B, T]`` to ``[B, n_src, T]`` (or ``[n_src, T]`` for one mixture).
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Mapping

import torch
from torch import nn

from .base import ModuleSeparator, load_weights_only

#: the environment switch that trusts every ``class:`` model (as ``trust_code: true`` does one)
TRUST_ENV = "DSNBENCH_TRUST_CLASS"


def import_class(target: str) -> type:
    """``package.module:Class`` (or ``package.module.Class``) -> the class; ValueError if absent."""
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"class {target!r}: expected 'package.module:ClassName'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"class {target!r}: cannot import {module_name!r} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"class {target!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ValueError(f"class {target!r} is not a torch.nn.Module subclass")
    return obj


class UserClassSeparator(ModuleSeparator):
    """``class:package.module:ClassName@weights`` as a dsnbench separator."""

    def __init__(self, target: str, weights: str | None = None, init: Mapping[str, Any] | None = None,
                 n_src: int = 2, sample_rate: int = 8000, name: str | None = None,
                 strict: bool = True, trust_code: bool = False, **options: Any) -> None:
        if options:
            raise ValueError(f"class adapter: unknown option(s) {', '.join(sorted(options))}")
        class_path, _, at_weights = target.partition("@")
        if not (trust_code is True or os.environ.get(TRUST_ENV, "") == "1"):
            raise ValueError(f"class {class_path!r}: importing it runs its module's code; refused unless you "
                             f"trust it (model option 'trust_code: true' or {TRUST_ENV}=1)")
        weights = weights or at_weights or None
        if not weights:
            raise ValueError(f"class {class_path!r}: no weights given (append @/path/weights.pt "
                             "or give the option 'weights')")
        cls = import_class(class_path)
        try:
            module = cls(**dict(init or {}))
        except TypeError as exc:
            raise ValueError(f"class {class_path!r}: constructor failed ({exc})") from None
        state = load_weights_only(weights, "weights")
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"weights {weights}: expected a state dict of tensors")
        ours = module.state_dict()
        missing = sorted(set(ours) - set(state))
        unexpected = sorted(set(state) - set(ours))
        if strict and (missing or unexpected):
            raise ValueError(f"weights {weights} do not fit {class_path}: "
                             f"{len(missing)} missing (e.g. {', '.join(missing[:3]) or '-'}), "
                             f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3]) or '-'})")
        bad = [k for k in ours if k in state and tuple(ours[k].shape) != tuple(state[k].shape)]
        if bad:
            raise ValueError(f"weights {weights}: shape of {bad[0]} is {tuple(state[bad[0]].shape)}, "
                             f"the model has {tuple(ours[bad[0]].shape)}")
        module.load_state_dict(state, strict=strict)
        super().__init__(module, name or f"class:{class_path.rpartition(':')[2]}", n_src,
                         sample_rate, source=f"{class_path}@{weights}")
        length_features = getattr(module, "length_features", None)
        self._length_features = length_features if callable(length_features) else None
