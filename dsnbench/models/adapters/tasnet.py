"""Conv-TasNet and DPRNN-TasNet, written for dsnbench with Asteroid's parameter layout.

Asteroid (0.7.0) cannot be imported beside torch 2.13 here, so its saved models are read into
these architectures instead. Module and parameter names follow Asteroid's published layout
exactly, so ``load_state_dict`` of an Asteroid ``serialize()`` dict works with ``strict=True``:

* encoder / decoder (free filterbank): ``encoder.filterbank._filters`` and
  ``decoder.filterbank._filters``, each ``[n_filters, 1, kernel_size]`` (no bias). The encoder is
  a strided 1-D convolution without padding; the decoder a transposed one; its output is
  right-padded or cut to the input length.
* Conv-TasNet masker (``masker.``): ``bottleneck.{0: norm, 1: Conv1d(in, bn, 1)}``;
  ``TCN.{i}`` blocks with ``shared_block.{0: Conv1d(bn, hid, 1), 1: PReLU, 2: norm,
  3: depthwise Conv1d(hid, hid, P, dilation 2^x), 4: PReLU, 5: norm}``, ``res_conv``,
  ``skip_conv``; ``mask_net.{0: PReLU, 1: Conv1d(skip, n_src * out, 1)}``.
* DPRNN masker (``masker.``): ``bottleneck`` as above; ``net.{i}`` blocks with ``intra_RNN.rnn``,
  ``intra_linear``, ``intra_norm``, ``inter_RNN.rnn``, ``inter_linear``, ``inter_norm``;
  ``first_out.{0: PReLU, 1: Conv2d(bn, n_src * bn, 1)}``, ``net_out.0``, ``net_gate.0``,
  ``mask_net`` (no bias).
* Norms (``gamma``, ``beta`` of shape ``[channels]``): gLN normalises over every dimension but
  the batch, cLN over channels, cgLN cumulatively over time, fgLN over time per channel, BN is
  batch norm; all with eps 1e-8 and the biased variance.

Shape: both networks map ``[B, T]`` mixtures to ``[B, n_src, T]`` estimates.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-8


# --------------------------------------------------------------------------- norms
class _GainBias(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.gamma.view(shape) + self.beta.view(shape)


class GlobalLayerNorm(_GainBias):
    """gLN: statistics over all channels and time steps of each example. Shape: ``[B, C, *]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, x.dim()))
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=False)
        return self.scale((x - mean) / torch.sqrt(var + EPS))


class ChannelLayerNorm(_GainBias):
    """cLN: statistics over the channels of each time step. Shape: ``[B, C, *]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, unbiased=False)
        return self.scale((x - mean) / (var + EPS).sqrt())


class FeatureGlobalLayerNorm(_GainBias):
    """fgLN: statistics over time for each channel. Shape: ``[B, C, *]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(2, x.dim()))
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=False)
        return self.scale((x - mean) / torch.sqrt(var + EPS))


class CumulativeLayerNorm(_GainBias):
    """cgLN: statistics over channels and all time steps up to now (causal). Shape: ``[B, C, T]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, channels, length = x.shape
        cum_sum = torch.cumsum(x.sum(1, keepdim=True), dim=-1)
        cum_pow = torch.cumsum(x.pow(2).sum(1, keepdim=True), dim=-1)
        count = torch.arange(channels, channels * (length + 1), channels,
                             dtype=x.dtype, device=x.device).view(1, 1, -1)
        mean = cum_sum / count
        var = cum_pow / count - mean.pow(2)
        return self.scale((x - mean) / (var + EPS).sqrt())


class BatchNormAnyDim(nn.modules.batchnorm._BatchNorm):
    """Batch norm for 3-D or 4-D inputs (``weight``, ``bias``, running statistics)."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.dim() > 4:
            raise ValueError(f"expected a 3-D or 4-D input, got {x.dim()}-D")


NORMS = {"gLN": GlobalLayerNorm, "cLN": ChannelLayerNorm, "cgLN": CumulativeLayerNorm,
         "fgLN": FeatureGlobalLayerNorm, "BN": BatchNormAnyDim, "bN": BatchNormAnyDim}


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"unsupported norm_type {kind!r} (supported: {', '.join(NORMS)})")
    return NORMS[kind](channels)


