"""The plan of a run (dsnbench/run/plan.py): entries in run order, --dry-run, and every dataset
validated before any work (a broken or damaged layout is one line naming the file)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dsnbench.run.config import build_config
from dsnbench.run.plan import format_plan, plan_entries

from tests.helpers import cli as _cli


@pytest.mark.parametrize("how", ["missing_folder", "missing_id", "length", "rate"])
def test_broken_layout_is_a_one_line_error_naming_the_file(dsnbench_exe, wsj0_root, tmp_path, how):
    root = tmp_path / "2speakers"
    shutil.copytree(wsj0_root, root)
    needle = _break(root, how)
    res = _cli(dsnbench_exe, "run", "--model", "oracle-mixture", "--dataset", "wsj0-2mix", "--root", root,
               "--out", tmp_path / "run", "--no-progress")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(root) in lines[0] and needle in lines[0]
    assert not (tmp_path / "run").exists()  # nothing started


def test_plan_lists_entries_in_run_order_with_counts(wsj0_root, wham_root):
    cfg = build_config({
        "models": ["oracle-mixture", {"name": "oracle-irm", "label": "irm-{w}", "window_ms": "{w}", "sweep": {"w": [16, 32]}}],
        "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)},
                     {"name": "wham", "root": str(wham_root), "sweep": {"task": ["sep_clean", "sep_noisy"]}}],
        "limit": 2,
    })
    entries = plan_entries(cfg)
    keys = [(e.model, e.dataset, e.n_utterances) for e in entries]
    assert keys == [(m, d, 2) for m in ("oracle-mixture", "irm-16", "irm-32")
                    for d in ("wsj0-2mix", "wham:sep_clean", "wham:sep_noisy")]
    text = format_plan(entries)
    assert "9 entries (3 models x 3 datasets x operating points), 18 utterance evaluations" in text


def test_cli_dry_run_lists_entries_and_runs_nothing(dsnbench_exe, wsj0_root, tmp_path):
    exp = tmp_path / "sweep.yaml"
    exp.write_text(
        "models:\n"
        "  - oracle-mixture\n"
        "  - {name: oracle-irm, window_ms: '{w}', label: 'irm-{w}ms', sweep: {w: {range: [16, 48, 16]}}}\n"
        f"datasets:\n  - {{name: wsj0-2mix, root: '{wsj0_root}'}}\n")
    out = tmp_path / "run"
    res = subprocess.run([*dsnbench_exe, "run", str(exp), "--dry-run", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["#", "model", "dataset", "op", "utterances"]
    rows = [ln.split() for ln in lines[1:5]]
    assert rows == [["1", "oracle-mixture", "wsj0-2mix", "-", "4"], ["2", "irm-16ms", "wsj0-2mix", "-", "4"],
                    ["3", "irm-32ms", "wsj0-2mix", "-", "4"], ["4", "irm-48ms", "wsj0-2mix", "-", "4"]]
    assert "4 entries" in res.stdout and "16 utterance evaluations" in res.stdout
    assert not out.exists()  # nothing written, nothing evaluated
    # a bad sweep is one line, exit 2
    exp.write_text("models: [{name: 'm-{x}', sweep: {y: [1]}}]\ndatasets: [mini-2mix]\n")
    res = subprocess.run([*dsnbench_exe, "run", str(exp), "--dry-run"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "unknown sweep variable {x}" in res.stderr
    assert "Traceback" not in res.stderr


def _first(root, folder):
    return sorted((root / "wav8k" / "min" / "tt" / folder).iterdir())[0]


def _run_cli(exe, root, out, dataset="wsj0-2mix", extra=()):
    return subprocess.run([*exe, "run", "--model", "oracle-mixture", "--dataset", dataset, "--root", str(root),
                           "--out", str(out), "--no-progress", *extra], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "empty_file"])
def test_damaged_wav_is_a_one_line_error_naming_it(dsnbench_exe, wsj0_root, tmp_path, damage):
    root = tmp_path / "2speakers"
    shutil.copytree(wsj0_root, root)
    f = _first(root, "s1")
    data = f.read_bytes()
    if damage == "truncated":  # a copy that stopped half-way
        f.write_bytes(data[: len(data) // 2])
    elif damage == "corrupt":
        f.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    else:
        f.write_bytes(b"")
    res = _run_cli(dsnbench_exe, root, tmp_path / "run")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(f) in lines[0], res.stderr
    assert not (tmp_path / "run").exists()


def test_wham_root_given_as_wsj0_2mix_names_the_missing_folder(dsnbench_exe, wham_root, tmp_path):
    res = _run_cli(dsnbench_exe, wham_root, tmp_path / "run")
    assert res.returncode == 2
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "mix" in line and str(wham_root) in line


def test_empty_dataset_root(dsnbench_exe, tmp_path):
    (tmp_path / "empty").mkdir()
    res = _run_cli(dsnbench_exe, tmp_path / "empty", tmp_path / "run")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "wav8k" in res.stderr


def _break(root: Path, how: str) -> str:
    base = root / "wav8k" / "min" / "tt"
    first = sorted((base / "mix").iterdir())[0]
    if how == "missing_folder":
        shutil.rmtree(base / "s2")
        return "s2"
    if how == "missing_id":
        (base / "s2" / first.name).unlink()
        return first.stem
    if how == "length":
        import soundfile as sf
        x, sr = sf.read(str(base / "s1" / first.name))
        sf.write(str(base / "s1" / first.name), x[:-10], sr, subtype="PCM_16")
        return first.stem
    if how == "rate":
        import soundfile as sf
        x, sr = sf.read(str(base / "s1" / first.name))
        sf.write(str(base / "s1" / first.name), x, 16000, subtype="PCM_16")
        return "16000"
    raise ValueError(how)


@pytest.mark.parametrize("rate", [3, 7, 999])
def test_a_dataset_below_1000_hz_is_one_line_before_any_folder(rate, tmp_path):
    """Issue 21: at 1-4 Hz the segment grid divided by zero (a traceback), and at 7 Hz a run
    scored noise as speech; both are refused naming the folder, before the run folder exists."""
    import numpy as np
    import soundfile as sf

    from dsnbench.errors import UserError
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.1, 64), rng.normal(0, 0.1, 64)
    for d, x in (("s1", a), ("s2", b), ("mix", a + b)):
        (root / d).mkdir(parents=True)
        sf.write(root / d / "u1.wav", x, rate)
    cfg = build_config({"models": ["oracle-mixture"], "datasets": [{"name": "folder", "root": str(root)}],
                        "metrics": ["si_snr"], "workers": 1})
    with pytest.raises(UserError, match=rf"data: its audio is at {rate} Hz; dsnbench scores speech at 1000 Hz or more"):
        run_experiment(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
