"""The bundled mini benchmark loads and validates; the mixing recipes measure back."""
from __future__ import annotations

import filecmp

import numpy as np
import pytest

from dsnbench.cli import main
from dsnbench.data import load_dataset
from dsnbench.data.activity import active_level_db
from dsnbench.data.librispeech import TEST_SUBSET, TRAIN_SUBSET, list_utterances, shared_data_dir
from dsnbench.data.mixing import add_noise_wham, mix_wsj0_2mix, noise_power
from dsnbench.data.manifest import load_utterance
from dsnbench.data.layouts import mini_root
from dsnbench.testing import speechlike

SR = 8000
HAVE_SHARED = (shared_data_dir() / "librispeech" / TEST_SUBSET).is_dir()


def test_mini_2mix_loads_without_root():
    m = load_dataset("mini-2mix")
    assert len(m) >= 40 and m.sample_rate == 8000 and m.info["subtype"] == "PCM_16"
    assert not m.warnings  # no "published count" warning for the mini set
    meta = m.utterances[0].meta_dict()
    assert {"s1_speaker", "s2_speaker", "relative_gain_db"} <= set(meta)
    for u in m.utterances:
        d = u.meta_dict()
        assert d["s1_speaker"] != d["s2_speaker"]
        assert 0.0 <= d["relative_gain_db"] <= 5.0
        assert 2.0 <= u.duration_s <= 3.5


def test_mini_s1_is_the_louder_by_the_recorded_gain():
    m = load_dataset("mini-2mix")
    for u in m.utterances[:8]:
        _, srcs, _ = load_utterance(u)
        rel = active_level_db(srcs[0], SR) - active_level_db(srcs[1], SR)
        assert rel == pytest.approx(u.meta_dict()["relative_gain_db"], abs=0.3)


def test_mini_wham_tasks_and_noise():
    assert load_dataset("mini-wham").info["task"] == "sep_noisy"
    for task in ("sep_clean", "sep_noisy", "enh_single", "enh_both"):
        m = load_dataset("mini-wham", task=task)
        assert len(m) >= 40 and m.info["subtype"] == "FLOAT"
    assert [u.utt_id for u in load_dataset("mini-wham")] == [u.utt_id for u in load_dataset("mini-2mix")]
    u = load_dataset("mini-wham").utterances[0]
    mix, srcs, noise = load_utterance(u)
    snr = active_level_db(srcs[0], SR) - 10 * np.log10(noise_power(noise, SR))
    assert snr == pytest.approx(u.meta_dict()["snr_db"], abs=0.1)
    assert -6.0 <= u.meta_dict()["snr_db"] <= 3.0


def test_mini_sets_validate(capsys):
    assert main(["validate", "--dataset", "mini-2mix"]) == 0
    out = capsys.readouterr().out
    assert "mixtures     40 found, 40 valid" in out and "warning" not in out
    assert main(["validate", "--dataset", "mini-wham", "--task", "sep_clean"]) == 0
    assert main(["validate", "--dataset", "mini-2mix", "--sample-rate", "16000"]) == 2


def test_mini_attribution_shipped():
    text = (mini_root() / "README.md").read_text()
    assert "CC BY 4.0" in text and "Panayotov" in text and "Warden" in text


@pytest.mark.skipif(not HAVE_SHARED, reason="../shared/data not present")
def test_mini_uses_test_other_speakers_only():
    test_speakers = set(list_utterances(TEST_SUBSET))
    train_speakers = set(list_utterances(TRAIN_SUBSET))
    assert not test_speakers & train_speakers
    for u in load_dataset("mini-2mix"):
        d = u.meta_dict()
        assert {str(d["s1_speaker"]), str(d["s2_speaker"])} <= test_speakers


@pytest.mark.skipif(not HAVE_SHARED, reason="../shared/data not present")
def test_build_is_deterministic_and_matches_the_committed_files(tmp_path):
    from dsnbench.data.mini import build_mini
    rows = build_mini(tmp_path, limit=2)
    for name, folders in (("mini-2mix", ("mix", "s1", "s2")),
                          ("mini-wham", ("mix_clean", "mix_both", "mix_single", "s1", "s2", "noise"))):
        for f in folders:
            for r in rows:
                rel = f"{name}/wav8k/min/tt/{f}/{r['utt_id']}.wav"
                assert filecmp.cmp(tmp_path / rel, mini_root() / rel, shallow=False), rel


