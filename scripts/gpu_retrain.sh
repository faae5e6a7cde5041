#!/usr/bin/env bash
# One-shot retraining of the whole bundle on one accelerator machine (issue 24): the four
# statics and the supernet as parallel processes, then the gates from the new supernet, within
# a deadline (default 540 s), results in $OUT (retrained.tar, oneshot.json, oneshot.log) as
# each model finishes. Runs with python3 + torch, numpy, scipy, pyyaml, safetensors: no
# soundfile, no fvcore, no install (PYTHONPATH is the checkout). The training audio comes from
# the pack, built beforehand where soundfile is:
#   .venv/bin/python -m dsnbench.train.pack          # -> experiments/train/pack/train-8k.dsnpack
# Usage (any option of python3 -m dsnbench.train.oneshot passes through):
#   bash scripts/gpu_retrain.sh [--deadline 540] [--device cuda] [--steps N] [--set KEY=VALUE]
# Ship rule for what comes back: experiments/train/gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PACK=${PACK:-experiments/train/pack/train-8k.dsnpack}
if [ ! -f "$PACK" ]; then
  echo "gpu_retrain: $PACK missing; build it with: .venv/bin/python -m dsnbench.train.pack --out $PACK" >&2
  exit 2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m dsnbench.train.oneshot --pack "$PACK" --out "${OUT:-runs/oneshot/out}" "$@"
