"""Training configuration: one YAML file per training (``dsnbench train CONFIG.yaml``).

Layout of the YAML (every key but ``name`` and ``stage`` has a default)::

    name: static-0.5            # also the stem of the exported checkpoint
    stage: static               # static | supernet | gate
    seed: 1
    steps: 600                  # optimiser steps in all
    steps_per_epoch: 50         # one log row + one validation + one resumable state per epoch
    model: {preset: mini, enc_kernel: 32, enc_stride: 16, chunk_size: 50}   # DSNConfig preset + overrides
    width: 0.5                  # static only: the width the network is built at
    data: {...}                 # DataConfig (dsnbench.train.data)
    optim: {lr: 1.5e-3, ...}    # OptimConfig
    supernet: {n_random: 1, distill: 0.0}                   # supernet only
    gate: {init: PATH, lam: 0.5, gamma: 8.0, tau: 2.0, gumbel_tau: 1.0, finetune_lr: 1e-4, anchor: 0}
    export: dsnbench/assets/checkpoints   # folder for <name>.pt and training/<name>.{yaml,csv}
    init: PATH                  # static / supernet: start from these weights (a later phase)
    average_last: 0             # export the mean weights of the last N epochs (0 = the last)
    precision: fp32             # fp32 | bf16 (autocast forward in training steps only)
    curriculum: []              # [{until: 0.67, p_noisy: 0.2, p_partial: 0.1, p_babble: 0}]: earlier recipes
    fused_attention: false      # training steps may use the fused attention kernel
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from ..errors import UserError
from .data import DataConfig

STAGES = ("static", "supernet", "gate")


def set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    """``d[a][b] = value`` for ``key = "a.b"`` (missing levels are created; a level that holds
    something other than a mapping is a one-line error)."""
    parts = key.split(".")
    for i, p in enumerate(parts[:-1]):
        nxt = d.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise UserError(f"cannot set {key}: {'.'.join(parts[:i + 1])} is {nxt!r}, not a mapping")
        d = nxt
    d[parts[-1]] = value


def parse_sets(items: list[str]) -> list[tuple[str, Any]]:
    """``["a.b=3", "c=[1, 2]"]`` -> ``[("a.b", 3), ("c", [1, 2])]`` (values read as YAML)."""
    import yaml
    out = []
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise UserError(f"--set wants KEY=VALUE, got {item!r}")
        try:
            out.append((k.strip(), yaml.safe_load(v)))
        except yaml.YAMLError as exc:
            raise UserError(f"--set {item!r}: the value is not YAML ({str(exc).splitlines()[0]})") from None
    return out


def _from_dict(cls: type, d: dict[str, Any] | None, where: str) -> Any:
    d = dict(d or {})
    known = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(d) - known)
    if bad:
        raise UserError(f"{where}: unknown key(s) {', '.join(bad)} (known: {', '.join(sorted(known))})")
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**d)


@dataclass(frozen=True)
class OptimConfig:
    """Adam with linear warm-up then cosine decay to ``final_lr_ratio * lr``."""

    lr: float = 1.5e-3
    weight_decay: float = 0.0
    warmup_steps: int = 50
    final_lr_ratio: float = 0.05
    clip_norm: float = 5.0


@dataclass(frozen=True)
class SupernetConfig:
    """Sandwich rule: widest, narrowest and ``n_random`` random middle widths per step.
    ``distill`` in [0, 1]: weight of in-place distillation (narrower widths also fit the
    widest's detached estimates); 0 = off."""

    n_random: int = 1
    distill: float = 0.0


@dataclass(frozen=True)
class GateConfig:
    """Gate stage: L = L_sep + lam * L_cplx (design section 3).

    ``init``: the supernet checkpoint to start from (path; relative paths are taken from the
    folder the command runs in). ``gamma``/``tau``: centre and temperature in dB of
    a_s = sigmoid((q_s - gamma) / tau). ``quality``: ``utterance``, ``relative`` or ``local`` (see
    :func:`dsnbench.train.losses.segmental_quality`); ``weighted: false`` drops a_s (plain
    complexity loss). ``finetune_lr``: learning rate of the supernet weights (0 = frozen);
    ``optim.lr`` is the gate's. ``gumbel_tau`` anneals from ``gumbel_tau`` to
    ``gumbel_tau_final``. ``start_wide``: logit bias of the widest width in the fresh gate
    (the gate starts mostly at full width; the complexity loss then pulls the easy segments
    narrower, and q_s, measured on the gated output, drops where that hurts, which ends the
    pull).
    """

    init: str = ""
    lam: float = 0.5
    gamma: float = 8.0
    tau: float = 2.0
    quality: str = "utterance"
    weighted: bool = True
    gumbel_tau: float = 2.0
    gumbel_tau_final: float = 0.5
    finetune_lr: float = 1e-4
    start_wide: float = 3.0
    #: optimiser of the gate: ``adam`` or ``sgd`` (momentum 0.9). With SGD a segment's pull
    #: towards narrow widths is proportional to its a_s (Adam normalises it away), so easy
    #: segments go narrow first and lambda sets how far the pull reaches.
    optimizer: str = "adam"
    #: which widths the separation loss's gradient sees: ``chosen`` (the chosen width's
    #: straight-through weight only: it says whether to scale that output, never whether
    #: another width would do better) or ``all`` (every chunk also runs at the other widths
    #: during training, so the gradient compares them; ~n_widths times the intra-chunk cost
    #: per step, inference unchanged).
    paths: str = "chosen"
    #: weight of a sandwich term kept while the supernet is fine-tuned: every step also adds
    #: ``anchor`` x the mean of the separation losses at the widest and at the narrowest fixed
    #: width. Without
    #: it a high ``lam`` lets the widths the gate stops choosing drift (they get no gradient but
    #: the shared slices they contain do). Needs ``finetune_lr`` > 0; 0 = off.
    anchor: float = 0.0

    def __post_init__(self) -> None:
        if self.paths not in ("chosen", "all"):
            raise UserError(f"gate.paths must be 'chosen' or 'all', got {self.paths!r}")
        if self.anchor < 0:
            raise UserError(f"gate.anchor must be >= 0, got {self.anchor}")
        if self.anchor > 0 and self.finetune_lr <= 0:
            raise UserError("gate.anchor > 0 needs gate.finetune_lr > 0: with a frozen supernet the "
                            "fixed-width term trains nothing")


#: (section, key, default) of config keys added after trainings were started with this code
#: (section None: a top-level key)
_LATER_KEYS = (("gate", "paths", "chosen"), (None, "average_last", 0), ("gate", "anchor", 0.0),
               (None, "precision", "fp32"), (None, "curriculum", []), (None, "fused_attention", False),
               ("data", "pack", ""))

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    name: str
    stage: str
    seed: int = 0
    steps: int = 100
    steps_per_epoch: int = 10
    model: dict[str, Any] = field(default_factory=lambda: {"preset": "mini"})
    width: float = 1.0
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    supernet: SupernetConfig = field(default_factory=SupernetConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    export: str = ""
    #: static / supernet: start from this checkpoint's weights (same architecture) instead of
    #: a fresh initialisation: a second phase of a training (paths relative to the run folder)
    init: str = ""
    #: the validation mixtures the exported provenance recomputes quickly (first n of the set)
    n_val_quick: int = 4
    #: export the mean of the weights at the ends of the last ``average_last`` epochs instead
    #: of the last weights (checkpoint averaging; 0 = off). Validation, provenance and the
    #: exported model are all of the average; the log gets one more row for it.
    average_last: int = 0
    #: cpu, cuda, cuda:N or auto (cuda when available); not part of the config hash, so a
    #: training can be resumed on another device
    device: str = "cpu"
    #: ``bf16``: the forward pass of training steps under bfloat16 autocast (CPU or CUDA), the
    #: loss, gradients' master weights, the optimiser and every validation in float32; ``fp32``
    #: (default): float32 throughout
    precision: str = "fp32"
    #: stages of mixing recipes before ``data``'s own: ``[{until: 0.67, p_noisy: 0.2, ...}]``
    #: (:func:`dsnbench.train.data.curriculum_stages`); empty = ``data`` from the first step
    curriculum: tuple[dict[str, Any], ...] = ()
    #: processes that mix batches ahead of the trainer (0: the trainer mixes them itself);
    #: the batches are the same either way, so not part of the config hash
    data_workers: int = 0
    #: training steps may use the fused attention kernel (``scaled_dot_product_attention``);
    #: validation and everything after training always run the counted matmul path
    fused_attention: bool = False

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise UserError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if not self.name or "/" in self.name:
            raise UserError(f"name must be a non-empty file stem, got {self.name!r}")
        if self.steps <= 0 or self.steps_per_epoch <= 0:
            raise UserError("steps and steps_per_epoch must be positive")
        if not 0 <= self.average_last <= self.n_epochs:
            raise UserError(f"average_last must be between 0 and the number of epochs ({self.n_epochs}), "
                            f"got {self.average_last}")
        from .data import curriculum_stages
        curriculum_stages(self.data, self.curriculum, self.steps)     # refuses a malformed one here
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.stage == "gate" and not self.gate.init:
            raise UserError("a gate stage needs gate.init (the supernet checkpoint to start from)")

    @property
    def n_epochs(self) -> int:
        """Epochs of the training (the last one may be shorter than ``steps_per_epoch``)."""
        return -(-self.steps // self.steps_per_epoch)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> "TrainConfig":
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise UserError(f"{where}: unknown key(s) {', '.join(bad)} (known: {', '.join(sorted(known))})")
        for key in ("name", "stage"):
            if key not in d:
                raise UserError(f"{where}: missing key {key!r}")
        d["data"] = DataConfig.from_dict(d.get("data") or {})
        d["optim"] = _from_dict(OptimConfig, d.get("optim"), f"{where}: optim")
        d["supernet"] = _from_dict(SupernetConfig, d.get("supernet"), f"{where}: supernet")
        d["gate"] = _from_dict(GateConfig, d.get("gate"), f"{where}: gate")
        d["model"] = dict(d.get("model") or {"preset": "mini"})
        curriculum = d.get("curriculum") or []
        if not isinstance(curriculum, (list, tuple)) or not all(isinstance(c, dict) for c in curriculum):
            raise UserError(f"{where}: curriculum must be a list of stages ({{until: fraction, <data key>: value}})")
        d["curriculum"] = tuple(dict(c) for c in curriculum)
        try:
            return cls(**d)
        except TypeError as exc:
            raise UserError(f"{where}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> "TrainConfig":
        from ..documents import load_document
        p = Path(path)
        d = load_document(p, kind="training config")
        for k, v in (overrides or {}).items():    # keys may be dotted: gate.init, data.batch_size
            set_dotted(d, k, v)
        return cls.from_dict(d, where=str(p))

    def to_dict(self) -> dict[str, Any]:
        def plain(x: Any) -> Any:
            if dataclasses.is_dataclass(x):
                return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
            if isinstance(x, (tuple, list)):
                return [plain(v) for v in x]
            if isinstance(x, dict):
                return {k: plain(v) for k, v in x.items()}
            return x
        return plain(self)

    def hash(self) -> str:
        d = self.to_dict()
        d.pop("device", None)
        d.pop("data_workers", None)
        # keys added after trainings started leave the hash alone at their defaults, so those
        # trainings still resume
        for section, key, default in _LATER_KEYS:
            where = d if section is None else d[section]
            if where.get(key) == default:
                where.pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
