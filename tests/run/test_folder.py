"""The run folder (dsnbench/run/folder.py) through faults: kill -9 at random points then resume,
a full disk, an unwritable or foreign folder, determinism (issue 11)."""
from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import time

import pandas as pd
import pytest

from dsnbench.run.config import build_config
from dsnbench.errors import UserError
from dsnbench.run.local_engine import run_experiment
from dsnbench.results import read_run


@pytest.fixture(scope="module")
def longer_root(tmp_path_factory):
    from dsnbench.testing import write_wsj0_2mix
    return write_wsj0_2mix(tmp_path_factory.mktemp("wsj0long") / "2speakers", n=10, seconds=1.5, seed=5)


def _doc(root, workers=1):
    return {"models": ["oracle-irm", "oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(root)}],
            "metrics": ["si_snr"], "workers": workers, "chunk_size": 1}


def _strip(summary):
    return {k: v for k, v in summary.items() if k not in ("created", "run_id")}


def _assert_same_run(a, b):
    ra, rb = read_run(a), read_run(b)
    pd.testing.assert_frame_equal(ra.utterances, rb.utterances)
    pd.testing.assert_frame_equal(ra.segments, rb.segments)
    assert _strip(ra.summary) == _strip(rb.summary)
    keys = ["model", "dataset", "operating_point", "utt_id"]
    assert not rb.utterances.duplicated(keys).any()


def test_kill_9_at_random_points_then_resume_gives_identical_tables(longer_root, tmp_path, dsnbench_exe):
    ref = tmp_path / "ref"
    run_experiment(build_config(_doc(longer_root)), ref, progress=False)
    out = tmp_path / "killed"
    cmd = [*dsnbench_exe, "run", "--model", "oracle-irm", "--model", "oracle-mixture", "--dataset", "wsj0-2mix",
           "--root", str(longer_root), "--metrics", "si_snr", "--workers", "1", "--set", "chunk_size=1",
           "--out", str(out), "--no-progress"]
    rng = random.Random(11)
    kills = 0
    parts = out / "parts"

    def committed() -> int:
        return len(list(parts.glob("utt-*.parquet"))) if parts.is_dir() else 0

    for attempt in range(30):
        before = committed()
        want = before + rng.randint(1, 6)  # kill after a few more utterances, at a random instant
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while proc.poll() is None and committed() < want:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))  # between commits, or in the middle of one
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        if (out / "summary.json").exists():
            break
    assert kills >= 3  # the test really interrupted the run several times
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    _assert_same_run(ref, out)


def test_full_disk_is_a_clear_error_and_keeps_written_rows(longer_root, tmp_path, monkeypatch):
    import dsnbench.results as results
    ref = tmp_path / "ref"
    cfg = build_config(_doc(longer_root))
    run_experiment(cfg, ref, progress=False)

    original = results.atomic_write_bytes
    calls = {"n": 0}

    def filling(path, data):
        calls["n"] += 1
        if "parts" in str(path) and calls["n"] > 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(path, data)

    monkeypatch.setattr(results, "atomic_write_bytes", filling)
    out = tmp_path / "full"
    with pytest.raises(UserError, match="No space left on device.*intact"):
        run_experiment(cfg, out, progress=False)
    before = results.PartStore(out).read()[0]
    assert 0 < len(before) < 20
    monkeypatch.setattr(results, "atomic_write_bytes", original)  # space freed
    run_experiment(cfg, out, progress=False)
    _assert_same_run(ref, out)


