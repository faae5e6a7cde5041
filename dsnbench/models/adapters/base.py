"""Shared parts of the adapters: a Separator around any ``[B, T] -> [B, n_src, T]`` module."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ...types import ModuleComplexity, Separation, Separator, module_fingerprint


def load_weights_only(path: str | Path, what: str = "checkpoint") -> Any:
    """Load a torch file without running code from it (``weights_only=True``) or a safetensors file.

    Raises ValueError (one line, naming the file) if it is missing, is not a torch file, or
    holds anything but tensors and plain containers (a pickle with a payload is refused).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise ValueError(f"{what} {path}: not a readable safetensors file ({exc})") from None
    try:
        # torch.__version__ (a str subclass) is stored by e.g. Asteroid's serialize(): harmless data
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (not a zip), EOFError...
        text = str(exc)
        match = re.search(r"Unsupported global: GLOBAL [\w.]+", text)
        first = match.group(0) if match else (text.strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{what} {path}: refused or unreadable as weights-only data "
                         f"({type(exc).__name__}: {first[:200]})") from None


class ModuleSeparator(Separator):
    """A Separator around a module mapping ``[B, T]`` mixtures to ``[B, n_src, T]`` estimates.

    ``call(module, x)`` (optional) replaces ``module(x)`` for modules with another signature.
    The output is cut or zero-padded to the input length if the module returns a different one.
    """

    family = "adapter"

    def __init__(self, module: nn.Module, name: str, n_src: int, sample_rate: int | None,
                 call: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
                 length_features: Callable[[int], dict[str, int]] | None = None,
                 source: str = "") -> None:
        self.module = module.eval()
        self.name = name
        self.n_src = int(n_src)
        self.sample_rate = int(sample_rate) if sample_rate else None
        self._call = call
        self._length_features = length_features
        self.source = source

    device = torch.device("cpu")
    precision = "fp32"

    def to_device(self, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        """Move the module; bf16/fp16 run its forward under autocast. It still takes one
        mixture at a time (``batchable`` is False: padding could change another toolkit's
        output)."""
        dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        if precision not in dtypes:
            raise ValueError(f"{self.name}: precision must be one of {', '.join(dtypes)}, got {precision!r}")
        self.device = torch.device(device)
        self.precision = precision
        self.module.to(self.device)

    def forward_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: ``[1, T]`` -> ``[1, n_src, T]``."""
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        x = x.to(self.device)
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = self._call(self.module, x) if self._call is not None else self.module(x)
        out = out.float()
        if out.dim() == 2:
            out = out.unsqueeze(0)
        if out.dim() != 3:
            raise ValueError(f"{self.name}: the model returned shape {tuple(out.shape)}, "
                             "expected [batch, n_src, time]")
        n = x.shape[-1]
        if out.shape[-1] > n:
            out = out[..., :n]
        elif out.shape[-1] < n:
            out = torch.nn.functional.pad(out, (0, n - out.shape[-1]))
        return out

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        with torch.no_grad():
            est = self.forward_batch(mixture.reshape(1, -1).float())[0]
        if est.shape[0] != self.n_src:
            raise ValueError(f"{self.name}: the model returned {est.shape[0]} sources, expected {self.n_src}")
        return Separation(est.detach().cpu().float())

    def params(self) -> int:
        return int(sum(p.numel() for p in self.module.parameters()))

    def weights_fingerprint(self) -> str | None:
        return module_fingerprint(self.module)

    def complexity(self) -> Any:
        return ModuleComplexity(module=self.module, forward=self.forward_batch,
                                length_features=self._length_features,
                                sample_rate=self.sample_rate)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(adapter=type(self).__name__, source=self.source, params=self.params())
        return d
