"""The trainer: static-w, slimmable supernet (sandwich rule) and gate stage (design section 3).

Determinism and resuming: batch ``step`` is a pure function of ``(seed, step)``
(:class:`~dsnbench.train.data.TrainStream`), the torch generator is re-seeded from
``(seed, step)`` before every step (Gumbel noise), the random sandwich widths come from the
same per-step seed, and the learning rate is a function of the step. The resumable state
(model, optimiser, step, log rows) is written atomically at the end of every epoch, so a run
killed at any point and resumed with ``--resume`` ends with the same weights and the same log
as an uninterrupted one (wall-clock columns aside).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

from ..errors import UserError
from ..models.dualpath import DSNConfig, DualPathDSN
from ..models.checkpoint import code_version
from . import checkpoints as ckpt
from .config import PRECISIONS, TrainConfig
from ..models.slimmable import fused_attention
from .data import Batch, BatchFeed, TrainStream, curriculum_stages, make_source, validation_set
from .losses import complexity_loss, pit_si_snr, segmental_quality

STATE_FILE = "state.pt"
#: the mixing rule the training data follows (recorded in provenance): 2 = dsnbench.data.mixing,
#: the test sets' own rule; checkpoints without it were trained on the older, separate rule
MIXING_RULE = 2
LOG_FILE = "log.csv"


# --------------------------------------------------------------------------- model set-up
def model_config(cfg: TrainConfig) -> DSNConfig:
    """The architecture a training config asks for (static: built at its width)."""
    m = dict(cfg.model)
    preset = m.pop("preset", "mini")
    try:
        base = DSNConfig.preset(preset, **{k: tuple(v) if isinstance(v, list) else v for k, v in m.items()})
    except (TypeError, ValueError) as exc:
        raise UserError(f"model: {exc}") from None
    base = DSNConfig.from_dict({**base.to_dict(), "sample_rate": cfg.data.sample_rate})
    if cfg.stage == "static":
        return base.static_at(cfg.width)
    return base


def build_model(cfg: TrainConfig, base_dir: Path) -> DualPathDSN:
    torch.manual_seed(_seed(cfg.seed, -1))
    if cfg.stage == "gate":
        path = Path(cfg.gate.init)
        if not path.is_absolute():
            path = base_dir / path
        model = ckpt.load_model(path)
        if model.config.static_width is not None or len(model.config.widths) < 2:
            raise UserError(f"{path}: the gate stage needs a slimmable supernet, this checkpoint is static")
        # the gate starts fresh from the seed (the supernet's gate was never trained)
        g = torch.Generator().manual_seed(_seed(cfg.seed, -2))
        for p in model.gate.parameters():
            with torch.no_grad():
                bound = 1.0 / math.sqrt(p.shape[-1]) if p.dim() > 1 else 0.05
                p.copy_(torch.empty_like(p).uniform_(-bound, bound, generator=g))
        with torch.no_grad():
            model.gate.logits.bias[-1] += cfg.gate.start_wide
        return model
    model = DualPathDSN(model_config(cfg))
    if cfg.init:
        path = Path(cfg.init) if Path(cfg.init).is_absolute() else base_dir / cfg.init
        start = ckpt.load_model(path)
        if start.config != model.config:
            raise UserError(f"{path}: its architecture differs from this config's model "
                            f"({start.config.to_dict()} vs {model.config.to_dict()})")
        model.load_state_dict(start.state_dict())
    return model


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (cuda when available); unusable -> UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r} is not a torch device (use cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but this torch has no usable CUDA")
    return dev


def _seed(seed: int, step: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(step) + 7, 97]).generate_state(1)[0])


def lr_factor(step: int, total: int, warmup: int, final_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``final_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    t = min(1.0, (step - warmup) / span)
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def make_optimizer(cfg: TrainConfig, model: DualPathDSN) -> tuple[torch.optim.Optimizer, list[float]]:
    """Adam; the gate stage gives the gate ``optim.lr`` and the rest ``gate.finetune_lr``
    (0 freezes them)."""
    if cfg.stage == "gate":
        gate_params = list(model.gate.parameters())
        gate_ids = {id(p) for p in gate_params}
        rest = [p for p in model.parameters() if id(p) not in gate_ids]
        if cfg.gate.optimizer not in ("adam", "sgd"):
            raise UserError(f"gate.optimizer must be adam or sgd, got {cfg.gate.optimizer!r}")
        groups = [{"params": gate_params, "lr": cfg.optim.lr}]
        if cfg.gate.finetune_lr > 0:
            groups.append({"params": rest, "lr": cfg.gate.finetune_lr})
        else:
            for p in rest:
                p.requires_grad_(False)
        if cfg.gate.optimizer == "sgd":
            opt = GateSGDAdam(groups[0], groups[1:], cfg.optim.weight_decay)
            return opt, [g["lr"] for g in opt.param_groups]
    else:
        for p in model.gate.parameters():       # the gate is not part of these stages
            p.requires_grad_(False)
        groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": cfg.optim.lr}]
    opt = torch.optim.Adam(groups, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    return opt, [g["lr"] for g in groups]


class GateSGDAdam(torch.optim.Optimizer):
    """SGD with momentum 0.9 for the gate (first group), Adam for the fine-tuned supernet (the
    other groups), as one optimiser with one state dict (resumable)."""

    def __init__(self, gate_group: dict[str, Any], other_groups: list[dict[str, Any]],
                 weight_decay: float = 0.0) -> None:
        groups = [dict(gate_group, kind="sgd")] + [dict(g, kind="adam") for g in other_groups]
        super().__init__(groups, {"lr": 1e-3, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if group["kind"] == "sgd":
                    buf = state.get("momentum")
                    if buf is None:
                        buf = state["momentum"] = grad.clone()
                    else:
                        buf.mul_(0.9).add_(grad)
                    p.add_(buf, alpha=-group["lr"])
                    continue
                if not state:
                    state["step"] = torch.zeros(())
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["step"] += 1
                t = float(state["step"])
                state["m"].mul_(0.9).add_(grad, alpha=0.1)
                state["v"].mul_(0.999).addcmul_(grad, grad, value=0.001)
                m_hat = state["m"] / (1 - 0.9 ** t)
                v_hat = state["v"] / (1 - 0.999 ** t)
                p.addcdiv_(m_hat, v_hat.sqrt().add_(1e-8), value=-group["lr"])


# --------------------------------------------------------------------------- steps
@dataclass
class StepResult:
    loss: float
    sep: float
    cplx: float
    mean_width: float


def _sandwich(n_widths: int, n_random: int, rng: np.random.Generator) -> list[int]:
    idx = [n_widths - 1, 0]
    middle = list(range(1, n_widths - 1))
    if middle and n_random > 0:
        idx += [int(i) for i in rng.choice(middle, size=min(n_random, len(middle)), replace=n_random > len(middle))]
    return idx


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (avx512_bf16 or amx_bf16 in /proc/cpuinfo);
    elsewhere torch emulates bf16 autocast on the CPU, several times slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True                 # not Linux: nothing to say
    return "avx512_bf16" in flags or "amx_bf16" in flags


def forward_context(cfg: TrainConfig, device: torch.device) -> contextlib.ExitStack:
    """What a training step's forward pass runs under: bfloat16 autocast for ``precision:
    bf16`` and the fused attention kernel for ``fused_attention: true``. Losses are computed
    in float32 outside it."""
    stack = contextlib.ExitStack()
    if cfg.precision == "bf16":
        stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16))
    if cfg.fused_attention:
        stack.enter_context(fused_attention(True))
    return stack


def train_step(cfg: TrainConfig, model: DualPathDSN, batch: Batch, step: int) -> StepResult:
    """Forward and backward of one step (gradients accumulated in the model; no optimiser).
    The forward passes run under :func:`forward_context`; every loss is float32."""
    device = batch.mix.device

    def run(*args: Any, **kwargs: Any) -> Any:
        with forward_context(cfg, device):
            out = model(*args, **kwargs)
        out.estimates = out.estimates.float()
        if getattr(out, "gate_probs", None) is not None:
            out.gate_probs = out.gate_probs.float()
        return out

    widths = model.config.reported_widths
    if cfg.stage == "static":
        est = run(batch.mix).estimates
        loss = -pit_si_snr(batch.sources, est).si_snr.mean()
        loss.backward()
        return StepResult(loss.item(), loss.item(), 0.0, float(widths[0]))
    if cfg.stage == "supernet":
        rng = np.random.default_rng(_seed(cfg.seed, step) + 1)
        order = _sandwich(len(widths), cfg.supernet.n_random, rng)
        total, teacher = 0.0, None
        for k in order:
            est = run(batch.mix, width=widths[k]).estimates
            loss = -pit_si_snr(batch.sources, est).si_snr.mean()
            if teacher is not None and cfg.supernet.distill > 0:
                a = cfg.supernet.distill
                loss = (1 - a) * loss - a * pit_si_snr(teacher, est).si_snr.mean()
            if k == len(widths) - 1:
                teacher = est.detach()
            (loss / len(order)).backward()
            total += loss.item() / len(order)
        return StepResult(total, total, 0.0, float(np.mean([widths[k] for k in order])))
    # gate stage
    g = cfg.gate
    frac = step / max(1, cfg.steps - 1)
    gumbel_tau = g.gumbel_tau * (g.gumbel_tau_final / g.gumbel_tau) ** frac
    out = run(batch.mix, gate_mode="train", tau=gumbel_tau, all_widths=g.paths == "all")
    pit = pit_si_snr(batch.sources, out.estimates)
    sep = -pit.si_snr.mean()
    quality = None
    if g.weighted:
        quality = segmental_quality(batch.sources, pit.aligned.detach(), out.segment_length,
                                    out.segment_hop, out.n_segments, g.quality)
    cplx = complexity_loss(out.gate_probs, model.relative_cost, quality, g.gamma, g.tau)
    loss = sep + g.lam * cplx
    loss.backward()
    total = loss.item()
    if g.anchor > 0:
        # the sandwich's two ends at fixed width, so the widths the gate avoids stay trained
        for k in (len(widths) - 1, 0):
            est = run(batch.mix, width=widths[k]).estimates
            fixed = -pit_si_snr(batch.sources, est).si_snr.mean()
            (g.anchor / 2 * fixed).backward()
            total += g.anchor / 2 * fixed.item()
    mean_width = float(torch.as_tensor(widths)[out.width_idx.cpu()].mean())
    return StepResult(total, sep.item(), cplx.item(), mean_width)


# --------------------------------------------------------------------------- validation
@torch.no_grad()
def evaluate(model: DualPathDSN, val: Batch, stage: str, width: float | None = None,
             batch_size: int = 8) -> dict[str, Any]:
    """SI-SNRi (dB, PIT, float64 scoring) of the fixed validation mixtures.

    Static and supernet: at ``width`` (None: the widest). Gate stage: the gate at beta = 0.
    Returns per-mixture ``si_snri`` (list), ``mean``, ``clean``, ``noisy`` and ``mean_width``
    (mean over segments of the width values run).
    """
    was_training = model.training
    model.eval()
    widths = torch.as_tensor(model.config.reported_widths, dtype=torch.float64)
    scores, used, raw = [], [], []
    for i in range(0, val.mix.shape[0], batch_size):
        mix = val.mix[i:i + batch_size]
        src = val.sources[i:i + batch_size].double()
        if stage == "gate":
            out = model(mix, gate_mode="infer", beta=0.0)
        else:
            out = model(mix) if width is None or model.config.static_width is not None else model(mix, width=width)
        est = out.estimates.double()
        si = pit_si_snr(src, est).si_snr
        mix2 = mix.double().unsqueeze(1).expand_as(src)
        from .losses import si_snr_pairwise
        base = torch.diagonal(si_snr_pairwise(src, mix2.contiguous()), dim1=-2, dim2=-1).mean(-1)
        scores.append(si - base)
        raw.append(si)
        used.append(widths[out.width_idx.cpu()].mean(-1))
    model.train(was_training)
    s = torch.cat(scores).cpu()
    u = torch.cat(used)
    noisy = val.noisy.bool()
    return {"si_snri": [float(v) for v in s], "mean": float(s.mean()),
            "si_snr": float(torch.cat(raw).mean().cpu()),
            "clean": float(s[~noisy].mean()) if (~noisy).any() else float("nan"),
            "noisy": float(s[noisy].mean()) if noisy.any() else float("nan"),
            "mean_width": float(u.mean())}


def _validate(model: DualPathDSN, val: Batch, val_clean: Batch, stage: str) -> tuple[dict[str, Any], dict[str, float]]:
    """The epoch's validation: the mixed set (returned whole) and the clean full-overlap set
    (``val_clean_full_si_snri``), and for a supernet both at every narrower width."""
    v = evaluate(model, val, stage)
    extra = {"val_clean_full_si_snri": round(evaluate(model, val_clean, stage)["mean"], 5)}
    if stage == "supernet":
        for w in model.config.widths[:-1]:
            extra[f"val_si_snri@{w:g}"] = round(evaluate(model, val, "supernet", width=w)["mean"], 5)
            extra[f"val_clean_full_si_snri@{w:g}"] = round(evaluate(model, val_clean, "supernet", width=w)["mean"], 5)
    return v, extra


# --------------------------------------------------------------------------- the loop
def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_log(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        return
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow(r)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    rows: list[dict[str, Any]]
    final_val: dict[str, Any]
    exported: Path | None


def steps_for_deadline(seconds_left: float, step_s: float, val_s: float, steps_per_epoch: int,
                       final_s: float, safety: float = 0.9) -> int:
    """The most steps that finish, with a validation every ``steps_per_epoch`` steps and a
    final evaluation + export of ``final_s``, within ``safety`` x ``seconds_left``, given a
    step of ``step_s`` and a validation of ``val_s`` seconds (at least 1)."""
    budget = safety * seconds_left - final_s
    per_step = step_s + val_s / steps_per_epoch
    return max(1, int(budget / per_step)) if per_step > 0 else 1


def train(cfg: TrainConfig, out_dir: Path, resume: bool = False, base_dir: Path | None = None,
          stop_after: int | None = None, progress: bool | None = None,
          log: Callable[[str], None] | None = None, deadline_s: float | None = None,
          probe_steps: int = 40, export_to: Path | str | None = None,
          precision: str | None = None) -> TrainResult:
    """Run (or resume) one training to ``cfg.steps`` and export the final checkpoint.

    ``stop_after``: stop at the first epoch boundary at or after this many steps without
    exporting (for tests of resuming). ``base_dir``: where relative paths in the config start
    (default: the current folder). ``export_to``: export there instead of the config's
    ``export`` ("" for no export); where a result goes is not part of what is trained, so this
    leaves the config, its hash and a resume alone. ``precision``: run the training steps'
    forward in this precision instead of the config's (a lineage moved to a CPU without native
    bfloat16, where bf16 autocast is emulated and several times slower); like the device it
    leaves the config, its hash and a resume alone, and the state and the provenance record
    from which step each precision ran (``precision_runs``). ``deadline_s``: finish within this many seconds of the
    call: after ``probe_steps`` steps (inside the warm-up, so the learning-rate schedule has
    not yet depended on the total) the step rate and one validation are timed and ``steps``
    becomes what fits (:func:`steps_for_deadline`); the curriculum's fractions follow it, and
    the resolved config is the one written, hashed and recorded.
    """
    started = time.time()
    torch.set_num_threads(1)
    base_dir = Path.cwd() if base_dir is None else Path(base_dir)
    out_dir = Path(out_dir)
    used = precision or cfg.precision
    if used not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {used!r}")
    for key, value in (("gate.init", cfg.gate.init if cfg.stage == "gate" else ""), ("init", cfg.init)):
        where = Path(value) if Path(value).is_absolute() else base_dir / value
        if value and not where.is_file():        # before any folder: a refused training leaves none
            raise UserError(f"{where}: no such checkpoint file ({key} of training {cfg.name})")
    out_dir.mkdir(parents=True, exist_ok=True)
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    state_path = out_dir / STATE_FILE
    if state_path.exists() and not resume:
        raise UserError(f"{out_dir}: already holds a training state ({STATE_FILE}); pass --resume to "
                        "continue it or choose another --out")
    (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    train_src = make_source(cfg.data, "train", base_dir)
    val_src = make_source(cfg.data, "val", base_dir)
    stream = TrainStream(train_src, cfg.seed, curriculum_stages(cfg.data, cfg.curriculum, cfg.steps))
    val = validation_set(val_src)
    val_clean = validation_set(val_src, clean_full=True)

    feed = BatchFeed(stream, cfg.data_workers)       # forks its workers before the device is touched
    device = resolve_device(cfg.device)
    model = build_model(cfg, base_dir).to(device)
    model.train()
    val = Batch(val.mix.to(device), val.sources.to(device), val.noisy)
    val_clean = Batch(val_clean.mix.to(device), val_clean.sources.to(device), val_clean.noisy)
    opt, base_lrs = make_optimizer(cfg, model)
    step, rows, elapsed = 0, [], 0.0
    precision_runs: list[list[Any]] = []        # [[first step, precision], ...] of this training
    # checkpoint averaging: the sum of the weights at the ends of the last cfg.average_last
    # epochs (float64, so the order of additions cannot matter at float32) and their count
    avg: dict[str, Any] | None = None
    # the code that trains is the code at the start (a resumed run keeps the first start's):
    # HEAD at export time may be later commits that never touched these weights
    started_with = code_version()
    if resume and state_path.exists():
        state = torch.load(state_path, weights_only=True, map_location=device)
        if deadline_s is not None and state.get("steps_total"):
            # a deadline training resumes with the steps it resolved at its start
            cfg = dataclasses.replace(cfg, steps=int(state["steps_total"]))
            stream.stages = curriculum_stages(cfg.data, cfg.curriculum, cfg.steps)
            deadline_s = None
        if state["config_hash"] != cfg.hash():
            raise UserError(f"{state_path}: was written by a different config (hash {state['config_hash']}, "
                            f"this one {cfg.hash()}); use another --out")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, rows, elapsed = int(state["step"]), list(state["rows"]), float(state["elapsed_s"])
        avg = state.get("average")
        precision_runs = [list(r) for r in state.get("precision_runs") or [[0, cfg.precision]]]
        if isinstance(state.get("code_version"), dict):
            started_with = state["code_version"]
        say(f"[{cfg.name}] resumed at step {step}/{cfg.steps}")

    if step < cfg.steps and (not precision_runs or precision_runs[-1][1] != used):
        precision_runs.append([step, used])     # a finished training re-exported runs no step in it
    if used != cfg.precision:
        say(f"[{cfg.name}] training steps run in {used} from step {step} (the config says {cfg.precision})")
    if used == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        say(f"[{cfg.name}] note: this CPU has no native bfloat16 (avx512_bf16 / amx_bf16): bf16 autocast "
            "is emulated here, several times slower than fp32 (benchmarks/bench_train_precision.py); "
            "`--precision fp32` runs the same recipe in fp32")
    step_cfg = cfg if used == cfg.precision else dataclasses.replace(cfg, precision=used)
    bar = None
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=step, desc=cfg.name, unit="step", dynamic_ncols=True)
    acc: dict[str, float] = {"loss": 0.0, "sep": 0.0, "cplx": 0.0, "mean_width": 0.0, "n": 0}
    t0 = time.time()
    # the probe ends inside the warm-up, whose learning rates do not depend on the total
    # the probe ends inside the warm-up, whose learning rates do not depend on the total; its
    # first half is not timed (CUDA start-up, autotuning and the feed's workers make the first
    # steps several times slower than the rest: timing them cut a GPU run to a quarter)
    probe_at = max(1, min(probe_steps, cfg.optim.warmup_steps or probe_steps)) \
        if deadline_s is not None and step == 0 else -1
    probe_from = probe_at // 2
    t_probe = time.time()
    while step < cfg.steps:
        if step == probe_from and probe_at > 0:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t_probe = time.time()
        if step == probe_at:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            step_s = (time.time() - t_probe) / max(1, probe_at - probe_from)
            t_val = time.time()
            _validate(model, val, val_clean, cfg.stage)
            val_s = time.time() - t_val
            left = deadline_s - (time.time() - started)
            n_steps = steps_for_deadline(left, step_s, val_s, cfg.steps_per_epoch, final_s=4 * val_s + 5.0)
            cfg = dataclasses.replace(cfg, steps=max(step + 1, step + n_steps))
            stream.stages = curriculum_stages(cfg.data, cfg.curriculum, cfg.steps)
            feed.reset()
            (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
            say(f"[{cfg.name}] deadline {deadline_s:.0f} s: {step_s * 1000:.1f} ms a step, {val_s:.1f} s a "
                f"validation -> {cfg.steps} steps")
            if bar is not None:
                bar.total = cfg.steps

        torch.manual_seed(_seed(cfg.seed, step))
        random.seed(_seed(cfg.seed, step))
        factor = lr_factor(step, cfg.steps, cfg.optim.warmup_steps, cfg.optim.final_lr_ratio)
        for group, lr in zip(opt.param_groups, base_lrs):
            group["lr"] = lr * factor
        batch = feed.get(step, cfg.steps, stream.recipe)
        if device.type != "cpu":
            batch = Batch(batch.mix.to(device), batch.sources.to(device), batch.noisy)
        opt.zero_grad(set_to_none=True)
        res = train_step(step_cfg, model, batch, step)
        if not math.isfinite(res.loss):
            raise RuntimeError(f"[{cfg.name}] non-finite loss at step {step}")
        params = [p for g in opt.param_groups for p in g["params"]]
        if cfg.optim.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.clip_norm)
        opt.step()
        step += 1
        for k in ("loss", "sep", "cplx", "mean_width"):
            acc[k] += getattr(res, k)
        acc["n"] += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{res.loss:.2f}", w=f"{res.mean_width:.2f}")
        if step % cfg.steps_per_epoch == 0 or step == cfg.steps:
            n = max(1, acc["n"])
            v, extra = _validate(model, val, val_clean, cfg.stage)
            row = {"epoch": len(rows) + 1, "step": step, "loss": round(acc["loss"] / n, 5),
                   "sep_loss": round(acc["sep"] / n, 5), "cplx_loss": round(acc["cplx"] / n, 5),
                   "train_mean_width": round(acc["mean_width"] / n, 5),
                   "val_si_snri": round(v["mean"], 5), "val_si_snri_clean": round(v["clean"], 5),
                   "val_si_snri_noisy": round(v["noisy"], 5), "mean_width": round(v["mean_width"], 5),
                   "lr": opt.param_groups[0]["lr"], **extra, "data_stage": stream.stage_index(step - 1)}
            elapsed += time.time() - t0
            t0 = time.time()
            row["elapsed_s"] = round(elapsed, 1)
            rows.append(row)
            if cfg.average_last and len(rows) > cfg.n_epochs - cfg.average_last:
                avg = _accumulate(avg, model)
            _atomic_save({"step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                          "rows": rows, "elapsed_s": elapsed, "config_hash": cfg.hash(), "steps_total": cfg.steps,
                          "code_version": started_with, "average": avg,
                          "precision_runs": precision_runs}, state_path)
            _write_log(rows, out_dir / LOG_FILE)
            say(f"[{cfg.name}] epoch {row['epoch']} step {step}/{cfg.steps} loss {row['loss']:.3f} "
                f"val SI-SNRi {row['val_si_snri']:.2f} dB (clean {row['val_si_snri_clean']:.2f}, "
                f"noisy {row['val_si_snri_noisy']:.2f}; clean full overlap {row['val_clean_full_si_snri']:.2f}) "
                f"width {row['mean_width']:.3f} [{elapsed:.0f} s]")
            acc = {"loss": 0.0, "sep": 0.0, "cplx": 0.0, "mean_width": 0.0, "n": 0}
            if stop_after is not None and step >= stop_after and step < cfg.steps:
                if bar is not None:
                    bar.close()
                feed.close()
                return TrainResult(out_dir, step, rows, v, None)
    feed.close()
    if bar is not None:
        bar.close()
    averaged = None
    if cfg.average_last:
        # the last epoch's row was validated at the final step: no need to validate it again
        averaged = {"epochs": int(avg["n"]), "last_epoch_val_si_snri": rows[-1]["val_si_snri"]}
        _load_average(model, avg)
    final = evaluate(model, val, cfg.stage)
    if averaged is not None:
        rows.append({"epoch": f"avg{int(avg['n'])}", "step": step, "val_si_snri": round(final["mean"], 5),
                     "val_si_snri_clean": round(final["clean"], 5),
                     "val_si_snri_noisy": round(final["noisy"], 5),
                     "mean_width": round(final["mean_width"], 5)})
        say(f"[{cfg.name}] mean of the last {int(avg['n'])} epochs' weights: val SI-SNRi "
            f"{final['mean']:.2f} dB (last epoch {averaged['last_epoch_val_si_snri']:.2f})")
    final_clean = evaluate(model, val_clean, cfg.stage)
    quick = evaluate(model, _head(val, cfg.n_val_quick), cfg.stage)
    per_width, per_width_clean = {}, {}
    if cfg.stage == "supernet":
        for w in model.config.widths:
            per_width[f"{w:g}"] = evaluate(model, val, "supernet", width=w)["mean"]
            per_width_clean[f"{w:g}"] = evaluate(model, val_clean, "supernet", width=w)["mean"]
    operating_points = None
    if cfg.stage == "gate":
        operating_points = choose_operating_points(model, val)
    provenance = {
        "trained_by": "dsnbench train",
        "code_version": started_with,
        "name": cfg.name, "stage": cfg.stage, "steps": cfg.steps, "seed": cfg.seed,
        "training_config": cfg.to_dict(), "config_hash": cfg.hash(),
        "train_seconds": round(elapsed, 1),
        "data": {"source": cfg.data.source, "train_fingerprint": train_src.fingerprint(),
                 "val_fingerprint": val_src.fingerprint(),
                 "n_train_speakers": len(getattr(train_src, "speakers", [])),
                 "n_val_speakers": len(getattr(val_src, "speakers", [])),
                 "speakers": "LibriSpeech train-clean-100 only" if cfg.data.source == "librispeech-mix" else None,
                 "mixing_rule": MIXING_RULE},
        "precision": cfg.precision,
        **({"precision_runs": precision_runs} if precision_runs != [[0, cfg.precision]] else {}),
        **({"averaged": averaged} if averaged else {}),
        "val_si_snr": final["si_snr"],
        "val_si_snri": final["mean"],
        "validation": {"si_snri": final["mean"], "si_snri_clean": final["clean"],
                       "si_snri_noisy": final["noisy"], "mean_width": final["mean_width"],
                       "n_val": int(val.mix.shape[0]), "val_s": cfg.data.val_s, "val_seed": cfg.data.val_seed,
                       "quick": {"n": int(min(cfg.n_val_quick, val.mix.shape[0])), "si_snri": quick["mean"],
                                 "per_mixture": quick["si_snri"]},
                       "clean_full": {"si_snri": final_clean["mean"], "n_val": int(val_clean.mix.shape[0]),
                                      "mean_width": final_clean["mean_width"],
                                      **({"si_snri_per_width": per_width_clean} if per_width_clean else {})},
                       **({"si_snri_per_width": per_width} if per_width else {}),
                       **({"operating_points": operating_points} if operating_points else {})},
    }
    if cfg.init:
        from ..models.checkpoint import read_header
        init_path = Path(cfg.init) if Path(cfg.init).is_absolute() else base_dir / cfg.init
        first = read_header(init_path)["provenance"]
        provenance["init"] = {"path": cfg.init, "name": first.get("name"), "steps": first.get("steps"),
                              "val_si_snri": first.get("val_si_snri"),
                              "train_seconds": first.get("train_seconds")}
        provenance["total_steps"] = cfg.steps + int(first.get("total_steps") or first.get("steps") or 0)
    if cfg.stage == "gate":
        provenance["gate"] = {"lam": cfg.gate.lam, "gamma": cfg.gate.gamma, "tau": cfg.gate.tau,
                              "init": cfg.gate.init}
    final_path = out_dir / f"{cfg.name}{ckpt.SUFFIX}"
    model = model.cpu()
    at_export = code_version()
    if at_export != started_with:
        provenance["code_version_at_export"] = at_export
    ckpt.save_model(model, final_path, provenance,
                    [b for b, _ in operating_points] if operating_points else None)
    _write_log(rows, out_dir / LOG_FILE)
    exported = None
    dest = cfg.export if export_to is None else str(export_to)
    if dest:
        exported = ckpt.export(final_path, out_dir / LOG_FILE, out_dir / "config.yaml",
                               (base_dir / dest) if not Path(dest).is_absolute() else Path(dest),
                               cfg.name)
        say(f"[{cfg.name}] exported {exported}")
    say(f"[{cfg.name}] done: {cfg.steps} steps in {elapsed:.0f} s, val SI-SNRi {final['mean']:.2f} dB, "
        f"mean width {final['mean_width']:.3f}")
    return TrainResult(out_dir, step, rows, final, exported)


def _accumulate(avg: dict[str, Any] | None, model: torch.nn.Module) -> dict[str, Any]:
    """Add the model's floating-point weights to the running sum of checkpoint averaging."""
    if avg is None:
        avg = {"n": 0, "sum": {k: torch.zeros_like(v, dtype=torch.float64, device="cpu")
                               for k, v in model.state_dict().items() if v.is_floating_point()}}
    for k, v in model.state_dict().items():
        if k in avg["sum"]:
            avg["sum"][k] += v.detach().to("cpu", torch.float64)
    avg["n"] += 1
    return avg


