"""experiments/train/commit_state.sh: commits exactly the lineage's resume files, never its
exported checkpoints, and names each changed training's step and validation in the message."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experiments" / "train" / "commit_state.sh"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _env(repo: Path) -> dict[str, str]:
    """A fixed identity and a HOME of the test's own, so no user or system git config applies."""
    return {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _git(repo: Path, *args: str) -> str:
    env = _env(repo)
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = _env(repo)
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=repo, env=env, capture_output=True, text=True)


def _training(folder: Path, rows: list[str], header: str) -> None:
    folder.mkdir(parents=True)
    (folder / "state.pt").write_bytes(b"state " + rows[-1].encode())
    (folder / "config.yaml").write_text("name: x\n")
    (folder / "log.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    (folder / f"{folder.name}.safetensors").write_bytes(b"exported")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("/state/*/*.safetensors\n")
    _git(tmp_path, "add", ".gitignore")
    _git(tmp_path, "commit", "-q", "-m", "start")
    return tmp_path


def test_commits_resume_files_only_and_names_progress(repo: Path) -> None:
    # the supernet's log has per-width columns after the width-1 one; the column is found by name
    _training(repo / "state" / "mini-supernet", ["1,1000,0.5,1.2,0.9", "2,2000,0.4,1.5,6.514"],
              "epoch,step,loss,val_clean_full_si_snri@0.25,val_clean_full_si_snri")
    _training(repo / "state" / "mini-static-0.5", ["1,1000,0.5,0.78"], "epoch,step,loss,val_clean_full_si_snri")
    r = _run(repo, "state")
    assert r.returncode == 0, r.stderr
    files = sorted(_git(repo, "show", "--name-only", "--format=", "HEAD").split())
    assert files == [f"state/{d}/{f}" for d in ("mini-static-0.5", "mini-supernet")
                     for f in ("config.yaml", "log.csv", "state.pt")]
    message = _git(repo, "log", "-1", "--format=%s")
    assert message == ("lineage: mini-static-0.5 step 1000 (0.78 dB clean full overlap), "
                       "mini-supernet step 2000 (6.51 dB clean full overlap)")
    # the next epoch of one training: only that one is named
    log = repo / "state" / "mini-static-0.5" / "log.csv"
    log.write_text(log.read_text() + "2,2000,0.4,1.36\n")
    (repo / "state" / "mini-static-0.5" / "state.pt").write_bytes(b"later")
    assert _run(repo).returncode != 0          # default root experiments/train/state is not here
    r = _run(repo, "state")
    assert r.returncode == 0, r.stderr
    assert _git(repo, "log", "-1", "--format=%s") == "lineage: mini-static-0.5 step 2000 (1.36 dB clean full overlap)"
    # a gate's closing row of averaged weights has no clean full-overlap value: the last logged one is named
    log.write_text(log.read_text() + "avg3,2000,,\n")
    assert _run(repo, "state").returncode == 0
    assert _git(repo, "log", "-1", "--format=%s") == "lineage: mini-static-0.5 step 2000 (1.36 dB clean full overlap)"
    # nothing new: no empty commit
    head = _git(repo, "rev-parse", "HEAD")
    r = _run(repo, "state")
    assert r.returncode == 0 and "nothing new" in r.stdout
    assert _git(repo, "rev-parse", "HEAD") == head


def test_other_staged_work_is_left_out(repo: Path) -> None:
    _training(repo / "state" / "mini-static-1.0", ["1,1000,0.5,2.0"], "epoch,step,loss,val_clean_full_si_snri")
    (repo / "notes.txt").write_text("half-done work\n")
    _git(repo, "add", "notes.txt")
    assert _run(repo, "state").returncode == 0
    assert "notes.txt" not in _git(repo, "show", "--name-only", "--format=", "HEAD")
    assert "notes.txt" in _git(repo, "diff", "--cached", "--name-only")
