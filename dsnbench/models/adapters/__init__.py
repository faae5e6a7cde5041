"""Adapters: benchmark models from other toolkits through the one Separator interface.

``dsnbench run --model KIND:TARGET`` (or a ``models:`` entry ``{name: "KIND:TARGET", ...}`` in an
experiment file, whose other keys are passed as options):

- ``asteroid:/path/model.pth``: a model saved with Asteroid's ``serialize()`` (``model_name``,
  ``model_args``, ``state_dict``), read weights-only into dsnbench's own Conv-TasNet /
  DPRNN-TasNet with Asteroid's parameter layout. Asteroid itself is not needed.
- ``speechbrain:/path/folder``: a SpeechBrain separation model from a local pretrained folder
  (``hyperparams.yaml`` + checkpoints); needs the optional extra ``pip install dsnbench[speechbrain]``.
- ``torchscript:/path/model.pt``: a TorchScript file. **Loading TorchScript runs the code stored
  in the file**, so it is refused unless you opt in with the option ``trust_code: true`` or the
  environment variable ``DSNBENCH_TRUST_TORCHSCRIPT=1``.
- ``class:package.module:ClassName@/path/weights.pt``: your own ``nn.Module`` class (imported
  from your code, which you trust) plus a state dict loaded weights-only (``.pt``/``.pth`` via
  ``torch.load(weights_only=True)`` or ``.safetensors``); constructor arguments go in the option
  ``init: {...}``; ``weights:`` may replace the ``@`` part.

Every adapter maps a mixture ``[T]`` to estimates ``[n_src, T]`` and prices its MACs with
:mod:`dsnbench.complexity`.
"""
from __future__ import annotations

from ...registry import Registry

ADAPTERS = Registry("adapter")

ADAPTERS.register("asteroid", "dsnbench.models.adapters.asteroid_adapter:AsteroidSeparator",
                  help="Asteroid serialize() file (ConvTasNet, DPRNNTasNet), read without asteroid",
                  example="asteroid:/path/model.pth")
ADAPTERS.register("speechbrain", "dsnbench.models.adapters.speechbrain_adapter:SpeechBrainSeparator",
                  help="SpeechBrain separation model from a local pretrained folder (optional extra)",
                  example="speechbrain:/path/pretrained_folder")
ADAPTERS.register("torchscript", "dsnbench.models.adapters.torchscript_adapter:TorchScriptSeparator",
                  help="TorchScript file (runs code from the file: needs trust_code: true)",
                  example="torchscript:/path/model.pt")
ADAPTERS.register("class", "dsnbench.models.adapters.user_class:UserClassSeparator",
                  help="your nn.Module class by import path + a weights-only state dict",
                  example="class:mypkg.nets:MyNet@/path/weights.pt")
