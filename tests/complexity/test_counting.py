"""MAC counting of one traced forward (dsnbench/complexity/counting.py): op handles against
hand-computed formulas, zero-MAC ops, unsupported ops, per-module attribution."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dsnbench.complexity import UnsupportedOpError, count_macs


def macs(module, *inputs):
    return count_macs(module, tuple(inputs)).total


# --------------------------------------------------------------------------- hand formulas
def test_conv_and_transposed_conv():
    conv = nn.Conv1d(3, 5, 7, stride=2, padding=1)
    x = torch.randn(2, 3, 50)
    out_len = (50 + 2 - 7) // 2 + 1
    assert macs(conv, x) == 2 * 5 * 3 * 7 * out_len
    depthwise = nn.Conv1d(6, 6, 3, groups=6, dilation=2, padding=2)
    assert macs(depthwise, torch.randn(1, 6, 40)) == 6 * 1 * 3 * 40
    deconv = nn.ConvTranspose1d(5, 2, 16, stride=8)
    assert macs(deconv, torch.randn(3, 5, 11)) == 3 * 5 * 2 * 16 * 11
    conv2 = nn.Conv2d(4, 8, 1)
    assert macs(conv2, torch.randn(1, 4, 6, 9)) == 4 * 8 * 6 * 9


def test_linear_and_matmul_family():
    lin = nn.Linear(7, 3)
    assert macs(lin, torch.randn(2, 5, 7)) == 2 * 5 * 7 * 3
    a, b, c = torch.randn(4, 5, 6), torch.randn(4, 6, 7), torch.randn(4, 5, 7)
    assert macs(Wrap(torch.bmm), a, b) == 4 * 5 * 6 * 7
    assert macs(Wrap(torch.matmul), a, b) == 4 * 5 * 6 * 7
    assert macs(Wrap(lambda c, a, b: torch.baddbmm(c, a, b)), c, a, b) == 4 * 5 * 6 * 7
    assert macs(Wrap(lambda a, b: torch.einsum("bij,bjk->bik", a, b)), a, b) == 4 * 5 * 6 * 7
    assert macs(Wrap(lambda m, v: m @ v), torch.randn(3, 8), torch.randn(8)) == 3 * 8


def test_lstm_gru_rnn():
    x = torch.randn(2, 9, 4)  # batch 2, 9 steps, 4 features
    lstm = nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)
    per_step = 2 * (4 * 5 * (4 + 5)) + 2 * (4 * 5 * (2 * 5 + 5))  # layer 2 sees 2H inputs
    assert macs(lstm, x) == 2 * 9 * per_step
    gru = nn.GRU(4, 3)
    assert macs(gru, x.transpose(0, 1)) == 9 * 2 * 3 * 3 * (4 + 3)
    rnn = nn.RNN(4, 6, batch_first=True)
    assert macs(rnn, x) == 2 * 9 * 6 * (4 + 6)
    proj = nn.LSTM(4, 6, batch_first=True, proj_size=2)
    assert macs(proj, x) == 2 * 9 * (4 * 6 * 4 + 4 * 6 * 2 + 2 * 6)
    cell = nn.LSTMCell(4, 5)
    assert macs(cell, torch.randn(3, 4)) == 3 * 4 * 5 * (4 + 5)


def test_attention_formulas_and_fused_paths_agree():
    b, length, e, heads = 2, 11, 8, 2
    q = torch.randn(b, heads, length, e // heads)
    sdpa = Wrap(lambda q: torch.nn.functional.scaled_dot_product_attention(q, q, q))
    assert macs(sdpa, q) == b * heads * length * length * (e // heads) * 2
    expected = b * length * 3 * e * e + b * length * length * e * 2 + b * length * e * e
    mha = nn.MultiheadAttention(e, heads, batch_first=True).eval()
    x = torch.randn(b, length, e)
    fused = count_macs(Wrap(lambda x: mha(x, x, x)[0], mha), (x,))
    assert "_native_multi_head_attention" in fused.by_operator  # the fast path was traced
    assert fused.total == expected
    # the unfused path (grad enabled, weights requiring grad) counts the same
    with torch.enable_grad():
        from dsnbench.complexity.counting import _StrictAnalysis
        slow = _StrictAnalysis(Wrap(lambda x: mha(x, x, x)[0], mha), (x,))
        assert "_native_multi_head_attention" not in slow.by_operator()
        assert int(slow.total()) == expected
    layer = nn.TransformerEncoderLayer(e, heads, 16, batch_first=True, dropout=0.0).eval()
    ffn = b * length * 2 * e * 16
    assert macs(layer, x) == expected + ffn


def test_transformer_fast_path_handle_formula():
    from dsnbench.complexity.counting import _transformer_layer

    class V:  # a stand-in for a traced value
        def __init__(self, shape=None, value=None):
            self._shape, self._value = shape, value

        def type(self):
            shape = self._shape

            class T:
                def sizes(self):
                    return shape
            return T()

        def toIValue(self):
            return self._value
    inputs = [V([2, 11, 8]), V(value=8), V(value=2)] + [V([1])] * 11 + [V([16, 8])] + [V([1])] * 5
    assert _transformer_layer(inputs, []) == 2 * 11 * 4 * 64 + 2 * 11 * 11 * 8 * 2 + 2 * 11 * 2 * 8 * 16


def test_norms_activations_elementwise_count_zero():
    x = torch.randn(2, 6, 10)
    for module in (nn.LayerNorm(10), nn.GroupNorm(2, 6), nn.BatchNorm1d(6).eval(), nn.PReLU(),
                   nn.Softmax(-1), nn.GELU(), nn.InstanceNorm1d(6)):
        assert macs(module, x) == 0, module
    assert macs(Wrap(lambda x: (x - x.mean(1, keepdim=True)) / x.var(1, keepdim=True).add(1e-8).sqrt()), x) == 0


def test_unsupported_op_is_an_error_naming_it():
    rfft = Wrap(lambda x: torch.fft.rfft(x).abs())
    with pytest.raises(UnsupportedOpError, match="aten::fft_rfft"):
        count_macs(rfft, (torch.randn(1, 400),))

    @torch.jit.script
    def scripted(x: torch.Tensor) -> torch.Tensor:
        return x @ x

    with pytest.raises(UnsupportedOpError, match="prim::CallFunction"):
        count_macs(Wrap(lambda x: scripted(x)), (torch.randn(4, 4),))


def test_by_module_attribution():
    net = nn.Sequential(nn.Conv1d(1, 4, 8, stride=4), nn.ReLU(), nn.Conv1d(4, 2, 1))
    c = count_macs(net, (torch.randn(1, 1, 100),))
    frames = (100 - 8) // 4 + 1
    assert c.by_module["0"] == 4 * 8 * frames and c.by_module["2"] == 8 * frames
    assert c.total == c.under(["0", "2"]) == c.under([""])


class Wrap(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.mods = nn.ModuleList(mods)
        self.fn = fn

    def forward(self, *x):
        return self.fn(*x)


class _StftMask(torch.nn.Module):
    """STFT -> 1x1 real mask conv over frequency -> iSTFT (a class: model of the kind users bring)."""

    def __init__(self, n_fft: int = 256, hop: int = 64) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft))
        self.mask = torch.nn.Conv1d(n_fft // 2 + 1, n_fft // 2 + 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, return_complex=True)
        m = torch.sigmoid(self.mask(spec.abs()))
        return torch.istft(spec * m, self.n_fft, self.hop, window=self.window, length=x.shape[-1])


@pytest.mark.parametrize("n_fft,hop", [(256, 64), (200, 80)])
def test_stft_and_istft_count_their_ffts_frame_by_frame(n_fft, hop):
    import math
    model = _StftMask(n_fft, hop).eval()
    batch, samples = 2, 4000
    frames = 1 + samples // hop                      # center=True pads n_fft//2 on each side
    bins = n_fft // 2 + 1
    fft = n_fft * math.log2(n_fft)                   # a real signal's FFT: N log2 N MACs
    want = round(batch * frames * fft) * 2 + batch * bins * bins * frames   # STFT + iSTFT + the 1x1 conv
    assert count_macs(model, torch.randn(batch, samples)).total == want
