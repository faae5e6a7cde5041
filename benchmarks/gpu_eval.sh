#!/usr/bin/env bash
# GPU evaluation benchmark (issue "Evaluate at the scale users have"): on a machine with one
# GPU, in under 5 minutes, the figures of benchmarks/bench_batched_inference.py on the GPU
# (mini and sepformer presets, batch 1 vs 8, fp32 and bf16) and the end-to-end dsnbench run of
# 40 mini-2mix mixtures at batch 1 vs 8, all written to one file: $OUT/gpu_eval.txt.
# Needs the wheels of scripts/fetch_gpu_wheels.sh in .whl/ (carried); the CPU figures to set
# beside them come from the same script run here (see the README, "Evaluating on a GPU").
#   bash benchmarks/gpu_eval.sh          # on the GPU machine; carry: .whl
# T_BENCH and T_E2E (seconds, default 90 and 110) bound each part, so it fits beside a retraining.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_eval}
mkdir -p "$OUT"
report="$OUT/gpu_eval.txt"
PY=${PYTHON:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DEVICE=${DEVICE:-cuda}
{
  echo "# dsnbench GPU evaluation benchmark, $(date -u +%FT%TZ)"
  "$PY" -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA')"
  for prec in fp32 bf16; do
    timeout "${T_BENCH:-90}" "$PY" benchmarks/bench_batched_inference.py --device "$DEVICE" --precision "$prec" --n 32 --batch 8 \
      || echo "bench_batched_inference $prec: failed or timed out (exit $?)"
  done
  timeout "${T_E2E:-110}" "$PY" benchmarks/bench_batched_inference.py --device "$DEVICE" --n 8 --batch 8 --presets mini \
      --end-to-end --workers "${WORKERS:-14}" || echo "end-to-end: failed or timed out (exit $?)"
} 2>&1 | tee "$report"
