#!/usr/bin/env bash
# Wheels the GPU machine lacks for a whole `dsnbench run` (it has torch, numpy, scipy, pandas,
# pyarrow, pyyaml, safetensors, tqdm, matplotlib; not these), for its Python 3.12, into .whl/
# (ignored through .git/info/exclude; name it in the device call's carry). Run here, once:
#   bash scripts/fetch_gpu_wheels.sh
# soundfile needs cffi, which that image lacks (the end-to-end part of the first GPU evaluation,
# 2026-12-04, failed on `_cffi_backend`). fvcore and pesq publish no wheels: fvcore is built here as a pure-Python wheel, pesq as a
# CPython 3.12 wheel with a local Python 3.12 (PY312, default: the pyenv one).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl .git/info
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLAT[@]}" \
    -d .whl soundfile==0.12.1 cffi pycparser iopath portalocker yacs termcolor tabulate pystoi
.venv/bin/pip wheel -q --no-deps -w .whl fvcore==0.1.5.post20221221
PY312=${PY312:-/root/.pyenv/versions/3.12.1/bin/python}
tmp=$(mktemp -d)
"$PY312" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "numpy>=2" cython setuptools wheel
"$tmp/venv/bin/pip" wheel -q --no-deps --no-build-isolation -w .whl pesq==0.0.4
rm -rf "$tmp"
ls -1 .whl
