"""A tiny user model importable by path (``tests.models.adapter_fixture_models:TinyMaskNet``) for the
class and TorchScript adapter tests."""
from __future__ import annotations

import torch
from torch import nn


class TinyMaskNet(nn.Module):
    """Conv encoder -> 1x1 mask conv -> transposed-conv decoder. Shape: ``[B, T]`` -> ``[B, n_src, T]``."""

    def __init__(self, channels: int = 8, n_src: int = 2) -> None:
        super().__init__()
        self.n_src = n_src
        self.encoder = nn.Conv1d(1, channels, 16, stride=8, bias=False)
        self.mask = nn.Conv1d(channels, n_src * channels, 1)
        self.decoder = nn.ConvTranspose1d(channels, 1, 16, stride=8, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape
        frames = torch.relu(self.encoder(x.unsqueeze(1)))
        masks = torch.sigmoid(self.mask(frames)).view(b, self.n_src, -1, frames.shape[-1])
        out = self.decoder((masks * frames.unsqueeze(1)).reshape(b * self.n_src, -1, frames.shape[-1]))
        return out.view(b, self.n_src, -1)[..., :t]

    def length_features(self, n_samples: int) -> dict[str, int]:
        return {"frames": (n_samples - 16) // 8 + 1}


class StftMaskNet(nn.Module):
    """STFT -> one sigmoid mask per source from a 1x1 conv over frequency -> iSTFT.
    Shape: ``[B, T]`` -> ``[B, n_src, T]``. With ``uncounted=True`` it also takes an rFFT of the
    input (an op that has no MAC rule) into its masks."""

    def __init__(self, n_fft: int = 128, hop: int = 32, n_src: int = 2, uncounted: bool = False) -> None:
        super().__init__()
        self.n_fft, self.hop, self.n_src, self.uncounted = n_fft, hop, n_src, uncounted
        self.register_buffer("window", torch.hann_window(n_fft))
        bins = n_fft // 2 + 1
        self.mask = nn.Conv1d(bins, n_src * bins, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, return_complex=True)
        mag = spec.abs()
        if self.uncounted:
            mag = mag + 0.0 * torch.fft.rfft(x).abs().mean(-1)[:, None, None]
        masks = torch.sigmoid(self.mask(mag)).view(b, self.n_src, -1, spec.shape[-1])
        out = torch.istft((masks * spec.unsqueeze(1)).reshape(b * self.n_src, -1, spec.shape[-1]), self.n_fft,
                          self.hop, window=self.window, length=t)
        return out.view(b, self.n_src, t)
