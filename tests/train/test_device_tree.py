"""The one-shot GPU retraining travels as the working tree plus the training pack, and the device
machine takes at most 64 MiB of it (experiments/train/gpu/README.md): the tracked files and the
pack built from ../shared/data must fit together."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dsnbench.data.librispeech import TRAIN_SUBSET, shared_data_dir
from dsnbench.train.pack import DEFAULT_PACK, build_pack

REPO = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024 * 1024


def _tracked_bytes() -> int:
    r = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    total = 0
    for name in r.stdout.decode().split("\0"):
        p = REPO / name
        if name and p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def test_tracked_tree_and_training_pack_fit_the_device_limit(tmp_path: Path) -> None:
    pack = REPO / DEFAULT_PACK
    if not pack.is_file():
        root = shared_data_dir()
        if not (root / "librispeech" / TRAIN_SUBSET).is_dir():
            pytest.skip("../shared/data not present: the pack cannot be built")
        pack = tmp_path / "train-8k.dsnpack"
        build_pack(root, pack)
    tracked, packed = _tracked_bytes(), pack.stat().st_size
    assert tracked > 0 and packed > 0
    assert tracked + packed <= LIMIT, (
        f"tracked tree {tracked / 2**20:.1f} MiB + pack {packed / 2**20:.1f} MiB exceed the "
        f"device call's 64 MiB")