def test_unwritable_output_folder_is_a_one_line_error(tmp_path, wsj0_root, dsnbench_exe):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = subprocess.run([*dsnbench_exe, "run", "--model", "oracle-mixture", "--dataset", "wsj0-2mix", "--root",
                          str(wsj0_root), "--out", str(blocker / "run"), "--no-progress"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and str(blocker / "run") in res.stderr


def test_same_run_twice_gives_identical_tables(wsj0_root, tmp_path):
    cfg = build_config({**_doc(wsj0_root, workers=2)})
    run_experiment(cfg, tmp_path / "a", progress=False)
    run_experiment(cfg, tmp_path / "b", progress=False)
    _assert_same_run(tmp_path / "a", tmp_path / "b")


def test_same_out_with_other_config_is_refused(wsj0_root, tmp_path):
    doc = {"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1}
    run_experiment(build_config(doc), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="another configuration"):
        run_experiment(build_config({**doc, "limit": 1}), tmp_path / "run", progress=False)


# --- issue 21: what the run does not own, two writers, inputs changed under the same path ------

def test_a_folder_without_run_json_is_refused_untouched(wsj0_root, tmp_path):
    """A folder holding results-like files but no run.json is not the run's: refused, and not
    one byte of it changes (it used to overwrite summary.json and delete the parts)."""
    out = tmp_path / "theirs"
    (out / "parts").mkdir(parents=True)
    files = {out / "summary.json": b'{"mine": 1}', out / "utterances.parquet": b"PAR1 not ours",
             out / "parts" / "seg-000042.parquet": b"x", out / "parts" / ".draft.tmp": b"y"}
    for p, data in files.items():
        p.write_bytes(data)
    with pytest.raises(UserError, match=r"theirs: holds parts, summary.json, utterances.parquet but no run.json"):
        run_experiment(build_config(_doc(wsj0_root)), out, progress=False)
    assert {p: p.read_bytes() for p in files} == files
    assert sorted(p.name for p in out.rglob("*")) == sorted(
        ["parts", "summary.json", "utterances.parquet", "seg-000042.parquet", ".draft.tmp"])  # no lock file either


def test_an_empty_existing_folder_is_claimed(wsj0_root, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    run_experiment(build_config(_doc(wsj0_root)), out, progress=False)
    assert (out / "run.json").is_file() and (out / "utterances.parquet").is_file()


def test_a_second_writer_on_the_same_folder_is_refused_while_the_first_runs(longer_root, tmp_path, dsnbench_exe):
    """Two writers: the second is refused naming the first's pid, while the first is paused
    mid-run (SIGSTOP); after the first ends, a run takes the folder again (the kernel dropped the
    lock: no stale-lock cleanup is needed)."""
    out = tmp_path / "shared"
    cmd = [*dsnbench_exe, "run", "--model", "oracle-irm", "--model", "oracle-mixture", "--dataset", "wsj0-2mix",
           "--root", str(longer_root), "--metrics", "si_snr", "--workers", "1", "--set", "chunk_size=1",
           "--out", str(out), "--no-progress"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not list(out.glob("parts/utt-*.parquet")):
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGSTOP)
        second = subprocess.run(cmd[:-1] + ["--set", "chunk_size=3", "--no-progress"], capture_output=True, text=True)
        assert second.returncode == 2
        assert f"another dsnbench run (pid {first.pid}) is writing into this folder" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGCONT)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # the first writer is dead: its lock is gone with it, and the run resumes to the same tables
    run_experiment(build_config(_doc(longer_root)), out, progress=False)
    ref = tmp_path / "ref"
    run_experiment(build_config(_doc(longer_root)), ref, progress=False)
    _assert_same_run(ref, out)


def test_resume_refuses_audio_regenerated_under_the_same_names(tmp_path):
    from dsnbench.testing import write_wsj0_2mix
    root = write_wsj0_2mix(tmp_path / "d" / "2speakers", n=3, seconds=1.0, seed=1)
    out = tmp_path / "run"
    run_experiment(build_config(_doc(root)), out, progress=False)
    write_wsj0_2mix(tmp_path / "d" / "2speakers", n=3, seconds=1.0, seed=2)  # same names and lengths
    with pytest.raises(UserError, match=r"dataset 'wsj0-2mix' has changed since this run began \(its audio"):
        run_experiment(build_config(_doc(root)), out, progress=False)


def test_resume_refuses_a_checkpoint_replaced_at_the_same_path(tmp_path, wsj0_root):
    import shutil
    from dsnbench.models.bundled import CHECKPOINT_DIR as BUNDLED_DIR
    ckpt = tmp_path / "model.safetensors"
    shutil.copyfile(BUNDLED_DIR / "static-0.25.safetensors", ckpt)
    doc = {"models": [str(ckpt)], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1}
    out = tmp_path / "run"
    run_experiment(build_config({**doc, "limit": 1}), out, progress=False)
    shutil.copyfile(BUNDLED_DIR / "static-0.5.safetensors", ckpt)
    with pytest.raises(UserError, match=r"model '.*model.safetensors' has changed since this run began \(its weights"):
        run_experiment(build_config({**doc, "limit": 1}), out, progress=False)


def test_a_run_that_fails_before_its_first_row_leaves_no_folder(wsj0_root, tmp_path, monkeypatch):
    """Something refused after the folder was claimed (here: the MAC count of the first entry)."""
    import pytest
    from dsnbench.run import unit
    from dsnbench.run.config import build_config
    from dsnbench.run.engines import EngineOptions, run_experiment_with

    def refuse(separator, sample_rate, *_):
        raise RuntimeError("cannot count")

    monkeypatch.setattr(unit, "make_pricer", refuse)
    cfg = build_config({"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "metrics": ["si_snr"], "workers": 1})
    out = tmp_path / "new"
    with pytest.raises(RuntimeError, match="cannot count"):
        run_experiment_with(cfg, out, EngineOptions(), progress=False)
    assert not out.exists()
    given = tmp_path / "given"
    given.mkdir()
    (given / "notes.txt").write_text("mine")
    from dsnbench.errors import UserError
    with pytest.raises(UserError, match="holds notes.txt but no run.json"):  # not the run's: refused first
        run_experiment_with(cfg, given, EngineOptions(), progress=False)
    assert sorted(p.name for p in given.iterdir()) == ["notes.txt"]
