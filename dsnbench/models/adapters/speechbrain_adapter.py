"""A SpeechBrain separation model from a local pretrained folder (``hyperparams.yaml`` + checkpoints).

Needs the optional extra: ``pip install 'dsnbench[speechbrain]'`` (SpeechBrain >= 1.0 and a
torchaudio that loads beside your torch). On the reference machine (torch 2.13 CPU) this is not
possible yet: SpeechBrain 1.1.2 imports torchaudio, and torchaudio 2.11.0 from PyPI fails to
load its library beside torch 2.13 (``OSError: Could not load this library:
.../torchaudio/lib/_torchaudio.abi3.so``); without torchaudio SpeechBrain stops at
``import torchaudio``. The adapter then refuses with that message and what to install.

**Security:** SpeechBrain builds the model from ``hyperparams.yaml``, whose tags name Python
objects to create and call, so loading a folder runs what it names. It is refused unless you
opt in with the option ``trust_code: true`` (or DSNBENCH_TRUST_SPEECHBRAIN=1).

The model is used through SpeechBrain's ``separate_batch`` (``[B, T]`` -> ``[B, T, n_src]``);
its MACs are counted by tracing that call.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .base import ModuleSeparator

TRUST_ENV = "DSNBENCH_TRUST_SPEECHBRAIN"


def _import_separation() -> Any:
    try:
        from speechbrain.inference.separation import SepformerSeparation
    except Exception as exc:  # ImportError, or torchaudio's OSError
        raise ValueError(
            "the speechbrain adapter needs SpeechBrain with a torchaudio that loads beside torch "
            f"{torch.__version__}: pip install 'dsnbench[speechbrain]' "
            f"(here: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    return SepformerSeparation


class SpeechBrainSeparator(ModuleSeparator):
    """``speechbrain:/path/pretrained_folder`` (needs ``trust_code: true``)."""

    def __init__(self, folder: str, trust_code: bool = False, sample_rate: int | None = None,
                 n_src: int | None = None, name: str | None = None, **options: Any) -> None:
        if options:
            raise ValueError(f"speechbrain adapter: unknown option(s) {', '.join(sorted(options))}")
        path = Path(folder)
        if not (path / "hyperparams.yaml").is_file():
            raise ValueError(f"SpeechBrain folder {folder}: no hyperparams.yaml in it")
        sep_class = _import_separation()
        if not (trust_code is True or os.environ.get(TRUST_ENV, "") == "1"):
            raise ValueError(f"SpeechBrain folder {folder}: hyperparams.yaml names Python objects to "
                             f"create, so loading runs code; refused unless you trust it (model option "
                             f"'trust_code: true' or {TRUST_ENV}=1)")
        model = sep_class.from_hparams(source=str(path), savedir=str(path), run_opts={"device": "cpu"})
        rate = sample_rate or int(getattr(model, "hparams", {}).get("sample_rate", 8000)
                                  if isinstance(getattr(model, "hparams", None), dict)
                                  else getattr(model.hparams, "sample_rate", 8000))
        with torch.no_grad():
            probe = model.separate_batch(torch.zeros(1, rate // 2))
        self._sb = model
        super().__init__(model.mods, name or f"speechbrain:{path.name}", n_src or probe.shape[-1], rate,
                         call=lambda _mods, x: model.separate_batch(x).transpose(1, 2),
                         source=str(path))
