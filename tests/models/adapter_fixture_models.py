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
