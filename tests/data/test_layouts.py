"""Every layout on tiny generated data, and every validation failure as one line naming the file."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsnbench.data import DATASETS, load_dataset
from dsnbench.data.layouts import collect
from dsnbench.data.manifest import DatasetError, load_utterance
from dsnbench.errors import UserError
from dsnbench.testing import write_folder, write_libri2mix, write_wham, write_whamr, write_wsj0_2mix


def tt(root: Path) -> Path:
    return root / "wav8k" / "min" / "tt"


def first(folder: Path) -> Path:
    return sorted(folder.glob("*.wav"))[0]


# ---------------------------------------------------------------- every layout reads

def test_wsj0_2mix_16k_max_cv(tmp_path):
    write_wsj0_2mix(tmp_path, n=2, sample_rate=16000, mode="max", split="cv")
    m = load_dataset("wsj0-2mix", root=tmp_path, sample_rate=16000, mode="max", split="cv")
    assert len(m) == 2 and m.sample_rate == 16000 and not m.warnings  # no 3000-count warning off tt
    mix, srcs, noise = load_utterance(m.utterances[0])
    assert srcs.shape == (2, mix.shape[0]) and noise is None


@pytest.mark.parametrize("task,mix,n_src,noise", [
    ("sep_clean", "mix_clean", 2, False), ("sep_noisy", "mix_both", 2, True),
    ("enh_single", "mix_single", 1, True), ("enh_both", "mix_both", 1, True)])
def test_wham_tasks(tmp_path, task, mix, n_src, noise):
    write_wham(tmp_path, n=2)
    m = load_dataset("wham", root=tmp_path, task=task)
    u = m.utterances[0]
    assert u.mixture.parent.name == mix and len(u.sources) == n_src and (u.noise is not None) == noise
    assert m.warnings and "3000" in m.warnings[0]  # tt count differs from the published one


@pytest.mark.parametrize("task,mix,noise", [
    ("sep_clean", "mix_clean_anechoic", False), ("sep_noisy", "mix_both_anechoic", True),
    ("sep_reverb", "mix_clean_reverb", False), ("sep_reverb_noisy", "mix_both_reverb", True)])
def test_whamr_tasks_have_anechoic_targets(tmp_path, task, mix, noise):
    write_whamr(tmp_path, n=2)
    m = load_dataset("whamr", root=tmp_path, task=task)
    u = m.utterances[0]
    assert u.mixture.parent.name == mix
    assert [p.parent.name for p in u.sources] == ["s1_anechoic", "s2_anechoic"]
    assert (u.noise is not None) == noise
    assert m.info["additive"] is ("reverb" not in task)


def test_libri2mix_all_tasks_and_metadata(tmp_path):
    write_libri2mix(tmp_path, n=3, split="test")
    for task, n_src in (("sep_clean", 2), ("sep_noisy", 2), ("enh_single", 1), ("enh_both", 1)):
        m = load_dataset("libri2mix", root=tmp_path, task=task, split="tt")  # tt is accepted for test
        assert len(m) == 3 and len(m.utterances[0].sources) == n_src
        assert m.info["split"] == "test"
        assert "length" in m.utterances[0].meta_dict()  # from the published metadata CSV


def test_libri2mix_root_is_the_parent_of_Libri2Mix(tmp_path):
    write_libri2mix(tmp_path, n=1)
    with pytest.raises(UserError, match="contains Libri2Mix"):
        load_dataset("libri2mix", root=tmp_path / "Libri2Mix")
    with pytest.raises(UserError, match="train-360.*folder missing|folder missing"):
        load_dataset("libri2mix", root=tmp_path, split="train-360")


def test_libri2mix_clean_only_generation(tmp_path):
    write_libri2mix(tmp_path, n=2, clean_only=True)
    assert len(load_dataset("libri2mix", root=tmp_path, split="test")) == 2
    with pytest.raises(UserError, match="mix_both: folder missing"):
        load_dataset("libri2mix", root=tmp_path, split="test", task="sep_noisy")


def test_folder_layout_with_noise_and_metadata(tmp_path):
    write_folder(tmp_path, n=3, sample_rate=16000, noise=True)
    m = load_dataset("folder", root=tmp_path)
    assert len(m) == 3 and m.sample_rate == 16000
    assert m.utterances[0].noise is not None
    assert "speaker_pair" in m.utterances[0].meta_dict()
    with pytest.raises(UserError, match="sample rate 16000 Hz, expected 8000"):
        load_dataset("folder", root=tmp_path, sample_rate=8000)
    with pytest.raises(UserError, match="no modes or splits"):
        load_dataset("folder", root=tmp_path, split="cv")


def test_folder_metadata_row_without_audio(tmp_path):
    write_folder(tmp_path, n=2)
    with open(tmp_path / "metadata.csv", "a") as fh:
        fh.write("utt999,x\n")
    with pytest.raises(UserError, match="metadata.csv: lists 'utt999'"):
        load_dataset("folder", root=tmp_path)


def test_every_registered_dataset_documents_itself():
    for e in DATASETS:
        assert e.help and "needs_root" in e.meta


def test_options_a_reader_does_not_take_and_root_rules(tmp_path):
    write_wsj0_2mix(tmp_path, n=1)
    with pytest.raises(UserError, match="does not take --task"):
        load_dataset("wsj0-2mix", root=tmp_path, task="sep_noisy")
    with pytest.raises(UserError, match="needs --root"):
        load_dataset("wham")
    with pytest.raises(UserError, match="did you mean"):
        load_dataset("wsj02mix", root=tmp_path)
    with pytest.raises(UserError, match="takes no --root"):
        load_dataset("mini-2mix", root=tmp_path)


# ---------------------------------------------------------------- every validation failure

def _err(root: Path, **kw) -> str:
    with pytest.raises(UserError) as exc:
        load_dataset("wsj0-2mix", root=root, **kw)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_missing_root_and_levels(tmp_path):
    assert "does not exist" in _err(tmp_path / "nope")
    write_wsj0_2mix(tmp_path, n=1)
    assert _err(tmp_path, mode="max").endswith("wav8k/max: folder missing (found: min)")
    assert "wav16k: folder missing" in _err(tmp_path, sample_rate=16000)


def test_missing_folder(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    shutil.rmtree(tt(tmp_path) / "s2")
    assert _err(tmp_path) == f"{tt(tmp_path) / 's2'}: folder missing"


def test_empty_folder(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    for p in (tt(tmp_path) / "s1").glob("*.wav"):
        p.unlink()
    assert _err(tmp_path) == f"{tt(tmp_path) / 's1'}: no .wav files"


def test_id_missing_in_s2(tmp_path):
    write_wsj0_2mix(tmp_path, n=3)
    gone = first(tt(tmp_path) / "s2")
    gone.unlink()
    msg = _err(tmp_path)
    assert msg.startswith(str(gone)) and "missing" in msg and "s2/" in msg


def test_extra_id_in_s1(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    extra = tt(tmp_path) / "s1" / "zzz_1.0_yyy_-1.0.wav"
    shutil.copy(first(tt(tmp_path) / "s1"), extra)
    assert _err(tmp_path).startswith(f"{extra}: no matching mixture")


def test_length_mismatch(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    p = first(tt(tmp_path) / "s1")
    x, sr = sf.read(p)
    sf.write(p, x[:-10], sr, subtype="PCM_16")
    msg = _err(tmp_path)
    assert msg.startswith(str(p)) and f"{len(x) - 10} samples" in msg


def test_wrong_rate(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    p = first(tt(tmp_path) / "mix")
    x, _ = sf.read(p)
    sf.write(p, x, 16000, subtype="PCM_16")
    assert _err(tmp_path) == f"{p}: sample rate 16000 Hz, expected 8000 Hz"


def test_stereo(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    p = first(tt(tmp_path) / "s2")
    x, sr = sf.read(p)
    sf.write(p, np.stack([x, x], axis=1), sr, subtype="PCM_16")
    assert _err(tmp_path) == f"{p}: 2 channels, expected mono"


def test_wrong_sample_format_both_ways(tmp_path):
    write_wsj0_2mix(tmp_path / "a", n=2)
    p = first(tt(tmp_path / "a") / "s1")
    x, sr = sf.read(p)
    sf.write(p, x, sr, subtype="FLOAT")
    assert _err(tmp_path / "a") == f"{p}: sample format FLOAT, the published layout has PCM_16"
    write_wham(tmp_path / "b", n=2)
    q = first(tt(tmp_path / "b") / "noise")
    y, _ = sf.read(q)
    sf.write(q, y, sr, subtype="PCM_16")
    with pytest.raises(UserError, match="sample format PCM_16, the published layout has FLOAT"):
        load_dataset("wham", root=tmp_path / "b")


def test_folder_layout_mixed_formats(tmp_path):
    write_folder(tmp_path, n=2, sample_rate=8000)
    p = sorted((tmp_path / "s2").glob("*.wav"))[-1]
    x, sr = sf.read(p)
    sf.write(p, x, sr, subtype="FLOAT")
    with pytest.raises(UserError, match="sample format FLOAT, but .* has PCM_16"):
        load_dataset("folder", root=tmp_path)


def test_unreadable_file(tmp_path):
    write_wsj0_2mix(tmp_path, n=2)
    p = first(tt(tmp_path) / "s1")
    p.write_bytes(b"not a wav")
    assert _err(tmp_path).startswith(f"{p}: cannot read audio header")


def test_collect_mode_reports_every_problem(tmp_path):
    write_wsj0_2mix(tmp_path, n=4)
    files = sorted((tt(tmp_path) / "s2").glob("*.wav"))
    files[0].unlink()
    x, sr = sf.read(files[1])
    sf.write(files[1], x[:-5], sr, subtype="PCM_16")
    problems: list[str] = []
    m = collect(tt(tmp_path), "mix", ("s1", "s2"), None, 8000, subtype="PCM_16", name="t",
                root=tmp_path, problems=problems)
    assert len(m) == 2 and len(problems) == 2
    assert problems[0].startswith(str(files[0])) and problems[1].startswith(str(files[1]))


# --------------------------------------------------------------------------- files that are not what they are named
def _tiny_wsj(tmp_path):
    return write_wsj0_2mix(tmp_path / "2speakers", n=3)


def test_a_fifo_named_like_a_wav_is_refused_not_read(tmp_path):
    import os
    from dsnbench.data.layouts import wsj0_2mix
    root = _tiny_wsj(tmp_path)
    s1 = root / "wav8k" / "min" / "tt" / "s1"
    victim = sorted(s1.glob("*.wav"))[0]
    victim.unlink()
    os.mkfifo(victim)
    with pytest.raises(DatasetError, match=f"{victim.name}: not a regular file"):
        wsj0_2mix(root)


def test_two_files_whose_names_differ_only_in_case_are_refused(tmp_path):
    import shutil
    from dsnbench.data.layouts import wsj0_2mix
    root = _tiny_wsj(tmp_path)
    mix = root / "wav8k" / "min" / "tt" / "mix"
    first = sorted(mix.glob("*.wav"))[0]
    shutil.copy(first, first.with_suffix(".WAV"))
    with pytest.raises(DatasetError, match="differ only in the suffix's case"):
        wsj0_2mix(root)


def test_a_symlink_out_of_the_root_is_read_and_reported(tmp_path):
    from dsnbench.data.layouts import wsj0_2mix
    root = _tiny_wsj(tmp_path)
    s2 = root / "wav8k" / "min" / "tt" / "s2"
    victim = sorted(s2.glob("*.wav"))[0]
    outside = tmp_path / "elsewhere.wav"
    victim.rename(outside)
    victim.symlink_to(outside)
    m = wsj0_2mix(root)
    assert len(m) == 3
    assert any("symbolic link" in w and "outside the dataset root" in w for w in m.warnings)


@pytest.mark.parametrize("given", ["Libri2Mix", "Libri2Mix/wav8k", "Libri2Mix/wav8k/min", ".."])
def test_libri2mix_on_a_wrong_root_names_the_right_one(tmp_path, given):
    from dsnbench.data import load_dataset
    from dsnbench.testing import write_libri2mix
    root = write_libri2mix(tmp_path / "data", n=2, seconds=0.5)
    with pytest.raises(UserError, match=f"here {root}$"):
        load_dataset("libri2mix", root=str((root / given).resolve()))
