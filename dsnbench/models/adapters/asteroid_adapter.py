"""Read a model saved with Asteroid's ``serialize()`` without importing Asteroid.

The file is a dict ``{"model_name", "model_args", "state_dict", "infos"}`` (``torch.save`` of
``model.serialize()``). It is loaded with ``torch.load(weights_only=True)``, so nothing in it
runs; ``model_name`` picks one of dsnbench's own implementations with Asteroid's parameter
layout (:mod:`.tasnet`), ``model_args`` are its constructor arguments, and the state dict must
match it exactly (strict load; missing or unexpected keys are reported by name).

Supported ``model_name``: ``ConvTasNet``, ``DPRNNTasNet`` (free filterbank).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


from .base import ModuleSeparator, load_weights_only
from .tasnet import ASTEROID_MODELS, EncoderMaskerDecoder


def build_from_serialized(conf: Any, source: str = "Asteroid model") -> EncoderMaskerDecoder:
    """Our network from an Asteroid ``serialize()`` dict; ValueError names what does not fit."""
    if not isinstance(conf, dict):
        raise ValueError(f"{source}: expected the dict written by Asteroid's serialize(), got {type(conf).__name__}")
    missing = [k for k in ("model_name", "model_args", "state_dict") if k not in conf]
    if missing:
        raise ValueError(f"{source}: not an Asteroid serialize() dict (missing {', '.join(missing)}; "
                         f"found {', '.join(sorted(map(str, conf)))})")
    name = conf["model_name"]
    if name not in ASTEROID_MODELS:
        raise ValueError(f"{source}: Asteroid model {name!r} is not supported "
                         f"(supported: {', '.join(ASTEROID_MODELS)})")
    args = dict(conf["model_args"])
    try:
        model = ASTEROID_MODELS[name](**args)
    except TypeError as exc:
        raise ValueError(f"{source}: model_args do not fit {name}: {exc}") from None
    state = conf["state_dict"]
    ours = model.state_dict()
    missing_keys = sorted(set(ours) - set(state))
    unexpected = sorted(set(state) - set(ours))
    if missing_keys or unexpected:
        parts = []
        if missing_keys:
            parts.append(f"missing {len(missing_keys)} key(s), e.g. {', '.join(missing_keys[:3])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s), e.g. {', '.join(unexpected[:3])}")
        raise ValueError(f"{source}: state_dict does not match {name}({args}): {'; '.join(parts)}")
    bad = [k for k in ours if tuple(ours[k].shape) != tuple(state[k].shape)]
    if bad:
        k = bad[0]
        raise ValueError(f"{source}: {len(bad)} weight shape(s) differ from model_args, e.g. {k}: "
                         f"file {tuple(state[k].shape)} vs model {tuple(ours[k].shape)}")
    model.load_state_dict(state, strict=True)
    return model.eval()


class AsteroidSeparator(ModuleSeparator):
    """``asteroid:/path/model.pth``: an Asteroid ``serialize()`` file as a dsnbench separator."""

    def __init__(self, path: str, **options: Any) -> None:
        unknown = set(options) - {"name"}
        if unknown:
            raise ValueError(f"asteroid adapter: unknown option(s) {', '.join(sorted(unknown))}")
        conf = load_weights_only(path, "Asteroid model")
        model = build_from_serialized(conf, f"Asteroid model {path}")
        rate = conf["model_args"].get("sample_rate", 8000)
        super().__init__(model, options.get("name", f"asteroid:{Path(path).name}"), model.n_src,
                         int(rate), length_features=model.length_features, source=str(path))
        self.model_name = conf["model_name"]

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["asteroid_model"] = self.model_name
        return d
