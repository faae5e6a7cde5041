"""One-shot retraining of the whole bundle on one accelerator machine (``scripts/gpu_retrain.sh``).

Phase 1 trains every static and the supernet of a config folder (default
``experiments/train/gpu``) as parallel processes; phase 2 trains every gate from the supernet
phase 1 produced. Each training gets a deadline (``dsnbench.train.trainer.train``'s
``deadline_s``: the steps follow from the rate of its first steps), so the whole run ends
within ``--deadline`` seconds; ``--steps N`` fixes the steps instead (the CPU smoke test).

What comes back, in ``--out`` (at most four files, rewritten as each model finishes, so a run
stopped at any point still returns what was done):

- ``retrained.tar``: per finished model ``<name>.safetensors`` with its provenance and
  ``training/<name>.{yaml,csv}``, the layout of ``dsnbench/assets/checkpoints``;
- ``oneshot.json``: per model its stage, status, steps, seconds and clean full-overlap
  validation SI-SNRi, and the run's timeline;
- ``oneshot.log``: this driver's log; the trainings' own logs are inside the tarball.

Needs torch, numpy, scipy, pyyaml and safetensors only: no soundfile (the audio comes from a
training pack, :mod:`dsnbench.train.pack`) and no fvcore.

Usage::

    python3 -m dsnbench.train.oneshot --out OUT [--configs DIR] [--deadline 540]
        [--gate-share 0.3] [--device cuda] [--pack FILE] [--steps N] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from .config import parse_sets, set_dotted

#: seconds kept back at the end of each phase for the final validation and the export
MARGIN_S = 20.0


def resolved_config(path: Path, sets: list[tuple[str, Any]]) -> dict[str, Any]:
    d = yaml.safe_load(path.read_text())
    for k, v in sets:
        set_dotted(d, k, v)
    return d


# --------------------------------------------------------------------------- one training (child)
def run_one(config: dict[str, Any], out_dir: Path, deadline_s: float | None) -> int:
    """Train one config into ``out_dir`` (the child process of the driver)."""
    from .config import TrainConfig
    from .trainer import train
    cfg = TrainConfig.from_dict(config, where=config.get("name", "config"))
    log = open(out_dir / "train.log", "a", buffering=1)
    try:
        train(cfg, out_dir, resume=True, progress=False, deadline_s=deadline_s,
              log=lambda m: print(f"{time.strftime('%H:%M:%S')} {m}", file=log))
    except Exception as exc:          # the driver reads the status from the exit code and this line
        print(f"{time.strftime('%H:%M:%S')} FAILED: {type(exc).__name__}: {exc}", file=log)
        raise
    return 0


# --------------------------------------------------------------------------- the driver
class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.time()
        self.out = Path(args.out)
        self.work = Path(args.work)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.models: dict[str, dict[str, Any]] = {}
        self.log_file = open(self.out / "oneshot.log", "a", buffering=1)

    def say(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:6.1f} s] {msg}"
        print(line, flush=True)
        print(line, file=self.log_file)

    def left(self) -> float:
        return self.args.deadline - (time.time() - self.t0)

    def start(self, path: Path, sets: list[tuple[str, Any]], deadline_s: float | None) -> subprocess.Popen:
        cfg = resolved_config(path, sets)
        name = cfg["name"]
        out_dir = self.work / name
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "request.json").write_text(json.dumps({"config": cfg, "deadline_s": deadline_s}))
        self.models[name] = {"stage": cfg.get("stage"), "config": str(path), "status": "running",
                             "started_s": round(time.time() - self.t0, 1)}
        self.say(f"start {name} ({cfg.get('stage')})" + (f", deadline {deadline_s:.0f} s" if deadline_s else ""))
        env = dict(os.environ, OMP_NUM_THREADS=str(self.args.threads), PYTHONUNBUFFERED="1")
        return subprocess.Popen([sys.executable, "-m", "dsnbench.train.oneshot", "--child", str(out_dir)],
                                env=env, stdout=open(out_dir / "child.out", "w"), stderr=subprocess.STDOUT)

    def wait(self, procs: dict[str, subprocess.Popen], hard_stop: float) -> None:
        while procs:
            for name, p in list(procs.items()):
                if p.poll() is None:
                    if time.time() - self.t0 > hard_stop:
                        p.kill()
                        p.wait()
                        self.models[name]["status"] = "killed at the hard stop"
                        self.say(f"{name}: killed at the hard stop")
                        del procs[name]
                    continue
                del procs[name]
                self.finished(name, p.returncode)
            time.sleep(0.5)

    def finished(self, name: str, code: int) -> None:
        m = self.models[name]
        m["ended_s"] = round(time.time() - self.t0, 1)
        ckpt = self.work / name / f"{name}.safetensors"
        if code == 0 and ckpt.is_file():
            from ..models.checkpoint import read_header
            prov = read_header(ckpt)["provenance"]
            val = prov["validation"]
            m.update(status="done", steps=prov["steps"], train_seconds=prov["train_seconds"],
                     val_si_snri=round(val["si_snri"], 4),
                     val_clean_full_si_snri=round(val["clean_full"]["si_snri"], 4),
                     mean_width=round(val["mean_width"], 4))
            if "si_snri_per_width" in val["clean_full"]:
                m["val_clean_full_per_width"] = {k: round(v, 4) for k, v in val["clean_full"]["si_snri_per_width"].items()}
            self.say(f"{name}: done, {prov['steps']} steps, clean full-overlap validation "
                     f"{val['clean_full']['si_snri']:.2f} dB")
        else:
            m["status"] = f"failed (exit {code})"
            tail = (self.work / name / "child.out").read_text()[-400:] if (self.work / name / "child.out").is_file() else ""
            self.say(f"{name}: FAILED (exit {code}) {tail.strip().splitlines()[-1] if tail.strip() else ''}")
        self.package()

    def package(self) -> None:
        """Rewrite the tarball and the summary with every model finished so far (atomic)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, m in sorted(self.models.items()):
                d = self.work / name
                files = [(d / f"{name}.safetensors", f"{name}.safetensors"),
                         (d / "log.csv", f"training/{name}.csv"), (d / "config.yaml", f"training/{name}.yaml"),
                         (d / "train.log", f"logs/{name}.log"), (d / "child.out", f"logs/{name}.out")]
                for src, arc in files:
                    if src.is_file() and (m["status"] == "done" or arc.startswith("logs/")):
                        tar.add(str(src), arcname=arc)
        tmp = self.out / "retrained.tar.tmp"
        tmp.write_bytes(buf.getvalue())
        tmp.replace(self.out / "retrained.tar")
        summary = {"elapsed_s": round(time.time() - self.t0, 1), "deadline_s": self.args.deadline,
                   "device": self.args.device, "models": self.models}
        tmp = self.out / "oneshot.json.tmp"
        tmp.write_text(json.dumps(summary, indent=1, sort_keys=True))
        tmp.replace(self.out / "oneshot.json")

    def run(self) -> int:
        a = self.args
        configs = sorted(Path(a.configs).glob("*.yaml"))
        stage_of = {p: (yaml.safe_load(p.read_text()) or {}).get("stage") for p in configs}
        first = [p for p in configs if stage_of[p] in ("static", "supernet")]
        gates = [p for p in configs if stage_of[p] == "gate"]
        if not first:
            raise SystemExit(f"{a.configs}: no static or supernet configs")
        common = parse_sets(a.set) + [("device", a.device)]
        if a.pack:
            common.append(("data.pack", str(Path(a.pack).resolve())))
        if a.steps:
            common.append(("steps", a.steps))
        gate_time = a.gate_share * a.deadline if gates else 0.0
        phase1_end = a.deadline - gate_time
        self.say(f"phase 1: {len(first)} trainings in parallel, until {phase1_end:.0f} s; "
                 f"phase 2: {len(gates)} gates, until {a.deadline:.0f} s")
        procs = {}
        for p in first:
            deadline = None if a.steps else phase1_end - (time.time() - self.t0) - MARGIN_S
            name = resolved_config(p, common)["name"]
            procs[name] = self.start(p, common, deadline)
        self.wait(procs, hard_stop=phase1_end + 0.5 * MARGIN_S if not a.steps else float("inf"))
        supernet = [n for n, m in self.models.items() if m["stage"] == "supernet" and m["status"] == "done"]
        if gates and not supernet:
            self.say("no supernet finished: the gates are not trained")
        elif gates:
            init = str((self.work / supernet[0] / f"{supernet[0]}.safetensors").resolve())
            procs = {}
            for p in gates:
                deadline = None if a.steps else self.left() - MARGIN_S
                sets = common + [("gate.init", init)]
                name = resolved_config(p, sets)["name"]
                procs[name] = self.start(p, sets, deadline)
            self.wait(procs, hard_stop=a.deadline + 0.5 * MARGIN_S if not a.steps else float("inf"))
        self.package()
        done = sum(m["status"] == "done" for m in self.models.values())
        self.say(f"finished: {done} of {len(self.models)} models in {time.time() - self.t0:.0f} s -> {self.out}")
        return 0 if done == len(self.models) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m dsnbench.train.oneshot", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/oneshot/out")),
                   help="where the results go (default: $OUT, else runs/oneshot/out)")
    p.add_argument("--work", type=Path, default=Path("runs/oneshot/work"), help="training folders")
    p.add_argument("--configs", type=Path, default=Path("experiments/train/gpu"), help="config folder")
    p.add_argument("--deadline", type=float, default=540.0, help="seconds for the whole run (default 540)")
    p.add_argument("--gate-share", type=float, default=0.3, help="share of the deadline for the gates")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--pack", default="", help="training pack (overrides data.pack of every config)")
    p.add_argument("--steps", type=int, default=0, help="fixed steps per training instead of deadlines")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per training process")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key in every config (dotted, YAML value)")
    args = p.parse_args(argv)
    if args.child is not None:
        req = json.loads((args.child / "request.json").read_text())
        return run_one(req["config"], args.child, req["deadline_s"])
    try:
        return Driver(args).run()
    except UserError as exc:            # no dsnbench CLI around this driver: one line, exit 2
        print(f"oneshot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
