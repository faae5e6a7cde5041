#!/usr/bin/env bash
# Regression check for CI: run the mini benchmark (the bundled default experiment) into a fresh
# folder, then compare it with the committed baseline (results/mini/baseline). A regression beyond
# tolerance fails the check.
#
# usage: scripts/ci_regression.sh [options] [-- extra arguments for `dsnbench run`]
#   --baseline DIR      baseline run folder (default: results/mini/baseline)
#   --out DIR           write the new run here and keep it (default: a temporary folder, removed)
#   --new DIR           do not run: compare (or with --update-baseline, promote) this finished run
#   --markdown FILE     also append the comparison as markdown (e.g. "$GITHUB_STEP_SUMMARY")
#   --json FILE         also write the comparison as JSON
#   --tol METRIC=VALUE  tolerance override passed to `dsnbench compare` (repeatable)
#   --update-baseline   instead of comparing: replace the baseline with the new run and append
#                       it to results/history.csv (do this on purpose, in its own commit)
#   --no-history        with --update-baseline: do not append to the history
#   --history FILE      history file for --update-baseline (default: results/history.csv)
#
# exit status: that of `dsnbench compare` (0 no regression, 1 regression, 2 usage error,
# 3 not comparable), or 4 when the benchmark run itself failed.
# Python: $PYTHON if set, else .venv/bin/python of this checkout (made by scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
BASELINE=results/mini/baseline
HISTORY=results/history.csv
OUT=""
NEW=""
MARKDOWN=""
JSON=""
UPDATE=0
HISTORY_ADD=1
TOLS=()
RUN_ARGS=()

while [ $# -gt 0 ]; do
    case "$1" in
        --baseline) BASELINE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --new) NEW=$2; shift 2 ;;
        --markdown) MARKDOWN=$2; shift 2 ;;
        --json) JSON=$2; shift 2 ;;
        --tol) TOLS+=(--tol "$2"); shift 2 ;;
        --update-baseline) UPDATE=1; shift ;;
        --no-history) HISTORY_ADD=0; shift ;;
        --history) HISTORY=$2; shift 2 ;;
        --) shift; RUN_ARGS=("$@"); break ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "ci_regression.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$PY" ] && ! command -v "$PY" >/dev/null 2>&1; then
    echo "ci_regression.sh: no python at $PY; run scripts/bootstrap.sh first or set PYTHON" >&2
    exit 2
fi
if [ "$UPDATE" = 0 ] && [ ! -f "$BASELINE/summary.json" ]; then
    echo "ci_regression.sh: no baseline at $BASELINE/summary.json; create it on purpose with" \
         "scripts/ci_regression.sh --update-baseline" >&2
    exit 2
fi

TMP=""
if [ -n "$NEW" ]; then
    :
elif [ -z "$OUT" ]; then
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/dsnbench-ci.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
    OUT="$TMP/run"
elif [ -e "$OUT/summary.json" ] || [ -d "$OUT/parts" ]; then
    echo "ci_regression.sh: $OUT already holds a run; choose an empty --out" >&2
    exit 2
fi

if [ -n "$NEW" ]; then
    if [ ! -f "$NEW/summary.json" ]; then
        echo "ci_regression.sh: --new $NEW holds no finished run (no summary.json)" >&2
        exit 2
    fi
    OUT=$NEW
else
    echo "== mini benchmark: dsnbench run ${RUN_ARGS[*]:-(default experiment)} -> $OUT"
    set +e
    "$PY" -m dsnbench.cli run --out "$OUT" --no-progress "${RUN_ARGS[@]}"
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        echo "ci_regression.sh: the benchmark run failed (dsnbench run exit $rc)" >&2
        exit 4
    fi
fi

if [ "$UPDATE" = 1 ]; then
    mkdir -p "$BASELINE"
    for f in summary.json utterances.parquet segments.parquet; do
        cp "$OUT/$f" "$BASELINE/$f.tmp"
        mv "$BASELINE/$f.tmp" "$BASELINE/$f"
    done
    echo "== baseline replaced: $BASELINE"
    if [ "$HISTORY_ADD" = 1 ]; then
        "$PY" -m dsnbench.cli history add "$BASELINE" --history "$HISTORY"
    fi
    exit 0
fi

echo "== dsnbench compare $BASELINE $OUT"
EXTRA=()
[ -n "$MARKDOWN" ] && EXTRA+=(--markdown-file "$MARKDOWN")
[ -n "$JSON" ] && EXTRA+=(--json-file "$JSON")
set +e
"$PY" -m dsnbench.cli compare "$BASELINE" "$OUT" "${TOLS[@]}" "${EXTRA[@]}" --show changed
rc=$?
set -e
case $rc in
    0) echo "== no regression against $BASELINE" ;;
    1) echo "== REGRESSION against $BASELINE (see the table above)" >&2 ;;
    3) echo "== the new run is NOT COMPARABLE with $BASELINE (see the reasons above)" >&2 ;;
esac
exit $rc
