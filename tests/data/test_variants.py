"""Variants: overlap ratio and noise activity measured back from the written files."""
from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest

from dsnbench.cli import main
from dsnbench.data import load_dataset
from dsnbench.data.activity import active_extent, frame_length
from dsnbench.data.manifest import load_utterance
from dsnbench.errors import UserError
from dsnbench.testing import write_folder, write_libri2mix, write_wham, write_wsj0_2mix

SR = 8000
FRAME = frame_length(SR)


def support(x: np.ndarray) -> tuple[int, int]:
    nz = np.flatnonzero(x)
    return int(nz[0]), int(nz[-1]) + 1


def measure(manifest) -> list[dict]:
    """Overlap ratio and noise activity of each utterance, from the written audio only."""
    out = []
    for u in manifest:
        _, srcs, noise = load_utterance(u)
        (a1, b1), (a2, b2) = active_extent(srcs[0], SR), active_extent(srcs[1], SR)
        ov = max(0, min(b1, b2) - max(a1, a2)) / min(b1 - a1, b2 - a2)
        row = {"overlap_active": ov, "short": min(b1 - a1, b2 - a2), "T": srcs.shape[1]}
        (c1, d1), (c2, d2) = support(srcs[0]), support(srcs[1])
        row["overlap_exact"] = max(0, min(d1, d2) - max(c1, c2)) / min(d1 - c1, d2 - c2)
        if noise is not None:
            e = active_extent(noise, SR)
            row["noise_active"] = 0.0 if e is None else (e[1] - e[0]) / noise.shape[0]
            lo, hi = support(noise)
            row["noise_exact"] = (hi - lo) / noise.shape[0]
        out.append(row)
    return out


@pytest.mark.parametrize("overlap", [1.0, 0.5, 0.25])
def test_overlap_measured_back_clean(tmp_path, overlap):
    write_wsj0_2mix(tmp_path / "src", n=3, seconds=1.5)
    src = load_dataset("wsj0-2mix", root=tmp_path / "src")
    assert main(["data", "variant", "--from", "wsj0-2mix", "--root", str(tmp_path / "src"),
                 "--overlap", str(overlap), "--out", str(tmp_path / "v")]) == 0
    v = load_dataset("wsj0-2mix", root=tmp_path / "v")
    assert [u.utt_id for u in v] == [u.utt_id for u in src]
    assert v.info["overlap"] == overlap and v.info["noise_activity"] is None
    for row, u in zip(measure(v), v):
        meta = u.meta_dict()
        assert row["overlap_exact"] == pytest.approx(overlap, abs=1.5 / row["short"])  # to a sample
        assert abs(row["overlap_active"] - overlap) * row["short"] <= FRAME  # within one frame
        assert meta["overlap_ratio"] == pytest.approx(overlap, abs=1e-3)
        assert meta["n_samples"] == u.n_samples


@pytest.mark.parametrize("overlap,activity", [(1.0, 0.5), (0.5, 1.0), (0.25, 0.5)])
def test_overlap_and_noise_activity_measured_back(tmp_path, overlap, activity):
    write_wham(tmp_path / "src", n=3, seconds=1.5)
    assert main(["data", "variant", "--from", "wham", "--root", str(tmp_path / "src"), "--task", "sep_noisy",
                 "--overlap", str(overlap), "--noise-activity", str(activity), "--seed", "3",
                 "--out", str(tmp_path / "v")]) == 0
    v = load_dataset("wham", root=tmp_path / "v", task="sep_noisy")
    assert v.info["noise_activity"] == activity
    for row, u in zip(measure(v), v):
        assert abs(row["overlap_active"] - overlap) * row["short"] <= FRAME
        assert abs(row["noise_exact"] - activity) * row["T"] <= 1
        assert abs(row["noise_active"] - activity) * row["T"] <= FRAME
        meta = u.meta_dict()
        assert -6.0 <= meta["snr_db"] <= 3.0
    # all four WHAM! tasks read the variant; mixtures are sums of their parts
    for task in ("sep_clean", "enh_single", "enh_both"):
        assert len(load_dataset("wham", root=tmp_path / "v", task=task)) == 3
    mix, srcs, noise = load_utterance(v.utterances[0])
    assert np.allclose(mix, srcs.sum(0) + noise, atol=1e-6)


