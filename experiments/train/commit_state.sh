#!/usr/bin/env bash
# Commit the lineage's resume state as it stands (issue 24): for every training folder under
# STATE_ROOT (default experiments/train/state), exactly the files the next step needs
# (state.pt, log.csv, config.yaml). They sit under an ignored path, so they are force-added one
# by one; a folder's exported checkpoint (<name>.safetensors, remade from the state by
# re-running run_lane.sh) is never added. The message names each changed folder's last
# logged step and clean full-overlap validation SI-SNRi (dB). Run it at epoch boundaries while
# run_lane.sh trains, and before a sitting ends:
#   experiments/train/commit_state.sh [STATE_ROOT]
set -euo pipefail
root=${1:-experiments/train/state}
[ -d "$root" ] || { echo "commit_state: $root: no such folder" >&2; exit 2; }
added=()
for dir in "$root"/*/; do
  dir=${dir%/}
  for f in state.pt log.csv config.yaml; do
    [ -f "$dir/$f" ] && git add -f -- "$dir/$f" && added+=("$dir/$f")
  done
done
# no resume file at all, or none changed (an empty path list would mean the whole index)
if [ ${#added[@]} -eq 0 ] || git diff --cached --quiet -- "${added[@]}"; then
  echo "commit_state: nothing new under $root"
  exit 0
fi
parts=()
for dir in "$root"/*/; do
  dir=${dir%/}
  git diff --cached --quiet -- "$dir" && continue
  line=
  # the last row's step and the last val_clean_full_si_snri logged (the width-1 column, found by
  # name; a gate's closing "avg3" row of averaged weights leaves it empty)
  [ -f "$dir/log.csv" ] && line=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "step") s = i; if ($i == "val_clean_full_si_snri") c = i } next }
                  { split($0, v, ","); step = v[s]; if (c && v[c] != "") val = v[c] }
                  END { if (step == "") exit;
                  if (val != "") printf "step %s (%.2f dB clean full overlap)", step, val; else printf "step %s", step }' "$dir/log.csv")
  parts+=("$(basename "$dir") ${line:-started}")
done
msg="lineage: ${parts[0]}"
for p in "${parts[@]:1}"; do msg+=", $p"; done
git commit -q -m "$msg" -- "${added[@]}"
echo "$msg"