def test_wsj0_2mix_mixing_measures_back():
    rng = np.random.default_rng(0)
    a = speechlike(3 * SR, SR, rng)
    b = 0.01 * speechlike(2 * SR, SR, rng)
    m = mix_wsj0_2mix(a, b, np.random.default_rng(1), SR, "min")
    assert m.s1.shape == m.s2.shape == m.mix.shape == (2 * SR,)
    assert 0.0 <= m.level_db <= 2.5
    assert np.allclose(m.mix, m.s1 + m.s2)
    assert max(np.abs(m.mix).max(), np.abs(m.s1).max(), np.abs(m.s2).max()) == pytest.approx(0.9)
    rel = active_level_db(m.s1, SR) - active_level_db(m.s2, SR)
    assert rel == pytest.approx(2 * m.level_db, abs=0.3)
    mx = mix_wsj0_2mix(a, b, np.random.default_rng(1), SR, "max", level_db=1.0)
    assert mx.s1.shape == (3 * SR,) and np.all(mx.s2[2 * SR:] == 0)


def test_wham_noise_level_measures_back():
    rng = np.random.default_rng(2)
    m = mix_wsj0_2mix(speechlike(2 * SR, SR, rng), speechlike(2 * SR, SR, rng), rng, SR)
    noise = rng.standard_normal(2 * SR)
    w = add_noise_wham(m, noise, np.random.default_rng(3), SR)
    assert -6.0 <= w.snr_db <= 3.0
    snr = active_level_db(w.s1, SR) - 10 * np.log10(noise_power(w.noise, SR))
    assert snr == pytest.approx(w.snr_db, abs=0.05)
    assert np.allclose(w.mix_both, w.s1 + w.s2 + w.noise) and np.allclose(w.mix_single, w.s1 + w.noise)
    assert max(np.abs(w.mix_both).max(), np.abs(w.mix_single).max()) <= 1.0


# --------------------------------------------------------------------------- the larger build
@pytest.fixture(scope="module")
def large_cache(tmp_path_factory):
    """One 200-mixture build for the module (about 10 s), in a private cache folder."""
    if not HAVE_SHARED:
        pytest.skip("../shared/data not present")
    from dsnbench.data.mini import ensure_large
    cache = tmp_path_factory.mktemp("cache")
    return ensure_large(cache / "mini-large-200")


def test_large_sets_extend_the_bundled_ones_with_fresh_speech(large_cache, monkeypatch):
    from dsnbench.data.mini import N_LARGE
    monkeypatch.setenv("DSNBENCH_CACHE", str(large_cache.parent))
    big = load_dataset("mini-2mix-large")
    small = load_dataset("mini-2mix")
    assert len(big) == N_LARGE == 200 and big.name == "mini-2mix-large"
    ids = [u.utt_id for u in big]
    assert len(set(ids)) == 200
    assert {u.utt_id for u in small} <= set(ids)
    for u in small:                     # the bundled mixtures are the first 40 of the larger build
        for f in ("mix", "s1", "s2"):
            rel = f"wav8k/min/tt/{f}/{u.utt_id}.wav"
            assert filecmp.cmp(large_cache / "mini-2mix" / rel, mini_root() / "mini-2mix" / rel, shallow=False)
    excerpts = set()
    for u in big:
        d = u.meta_dict()
        assert d["s1_speaker"] != d["s2_speaker"]
        excerpts |= {(d["s1_utterance"], d["s1_start_s"]), (d["s2_utterance"], d["s2_start_s"])}
        assert 2.0 <= u.duration_s <= 3.5
    # 400 slots over 100 utterances: reuses start further in, so most excerpts are distinct
    assert len(excerpts) >= 170 and any(start > 0 for _, start in excerpts)
    noisy = load_dataset("mini-wham-large", task="sep_noisy")
    assert [u.utt_id for u in noisy] == ids and noisy.name == "mini-wham-large"
    assert (large_cache / "README.md").read_text().count("CC BY 4.0") >= 1


def test_large_build_is_reused_and_refuses_foreign_folders(large_cache, tmp_path, monkeypatch, capsys):
    from dsnbench.errors import UserError
    marker = (large_cache / "BUILD.json").read_text()
    # a second use reads the build, it does not make it again
    assert load_dataset("mini-2mix-large", root=str(large_cache)).name == "mini-2mix-large"
    assert "building" not in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(UserError, match="BUILD.json"):
        load_dataset("mini-2mix-large", root=str(other))
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "BUILD.json").write_text(marker.replace('"recipe": ', '"recipe": 1'))
    with pytest.raises(UserError, match="different build"):
        load_dataset("mini-wham-large", root=str(stale))
    monkeypatch.setenv("DSNBENCH_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="nowhere.*missing"):
        load_dataset("mini-2mix-large", root=str(tmp_path / "fresh"))
    assert not (tmp_path / "fresh").exists()
    assert main(["ls", "datasets"]) == 0
    assert "--root optional" in capsys.readouterr().out