class _Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def make_activation(name: str | None) -> nn.Module:
    """Mask / encoder activations by their Asteroid names (softmax over the source axis)."""
    table = {None: nn.Identity, "linear": nn.Identity, "relu": nn.ReLU, "prelu": nn.PReLU,
             "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
             "gelu": nn.GELU, "swish": _Swish}
    if name == "softmax":
        return nn.Softmax(dim=1)
    if name not in table:
        raise ValueError(f"unsupported activation {name!r} (supported: softmax, "
                         f"{', '.join(str(k) for k in table if k)})")
    return table[name]()


# --------------------------------------------------------------------------- filterbanks
class FreeFilterbank(nn.Module):
    """Learned filters ``_filters`` ``[n_filters, 1, kernel_size]``."""

    def __init__(self, n_filters: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.n_filters, self.kernel_size, self.stride = n_filters, kernel_size, stride
        self._filters = nn.Parameter(torch.empty(n_filters, 1, kernel_size))
        nn.init.xavier_normal_(self._filters)


class FilterbankEncoder(nn.Module):
    """Strided convolution with the filterbank. Shape: ``[B, 1, T]`` -> ``[B, N, F]``,
    ``F = (T - kernel) // stride + 1``."""

    def __init__(self, n_filters: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.filterbank = FreeFilterbank(n_filters, kernel_size, stride)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return F.conv1d(wav, self.filterbank._filters, stride=self.filterbank.stride)


class FilterbankDecoder(nn.Module):
    """Transposed convolution per source. Shape: ``[B, n_src, N, F]`` -> ``[B, n_src, T']``."""

    def __init__(self, n_filters: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.filterbank = FreeFilterbank(n_filters, kernel_size, stride)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        flat = spec.reshape((-1,) + tuple(spec.shape[-2:]))
        out = F.conv_transpose1d(flat, self.filterbank._filters, stride=self.filterbank.stride)
        return out.view(tuple(spec.shape[:-2]) + (-1,))


# --------------------------------------------------------------------------- Conv-TasNet
class _Chop(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : -self.size].contiguous()


class TemporalBlock(nn.Module):
    """1x1 conv -> PReLU -> norm -> dilated depthwise conv -> PReLU -> norm; residual and skip
    1x1 convs. Shape: ``[B, bn, F]`` -> (residual ``[B, bn, F]``, skip ``[B, skip, F]``)."""

    def __init__(self, bn_chan: int, hid_chan: int, skip_chan: int, kernel: int, dilation: int,
                 norm_type: str, causal: bool) -> None:
        super().__init__()
        padding = (kernel - 1) * dilation if causal else (kernel - 1) * dilation // 2
        depthwise: nn.Module = nn.Conv1d(hid_chan, hid_chan, kernel, padding=padding,
                                         dilation=dilation, groups=hid_chan)
        if causal:
            depthwise = nn.Sequential(depthwise, _Chop(padding))
        self.skip_chan = skip_chan
        self.shared_block = nn.Sequential(
            nn.Conv1d(bn_chan, hid_chan, 1), nn.PReLU(), make_norm(norm_type, hid_chan),
            depthwise, nn.PReLU(), make_norm(norm_type, hid_chan))
        self.res_conv = nn.Conv1d(hid_chan, bn_chan, 1)
        if skip_chan:
            self.skip_conv = nn.Conv1d(hid_chan, skip_chan, 1)

    def forward(self, x: torch.Tensor, need_residual: bool = True
                ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        shared = self.shared_block(x)
        skip = self.skip_conv(shared) if self.skip_chan else None
        return (self.res_conv(shared) if need_residual else None), skip


class TemporalConvMasker(nn.Module):
    """The TCN mask network. Shape: ``[B, N, F]`` -> masks ``[B, n_src, out_chan, F]``."""

    def __init__(self, in_chan: int, n_src: int, out_chan: int | None = None, n_blocks: int = 8,
                 n_repeats: int = 3, bn_chan: int = 128, hid_chan: int = 512,
                 skip_chan: int = 128, conv_kernel_size: int = 3, norm_type: str = "gLN",
                 mask_act: str = "relu", causal: bool = False) -> None:
        super().__init__()
        self.n_src, self.out_chan, self.skip_chan = n_src, out_chan or in_chan, skip_chan
        self.bottleneck = nn.Sequential(make_norm(norm_type, in_chan), nn.Conv1d(in_chan, bn_chan, 1))
        self.TCN = nn.ModuleList(
            TemporalBlock(bn_chan, hid_chan, skip_chan, conv_kernel_size, 2 ** x, norm_type, causal)
            for _ in range(n_repeats) for x in range(n_blocks))
        self.mask_net = nn.Sequential(nn.PReLU(), nn.Conv1d(skip_chan or bn_chan, n_src * self.out_chan, 1))
        self.output_act = make_activation(mask_act)

    def forward(self, tf_rep: torch.Tensor) -> torch.Tensor:
        batch, _, frames = tf_rep.shape
        out = self.bottleneck(tf_rep)
        skip_sum: torch.Tensor | None = None
        last = len(self.TCN) - 1
        for i, block in enumerate(self.TCN):
            # with skip connections the last block's residual output is never used: not computed
            residual, skip = block(out, need_residual=not (self.skip_chan and i == last))
            if skip is not None:
                skip_sum = skip if skip_sum is None else skip_sum + skip
            if residual is not None:
                out = out + residual
        score = self.mask_net(skip_sum if self.skip_chan else out)
        return self.output_act(score.view(batch, self.n_src, self.out_chan, frames))


# --------------------------------------------------------------------------- DPRNN
class _RNN(nn.Module):
    """One RNN (``rnn``) or, with mulcat, two (``rnn1``, ``rnn2``). Shape: ``[B, L, I]`` -> ``[B, L, O]``."""

    def __init__(self, rnn_type: str, input_size: int, hidden: int, num_layers: int,
                 dropout: float, bidirectional: bool, mulcat: bool) -> None:
        super().__init__()
        kind = rnn_type.upper()
        if kind not in ("RNN", "LSTM", "GRU"):
            raise ValueError(f"unsupported rnn_type {rnn_type!r} (supported: RNN, LSTM, GRU)")
        make = lambda: getattr(nn, kind)(input_size, hidden, num_layers=num_layers, dropout=dropout,
                                         batch_first=True, bidirectional=bidirectional)
        self.mulcat = mulcat
        if mulcat:
            self.rnn1, self.rnn2 = make(), make()
        else:
            self.rnn = make()
        self.output_size = hidden * (2 if bidirectional else 1) + (input_size if mulcat else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mulcat:
            return torch.cat((self.rnn1(x)[0] * self.rnn2(x)[0], x), 2)
        return self.rnn(x)[0]


class DualPathRNNBlock(nn.Module):
    """Intra-chunk (bidirectional) then inter-chunk RNN, each + linear + norm + residual.

    Shape: ``[B, C, K, S]`` -> same.
    """

    def __init__(self, channels: int, hidden: int, norm_type: str, bidirectional: bool,
                 rnn_type: str, use_mulcat: bool, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.intra_RNN = _RNN(rnn_type, channels, hidden, num_layers, dropout, True, use_mulcat)
        self.inter_RNN = _RNN(rnn_type, channels, hidden, num_layers, dropout, bidirectional, use_mulcat)
        self.intra_linear = nn.Linear(self.intra_RNN.output_size, channels)
        self.intra_norm = make_norm(norm_type, channels)
        self.inter_linear = nn.Linear(self.inter_RNN.output_size, channels)
        self.inter_norm = make_norm(norm_type, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, k, s = x.shape
        y = self.intra_linear(self.intra_RNN(x.permute(0, 3, 2, 1).reshape(b * s, k, c)))
        x = x + self.intra_norm(y.reshape(b, s, k, c).permute(0, 3, 2, 1))
        y = self.inter_linear(self.inter_RNN(x.permute(0, 2, 3, 1).reshape(b * k, s, c)))
        return x + self.inter_norm(y.reshape(b, k, s, c).permute(0, 3, 1, 2).contiguous())


class DualPathRNNMasker(nn.Module):
    """DPRNN mask network with 50 %-overlap chunking (zero padding of one chunk at each end).

    Shape: ``[B, N, F]`` -> masks ``[B, n_src, out_chan, F]``; the number of chunks is
    ``S = (F + K) // hop + 1``.
    """

    def __init__(self, in_chan: int, n_src: int, out_chan: int | None = None, bn_chan: int = 128,
                 hid_size: int = 128, chunk_size: int = 100, hop_size: int | None = None,
                 n_repeats: int = 6, norm_type: str = "gLN", mask_act: str = "relu",
                 bidirectional: bool = True, rnn_type: str = "LSTM", use_mulcat: bool = False,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_src, self.bn_chan = n_src, bn_chan
        self.out_chan = out_chan if out_chan is not None else in_chan
        self.chunk_size = chunk_size
        self.hop_size = hop_size if hop_size is not None else chunk_size // 2
        self.bottleneck = nn.Sequential(make_norm(norm_type, in_chan), nn.Conv1d(in_chan, bn_chan, 1))
        self.net = nn.Sequential(*[
            DualPathRNNBlock(bn_chan, hid_size, norm_type, bidirectional, rnn_type, use_mulcat,
                             num_layers, dropout) for _ in range(n_repeats)])
        self.first_out = nn.Sequential(nn.PReLU(), nn.Conv2d(bn_chan, n_src * bn_chan, 1))
        self.net_out = nn.Sequential(nn.Conv1d(bn_chan, bn_chan, 1), nn.Tanh())
        self.net_gate = nn.Sequential(nn.Conv1d(bn_chan, bn_chan, 1), nn.Sigmoid())
        self.mask_net = nn.Conv1d(bn_chan, self.out_chan, 1, bias=False)
        self.output_act = make_activation(mask_act)

    def n_chunks(self, n_frames: int) -> int:
        return (n_frames + self.chunk_size) // self.hop_size + 1

    def forward(self, tf_rep: torch.Tensor) -> torch.Tensor:
        batch, _, frames = tf_rep.shape
        k, hop = self.chunk_size, self.hop_size
        out = self.bottleneck(tf_rep)
        out = F.unfold(out.unsqueeze(-1), kernel_size=(k, 1), padding=(k, 0), stride=(hop, 1))
        chunks = out.shape[-1]
        out = self.net(out.reshape(batch, self.bn_chan, k, chunks))
        out = self.first_out(out).reshape(batch * self.n_src, self.bn_chan * k, chunks)
        out = F.fold(out, (frames, 1), kernel_size=(k, 1), padding=(k, 0), stride=(hop, 1))
        out = out.reshape(batch * self.n_src, self.bn_chan, frames)
        out = self.net_out(out) * self.net_gate(out)
        masks = self.output_act(self.mask_net(out))
        return masks.view(batch, self.n_src, self.out_chan, frames)


# --------------------------------------------------------------------------- the models
class EncoderMaskerDecoder(nn.Module):
    """Encoder -> masker -> masks x representation -> decoder, output fitted to the input length.

    Shape: ``[B, T]`` (or ``[T]``, ``[B, 1, T]``) -> ``[B, n_src, T]``.
    """

    def __init__(self, encoder: nn.Module, masker: nn.Module, decoder: nn.Module,
                 encoder_activation: str | None, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.encoder, self.masker, self.decoder = encoder, masker, decoder
        self.enc_activation = make_activation(encoder_activation)
        self.kernel_size, self.stride = kernel_size, stride

    def n_frames(self, n_samples: int) -> int:
        if n_samples < self.kernel_size:
            raise ValueError(f"input of {n_samples} samples is shorter than the encoder kernel "
                             f"({self.kernel_size})")
        return (n_samples - self.kernel_size) // self.stride + 1

    def length_features(self, n_samples: int) -> dict[str, int]:
        """Sizes the MAC count is affine in (for :class:`dsnbench.complexity.ModuleComplexity`)."""
        return {"frames": self.n_frames(n_samples)}

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 1:
            wav = wav.view(1, 1, -1)
        elif wav.dim() == 2:
            wav = wav.unsqueeze(1)
        tf_rep = self.enc_activation(self.encoder(wav))
        masks = self.masker(tf_rep)
        decoded = self.decoder(masks * tf_rep.unsqueeze(1))
        return F.pad(decoded, [0, wav.shape[-1] - decoded.shape[-1]])


def _encoder_decoder(args: dict[str, Any]) -> tuple[nn.Module, nn.Module, int, int]:
    fb_name = args.pop("fb_name", "free")
    if fb_name not in ("free", "FreeFB"):
        raise ValueError(f"filterbank {fb_name!r} is not supported (supported: free / FreeFB)")
    n_filters, kernel = int(args.pop("n_filters")), int(args.pop("kernel_size"))
    stride = args.pop("stride", None)
    stride = int(stride) if stride else kernel // 2
    for key, default in (("is_pinv", False), ("padding", 0), ("output_padding", 0), ("who_is_pinv", None)):
        if args.pop(key, default) not in (default, None, 0, False):
            raise ValueError(f"filterbank option {key!r} is not supported by the dsnbench reader")
    return (FilterbankEncoder(n_filters, kernel, stride), FilterbankDecoder(n_filters, kernel, stride),
            kernel, stride)


def _check_extra(args: Mapping[str, Any], model: str) -> None:
    if args:
        raise ValueError(f"{model}: unsupported model_args {', '.join(sorted(args))}")


class ConvTasNet(EncoderMaskerDecoder):
    """Conv-TasNet with Asteroid's ``model_args`` (Luo & Mesgarani 2019).

    Defaults as Asteroid's: N=512 filters of L=16 samples (stride 8), B=128, H=512, P=3,
    X=8 blocks x R=3 repeats, skip 128, gLN, sigmoid masks.
    """

    def __init__(self, n_src: int, out_chan: int | None = None, n_blocks: int = 8,
                 n_repeats: int = 3, bn_chan: int = 128, hid_chan: int = 512, skip_chan: int = 128,
                 conv_kernel_size: int = 3, norm_type: str = "gLN", mask_act: str = "sigmoid",
                 in_chan: int | None = None, causal: bool = False, fb_name: str = "free",
                 kernel_size: int = 16, n_filters: int = 512, stride: int = 8,
                 encoder_activation: str | None = None, sample_rate: float = 8000, **fb_kwargs: Any) -> None:
        args = dict(fb_kwargs, fb_name=fb_name, n_filters=n_filters, kernel_size=kernel_size, stride=stride)
        encoder, decoder, kernel, step = _encoder_decoder(args)
        _check_extra(args, "ConvTasNet")
        if in_chan is not None and in_chan != n_filters:
            raise ValueError(f"in_chan {in_chan} differs from n_filters {n_filters}")
        if causal and norm_type not in ("cgLN", "cLN"):
            norm_type = "cLN"
        masker = TemporalConvMasker(n_filters, n_src, out_chan, n_blocks, n_repeats, bn_chan,
                                    hid_chan, skip_chan, conv_kernel_size, norm_type, mask_act, causal)
        super().__init__(encoder, masker, decoder, encoder_activation, kernel, step)
        self.n_src, self.sample_rate = n_src, sample_rate


class DPRNNTasNet(EncoderMaskerDecoder):
    """DPRNN-TasNet with Asteroid's ``model_args`` (Luo, Chen & Yoshioka 2020).

    Defaults as Asteroid's: 64 filters of 16 samples (stride 8), bottleneck 128, 128 hidden
    units, chunks of 100 frames with hop 50, 6 repeats, gLN, bidirectional LSTMs, sigmoid masks.
    """

    def __init__(self, n_src: int, out_chan: int | None = None, bn_chan: int = 128,
                 hid_size: int = 128, chunk_size: int = 100, hop_size: int | None = None,
                 n_repeats: int = 6, norm_type: str = "gLN", mask_act: str = "sigmoid",
                 bidirectional: bool = True, rnn_type: str = "LSTM", num_layers: int = 1,
                 dropout: float = 0.0, in_chan: int | None = None, fb_name: str = "free",
                 kernel_size: int = 16, n_filters: int = 64, stride: int = 8,
                 encoder_activation: str | None = None, sample_rate: float = 8000,
                 use_mulcat: bool = False, **fb_kwargs: Any) -> None:
        args = dict(fb_kwargs, fb_name=fb_name, n_filters=n_filters, kernel_size=kernel_size, stride=stride)
        encoder, decoder, kernel, step = _encoder_decoder(args)
        _check_extra(args, "DPRNNTasNet")
        if in_chan is not None and in_chan != n_filters:
            raise ValueError(f"in_chan {in_chan} differs from n_filters {n_filters}")
        masker = DualPathRNNMasker(n_filters, n_src, out_chan, bn_chan, hid_size, chunk_size,
                                   hop_size, n_repeats, norm_type, mask_act, bidirectional,
                                   rnn_type, use_mulcat, num_layers, dropout)
        super().__init__(encoder, masker, decoder, encoder_activation, kernel, step)
        self.n_src, self.sample_rate = n_src, sample_rate

    def length_features(self, n_samples: int) -> dict[str, int]:
        frames = self.n_frames(n_samples)
        return {"frames": frames, "chunks": self.masker.n_chunks(frames)}


#: Asteroid ``model_name`` -> our class
ASTEROID_MODELS: dict[str, type[EncoderMaskerDecoder]] = {
    "ConvTasNet": ConvTasNet,
    "DPRNNTasNet": DPRNNTasNet,
}
