#!/usr/bin/env bash
# Run training configs one after another (one "lane" = one CPU core), each resumable:
#   experiments/train/run_lane.sh OUTROOT LOGDIR CONFIG.yaml [CONFIG.yaml ...]
# Output folder per config file: OUTROOT/<config stem> (the bundle's lineage uses
# experiments/train/state, which is committed as it goes, so a training survives a change of
# machine; one-off trainings use runs/train). Re-running the same command after an
# interruption resumes every unfinished training from its last epoch (dsnbench train
# --resume) and re-exports the finished ones (no retraining). One thread, niced.
# The bundle's lineage (issue 24), two lanes:
#   lane 1: mini-supernet, then mini-dsn-l*.yaml (the gates need the new supernet)
#   lane 2: mini-static-1.0, -0.5, -0.25, -0.75
# LANE_EXPORT_TO=DIR exports each finished training there instead of its config's `export`
# (the bundle), e.g. to stage a lineage until all of it is done.
# LANE_PRECISION=fp32 runs the training steps in fp32 whatever the configs say (a CPU without
# avx512_bf16/amx_bf16 emulates bf16 autocast ~10x slower than fp32: see
# benchmarks/bench_train_precision.py); not part of the configs or their hashes.
set -u
extra=()
[ -n "${LANE_EXPORT_TO:-}" ] && extra=(--export-to "$LANE_EXPORT_TO")
[ -n "${LANE_PRECISION:-}" ] && extra+=(--precision "$LANE_PRECISION")
outroot=$1; logdir=$2; shift 2
mkdir -p "$logdir"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml)
  echo "$(date -u +%FT%TZ) start $cfg" >> "$logdir/lane.log"
  if ! nice -n 10 .venv/bin/dsnbench train "$cfg" --resume --out "$outroot/$name" "${extra[@]}" >> "$logdir/$name.log" 2>&1; then
    echo "$(date -u +%FT%TZ) FAILED $cfg (see $logdir/$name.log)" >> "$logdir/lane.log"
    exit 1
  fi
  echo "$(date -u +%FT%TZ) done $cfg" >> "$logdir/lane.log"
done
