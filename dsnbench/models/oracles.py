"""Reference separators that need no training: anchors for every comparison.

- ``oracle-mixture``: every estimate is the mixture, so every improvement is exactly 0.
- ``oracle-irm``: the ideal ratio mask ``|S_i| / (sum_j |S_j| + |N|)`` computed from the
  references in the STFT domain and applied to the mixture, where ``N`` is whatever of the
  mixture the references do not explain: ``mixture - sum_j s_j``. On an additive layout that is
  the noise (WHAM!'s ``noise`` file equals it to float rounding: mix_both = s1 + s2 + noise,
  mix_single = s1 + noise, and for enh_both the target mix_clean = s1 + s2); on a clean set it
  is zero up to the files' quantisation, so the mask is the plain ratio of the sources. An upper
  anchor, not a model: its complexity is undefined (NaN MACs).
"""
from __future__ import annotations

import torch

from ..types import Separation, Separator


class _OnTheCPU:
    """Oracles compute from the references on the CPU (float64 where it matters): a run on
    another device or precision leaves them where they are."""

    device = "cpu"
    precision = "fp32"

    def to_device(self, device: object = "cpu", precision: str = "fp32") -> None:
        return None


class OracleMixture(_OnTheCPU, Separator):
    name = "oracle-mixture"
    family = "oracle"
    needs_references = False
    #: separate_batch runs them one at a time, which is exact and costs nothing more
    batchable = True

    def __init__(self, n_src: int = 2, **_: object) -> None:
        self.n_src = n_src

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        n = references.shape[0] if references is not None else self.n_src
        return Separation(mixture.unsqueeze(0).repeat(n, 1).clone())

    def complexity(self) -> dict:
        # It multiplies nothing: 0 MACs is the true count, not a placeholder.
        return {"macs_per_second": 0}


class OracleIRM(_OnTheCPU, Separator):
    """Ideal ratio mask ``|S_i| / (sum_j |S_j| + |N|)``, ``N`` the STFT of ``mixture - sum_j s_j``
    (the noise on WHAM!-like sets); STFT with a 32 ms Hann window and 8 ms hop at any sample rate."""

    name = "oracle-irm"
    family = "oracle"
    needs_references = True
    batchable = True

    def __init__(self, window_ms: float = 32.0, hop_ms: float = 8.0, **_: object) -> None:
        self.window_ms = window_ms
        self.hop_ms = hop_ms
        self.rate: int | None = None

    def prepare(self, sample_rate: int) -> None:
        self.rate = int(sample_rate)

    def separate(self, mixture: torch.Tensor, references: torch.Tensor | None = None) -> Separation:
        sample_rate = self.rate or 8000
        if references is None:
            raise ValueError("oracle-irm needs the reference sources")
        n_fft = int(round(self.window_ms * sample_rate / 1000))
        hop = int(round(self.hop_ms * sample_rate / 1000))
        win = torch.hann_window(n_fft, dtype=torch.float64)
        x = mixture.to(torch.float64)
        refs = references.to(torch.float64)
        spec = lambda s: torch.stft(s, n_fft, hop, window=win, return_complex=True, center=True)
        mix_spec = spec(x)
        mags = torch.stack([spec(r).abs() for r in refs])
        residual = spec(x - refs.sum(0)).abs()  # the noise: what the references leave of the mixture
        denom = (mags.sum(0) + residual).clamp_min(1e-10)
        masks = mags / denom
        est = torch.stack([torch.istft(mix_spec * m, n_fft, hop, window=win, length=x.shape[0])
                           for m in masks])
        return Separation(est.to(torch.float32))

    def complexity(self) -> None:
        return None
