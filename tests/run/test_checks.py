"""``dsnbench validate`` and the audio statistics of a dataset (dsnbench/run/checks.py)."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from dsnbench.cli import main
from dsnbench.data import load_dataset
from dsnbench.testing import write_wham, write_wsj0_2mix

from tests.data.test_layouts import first, tt


def test_validate_ok_and_report(tmp_path, capsys):
    write_wham(tmp_path, n=3)
    assert main(["validate", "--dataset", "wham", "--root", str(tmp_path), "--task", "sep_clean"]) == 0
    out = capsys.readouterr().out
    assert "mixtures     3 found, 3 valid" in out and "manifest" in out and "format FLOAT" in out
    assert "input SI-SNR mean" in out and "warning:" in out and "3000" in out
    assert out.strip().endswith("OK (1 warning(s))")
    assert main(["validate", "--dataset", "wham", "--root", str(tmp_path), "--strict"]) == 1


def test_validate_lists_problems_one_line_each(tmp_path, capsys):
    write_wsj0_2mix(tmp_path, n=3)
    files = sorted((tt(tmp_path) / "s2").glob("*.wav"))
    files[0].unlink()
    x, sr = sf.read(files[1])
    sf.write(files[1], np.stack([x, x], 1), sr, subtype="PCM_16")
    assert main(["validate", "--dataset", "wsj0-2mix", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    problems = [line for line in out if line.startswith("problem: ")]
    assert len(problems) == 2
    assert str(files[0]) in problems[0] and str(files[1]) in problems[1] and "channels" in problems[1]
    assert out[-1] == "INVALID: 2 problem(s)"


def test_validate_catches_wrong_references(tmp_path, capsys):
    """References that do not belong to their mixtures: the SI-SNR sanity statistic warns."""
    write_wsj0_2mix(tmp_path, n=4)
    s2 = sorted((tt(tmp_path) / "s2").glob("*.wav"))
    rng = np.random.default_rng(0)
    for p in s2:
        x, sr = sf.read(p)
        sf.write(p, 0.1 * rng.standard_normal(x.size), sr, subtype="PCM_16")
    assert main(["validate", "--dataset", "wsj0-2mix", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mean input SI-SNR" in out and "do not match" in out
    assert "mixture differs from the sum of its references" in out
    assert main(["validate", "--dataset", "wsj0-2mix", "--root", str(tmp_path), "--strict"]) == 1


def test_validate_usage_errors(tmp_path, capsys):
    assert main(["validate", "--dataset", "wham"]) == 2
    assert "needs --root" in capsys.readouterr().err
    assert main(["validate", "--dataset", "wsj0-2mix", "--root", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1


def test_validate_rejects_broken_consistency_even_on_noisy(tmp_path):
    write_wham(tmp_path, n=2)
    p = first(tt(tmp_path) / "s1")
    x, sr = sf.read(p)
    sf.write(p, (x * 3).astype(np.float32), sr, subtype="FLOAT")  # references rescaled
    from dsnbench.run.checks import audio_stats
    stats = audio_stats(load_dataset("wham", root=tmp_path, task="sep_noisy"))
    assert stats.min_consistency_db is not None and stats.min_consistency_db < 30
    assert any(str(p.name) in w for w in stats.warnings)
