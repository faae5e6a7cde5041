"""The oracle anchors (dsnbench/models/oracles.py): the IRM counts the noise on every WHAM! task."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dsnbench.data import load_dataset
from dsnbench.data.manifest import load_utterance
from dsnbench.metrics.functional import si_snr
from dsnbench.models.oracles import OracleIRM
from dsnbench.testing import write_wham


def hand_built_irm(mixture: np.ndarray, targets: np.ndarray, noise: np.ndarray, rate: int) -> np.ndarray:
    """|S_i| / (sum_j |S_j| + |N|) on a 32 ms / 8 ms Hann STFT, with N from the noise file."""
    n_fft, hop = rate * 32 // 1000, rate * 8 // 1000
    win = torch.hann_window(n_fft, dtype=torch.float64)
    stft = lambda s: torch.stft(torch.from_numpy(np.asarray(s, np.float64)), n_fft, hop, window=win,
                                return_complex=True, center=True)
    mags = [stft(t).abs() for t in targets]
    denom = sum(mags) + stft(noise).abs()
    mix = stft(mixture)
    return np.stack([torch.istft(mix * m / denom, n_fft, hop, window=win, length=len(mixture)).numpy()
                     for m in mags])


@pytest.mark.parametrize("task", ["sep_clean", "sep_noisy", "enh_single", "enh_both"])
def test_irm_counts_the_noise_on_every_wham_task(tmp_path, task) -> None:
    root = write_wham(tmp_path / "wham", n=2, seconds=0.5)
    manifest = load_dataset("wham", root=str(root), task=task)
    irm = OracleIRM()
    irm.prepare(manifest.sample_rate)
    for utt in manifest:
        mix, targets, noise = load_utterance(utt)
        if noise is None:  # sep_clean has no noise folder: the mixture is the sum of the sources
            noise = np.zeros_like(mix)
        got = irm.separate(torch.from_numpy(mix.astype(np.float32)),
                           torch.from_numpy(targets.astype(np.float32))).estimates.numpy()
        want = hand_built_irm(mix, targets, noise, manifest.sample_rate)
        assert got.shape == targets.shape
        assert np.max(np.abs(got - want)) < 1e-5 * np.max(np.abs(want))
        gain = np.mean([si_snr(t, g) - si_snr(t, mix) for t, g in zip(targets, got)])
        # the mask of sources alone would pass the mixture through on an enhancement task (0 dB)
        assert gain > 1.0, (task, gain)
