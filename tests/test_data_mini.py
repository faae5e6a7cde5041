"""The bundled mini benchmark loads and validates; the mixing recipes measure back."""
from __future__ import annotations

import filecmp

import numpy as np
import pytest

from dsnbench.cli import main
from dsnbench.data import load_dataset
from dsnbench.data.activity import active_level_db
from dsnbench.data.librispeech import (TEST_SUBSET, TRAIN_SUBSET, add_noise_wham, list_utterances,
                                       mix_wsj0_2mix, noise_power, shared_data_dir)
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