def test_variant_is_deterministic_and_seeded(tmp_path):
    write_wham(tmp_path / "src", n=2)
    args = ["data", "variant", "--from", "wham", "--root", str(tmp_path / "src"), "--overlap", "0.5",
            "--noise-activity", "0.5"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert main(args + ["--seed", "1", "--out", str(tmp_path / "c")]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 2 * 6 + 2
    for f in files:
        assert filecmp.cmp(tmp_path / "a" / f, tmp_path / "b" / f, shallow=False), f
    differs = [not filecmp.cmp(tmp_path / "a" / f, tmp_path / "c" / f, shallow=False) for f in files]
    assert any(differs)


def test_variant_from_the_bundled_mini_set(tmp_path):
    assert main(["data", "variant", "--from", "mini-wham", "--overlap", "0.5", "--noise-activity", "0.5",
                 "--limit", "3", "--out", str(tmp_path)]) == 0
    v = load_dataset("wham", root=tmp_path)
    assert len(v) == 3 and v.info["variant"]["from"] == "mini-wham"
    for row in measure(v):
        assert abs(row["overlap_active"] - 0.5) * row["short"] <= FRAME
        assert abs(row["noise_exact"] - 0.5) * row["T"] <= 1


def test_variant_other_layouts(tmp_path):
    write_libri2mix(tmp_path / "lm", n=2, seconds=1.2)
    assert main(["data", "variant", "--from", "libri2mix", "--root", str(tmp_path / "lm"), "--split", "test",
                 "--task", "sep_noisy", "--overlap", "0.5", "--out", str(tmp_path / "lv")]) == 0
    v = load_dataset("libri2mix", root=tmp_path / "lv", split="test", task="sep_noisy")
    assert v.info["noise_activity"] == 1.0 and len(v) == 2  # noisy source, default full activity
    write_folder(tmp_path / "f", n=2, sample_rate=8000, seconds=1.2)
    assert main(["data", "variant", "--from", "folder", "--root", str(tmp_path / "f"), "--sample-rate", "8000",
                 "--overlap", "0.25", "--out", str(tmp_path / "fv")]) == 0
    fv = load_dataset("folder", root=tmp_path / "fv")
    assert fv.info["overlap"] == 0.25
    assert all(abs(r["overlap_exact"] - 0.25) * r["short"] <= 1 for r in measure(fv))


def test_variant_errors(tmp_path, capsys):
    write_wsj0_2mix(tmp_path / "src", n=1)
    base = ["data", "variant", "--from", "wsj0-2mix", "--root", str(tmp_path / "src")]
    assert main(base + ["--overlap", "0.5", "--noise-activity", "0.5", "--out", str(tmp_path / "o")]) == 2
    assert "no noise references" in capsys.readouterr().err
    assert main(base + ["--overlap", "1.5", "--out", str(tmp_path / "o")]) == 2
    assert "--overlap must be a fraction" in capsys.readouterr().err
    assert main(base + ["--overlap", "0.5", "--out", str(tmp_path / "o")]) == 0
    assert main(base + ["--overlap", "0.5", "--out", str(tmp_path / "o")]) == 2
    assert "not empty" in capsys.readouterr().err
    write_wham(tmp_path / "w", n=1)
    assert main(["data", "variant", "--from", "wham", "--root", str(tmp_path / "w"), "--task", "enh_single",
                 "--overlap", "0.5", "--out", str(tmp_path / "e")]) == 2
    assert "two-speaker" in capsys.readouterr().err


def test_labels_follow_the_variant(tmp_path):
    """Segment labels on a back-to-back variant: one speaker, then the other, never overlap."""
    from dsnbench.data.activity import label_segments
    write_wsj0_2mix(tmp_path / "src", n=1, seconds=2.0)
    assert main(["data", "variant", "--from", "wsj0-2mix", "--root", str(tmp_path / "src"),
                 "--overlap", "0", "--out", str(tmp_path / "v")]) == 0
    u = load_dataset("wsj0-2mix", root=tmp_path / "v").utterances[0]
    _, srcs, _ = load_utterance(u)
    n_seg = -(-srcs.shape[1] // 1000)
    cats, _ = label_segments(srcs, None, 2000, 1000, n_seg, SR)
    join = u.meta_dict()["shift_samples"]  # where the second speaker starts
    straddling = {s for s in range(n_seg) if s * 1000 < join < s * 1000 + 2000}
    assert {s for s, c in enumerate(cats) if c == "overlap"} <= straddling
    assert cats.count("one") > n_seg // 2  # speech-like sources have pauses, hence some silence
