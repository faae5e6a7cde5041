"""Bad inputs end to end (issue 11): each is a one-line error naming the file before any work,
or a counted NaN with its reason for one metric on one utterance; the run never loses rows."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from dsnbench.run.config import build_config
from dsnbench.run.local_engine import run_experiment
from dsnbench.models.oracles import OracleMixture
from dsnbench.results import read_run


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


class _Bad(OracleMixture):
    """Returns NaN, Inf, silence or the wrong number of sources, one kind per utterance."""

    calls = 0

    def separate(self, mixture, references=None):
        _Bad.calls += 1
        sep = super().separate(mixture, references)
        kind = _Bad.calls % 4
        if kind == 1:
            sep.estimates[0, 10:20] = float("nan")
        elif kind == 2:
            sep.estimates[1, 5] = float("inf")
        elif kind == 3:
            sep.estimates = torch.zeros_like(sep.estimates)
        else:
            sep.estimates = sep.estimates[:1]
        return sep


def test_bad_estimates_are_counted_nans_with_reasons(wsj0_root, tmp_path, monkeypatch):
    from dsnbench.models import MODELS
    monkeypatch.setitem(MODELS._entries, "bad", type(MODELS.entry("oracle-mixture"))("bad", _Bad))
    _Bad.calls = 0
    cfg = build_config({"models": ["bad"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "workers": 1})
    summary = run_experiment(cfg, tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    u = run.utterances.set_index("utt_id").sort_index()
    assert len(u) == 4  # nothing dropped
    errors = list(u["error"])
    assert sum("non-finite" in e for e in errors) == 2
    assert sum("shape" in e for e in errors) == 1
    assert sum("silent estimate" in e for e in errors) == 1
    # every quality column of a bad utterance is NaN, never 0; input values stay (they describe data)
    for col in ("si_snri", "sdri", "pesqi", "stoii", "estoii"):
        assert u[col].isna().all(), col
    assert u["si_snr_input"].notna().all()
    (entry,) = summary["entries"]
    assert entry["n_utterances"]["failed"]["si_snri"] == 4
    assert entry["n_utterances"]["total"] == 4


def test_utterance_shorter_than_a_segment_and_than_pesq_accepts(tmp_path):
    from dsnbench.testing import write_wsj0_2mix
    root = write_wsj0_2mix(tmp_path / "2speakers", n=2, seconds=1.0, seed=3)
    base = root / "wav8k" / "min" / "tt"
    short = sorted((base / "mix").iterdir())[0].name
    for folder in ("mix", "s1", "s2"):  # 0.1 s: shorter than a 0.25 s segment and than PESQ's minimum
        x, sr = sf.read(str(base / folder / short))
        sf.write(str(base / folder / short), x[:800], sr, subtype="PCM_16")
    cfg = build_config({"models": ["oracle-irm"], "datasets": [{"name": "wsj0-2mix", "root": str(root)}],
                        "workers": 1})
    summary = run_experiment(cfg, tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    row = run.utterances.set_index("utt_id").loc[short.removesuffix(".wav")]
    assert np.isnan(row["pesq"]) and "pesq" in row["error"]
    assert np.isfinite(row["si_snri"])  # the other metrics still count
    (entry,) = summary["entries"]
    assert entry["n_utterances"]["failed"].get("pesq") == 1
    assert len(run.segments[run.segments["utt_id"] == short.removesuffix(".wav")]) == 1