def _load_average(model: torch.nn.Module, avg: dict[str, Any]) -> None:
    """Put the mean of the accumulated weights into the model (other tensors stay as they are)."""
    state = model.state_dict()
    for k, total in avg["sum"].items():
        state[k] = (total / avg["n"]).to(state[k].dtype)
    model.load_state_dict(state)


BETA_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0)


def choose_operating_points(model: DualPathDSN, val: Batch, min_step: float = 0.03) -> list[tuple[float, float]]:
    """Gate betas that give distinct mean widths on the validation set: walk ``BETA_GRID`` and
    keep a beta when its mean width is at least ``min_step`` below the last kept one.
    Returns ``[(beta, mean_width), ...]``, beta 0 first."""
    kept: list[tuple[float, float]] = []
    for beta in BETA_GRID:
        was = model.training
        model.eval()
        with torch.no_grad():
            widths = torch.as_tensor(model.config.reported_widths, dtype=torch.float64)
            used = torch.cat([widths[model(val.mix[i:i + 8], gate_mode="infer", beta=beta).width_idx.cpu()].flatten()
                              for i in range(0, val.mix.shape[0], 8)])
        model.train(was)
        w = float(used.mean())
        if not kept or kept[-1][1] - w >= min_step:
            kept.append((beta, round(w, 4)))
    return kept


def _head(val: Batch, n: int) -> Batch:
    return Batch(mix=val.mix[:n], sources=val.sources[:n], noisy=val.noisy[:n])
