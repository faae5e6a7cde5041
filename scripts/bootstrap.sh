#!/usr/bin/env bash
# Set up dsnbench on a fresh machine: a virtual environment in .venv with the CPU build of
# torch 2.13.0 installed first (so nothing pulls a multi-GB CUDA build), then the package
# with its test extras. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip >/dev/null
if ! "$VPY" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
    "$VPY" -m pip install -q torch==2.13.0
fi
"$VPY" -m pip install -q -e '.[test]'
