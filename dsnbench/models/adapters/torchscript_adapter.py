"""A TorchScript file as a separator.

**Security:** a TorchScript file holds code, and ``torch.jit.load`` runs it. Unlike every other
checkpoint dsnbench reads (weights-only data), such a file must come from someone you trust.
So it is refused unless you opt in: the model option ``trust_code: true`` (experiment file) or
the environment variable ``DSNBENCH_TRUST_TORCHSCRIPT=1``.

The scripted module must map a mixture ``[B, T]`` to ``[B, n_src, T]`` (give ``n_src`` and
``sample_rate`` as options; defaults 2 and 8000). Its MACs are **not defined** here (NaN in
the results, never 0): fvcore cannot attach to scripted modules and the tracer records no
shapes inside scripted code. To count the same model, load it with the ``class:`` adapter
(its Python class plus a state dict).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .base import ModuleSeparator

TRUST_ENV = "DSNBENCH_TRUST_TORCHSCRIPT"


class TorchScriptSeparator(ModuleSeparator):
    """``torchscript:/path/model.pt`` (needs ``trust_code: true`` or DSNBENCH_TRUST_TORCHSCRIPT=1)."""

    def __init__(self, path: str, trust_code: bool = False, n_src: int = 2,
                 sample_rate: int = 8000, name: str | None = None, **options: Any) -> None:
        if options:
            raise ValueError(f"torchscript adapter: unknown option(s) {', '.join(sorted(options))}")
        if not (trust_code is True or os.environ.get(TRUST_ENV, "") == "1"):
            raise ValueError(f"TorchScript file {path}: loading it runs the code inside it; refused "
                             f"unless you trust it (model option 'trust_code: true' or {TRUST_ENV}=1)")
        if not Path(path).is_file():
            raise ValueError(f"TorchScript file {path}: no such file")
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # RuntimeError for a non-TorchScript file
            raise ValueError(f"TorchScript file {path}: not loadable by torch.jit.load "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from None
        super().__init__(module, name or f"torchscript:{Path(path).name}", n_src, sample_rate,
                         source=str(path))

    def complexity(self) -> None:
        """Not countable (see the module docstring): NaN MACs, recorded as undefined."""
        return None
