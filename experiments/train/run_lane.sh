#!/usr/bin/env bash
# Run training configs one after another (one "lane" = one CPU core), each resumable:
#   experiments/train/run_lane.sh LOGDIR CONFIG.yaml [CONFIG.yaml ...]
# Re-running the same command after an interruption resumes every unfinished training from
# its last epoch (dsnbench train --resume) and re-exports the finished ones (no retraining).
# Output folder per config file: runs/train/<config stem>. Order used for the bundled models:
#   lane 1: mini-supernet, mini-supernet-phase2, then mini-dsn-l1, -l1.5, -l2, -l3
#   lane 2: mini-static-1.0 ... mini-static-0.25, then their -phase2 configs
set -u
logdir=$1; shift
mkdir -p "$logdir"
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml)
  echo "$(date -u +%FT%TZ) start $cfg" >> "$logdir/lane.log"
  if ! .venv/bin/dsnbench train "$cfg" --resume --out "runs/train/$name" > "$logdir/$name.log" 2>&1; then
    echo "$(date -u +%FT%TZ) FAILED $cfg (see $logdir/$name.log)" >> "$logdir/lane.log"
    exit 1
  fi
  echo "$(date -u +%FT%TZ) done $cfg" >> "$logdir/lane.log"
done
