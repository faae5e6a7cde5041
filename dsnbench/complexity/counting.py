"""Exact MAC counts of one forward pass, with fvcore's tracer and our own op handles.

Convention (design section 5)
-----------------------------
* **1 MAC = one multiply-accumulate; FLOPs = 2 x MACs.** Counts are raw Python integers; G
  (10^9) appears only on display.
* **What counts.** Only the contractions that multiply learned weights or activations and
  accumulate: convolutions (plain, grouped, depthwise, transposed), linear layers, the matmul
  family (``mm``, ``bmm``, ``matmul``, ``addmm``, ``baddbmm``, ``addbmm``, two-operand
  ``einsum``), attention (``scaled_dot_product_attention`` and PyTorch's fused
  ``MultiheadAttention`` / ``TransformerEncoderLayer`` kernels: Q K^T and A V, plus their
  projections and FFN), and recurrent layers (LSTM, GRU, vanilla RNN, their cells): every weight
  matrix is applied once per time step and batch element, so an LSTM layer direction over T steps
  costs ``T * B * 4H * (I + H)`` MACs (GRU ``3H``, RNN ``H``; ``proj_size`` adds ``P * H``).
  Convolution MACs are ``batch * prod(weight shape) * prod(output length)`` (transposed: the
  input length), i.e. one MAC per kernel tap and output position.
* **STFT and iSTFT** (``aten::stft``, ``aten::istft``) count their FFTs, frame by frame: a
  length-N FFT is (N/2) log2 N radix-2 butterflies of one complex multiply-accumulate each (4
  real MACs), so ``2 N log2 N`` MACs for a complex transform and half, ``N log2 N``, when the
  signal is real (a real input's forward transform, an inverse with real output: both run as a
  half-length complex FFT). An STFT of F frames in a batch of B costs ``B * F`` transforms
  (``log2 N`` taken for any N, not only powers of two; the total rounded to an integer). The
  window multiply, the padding and the overlap-add are elementwise and count 0 by the rule below.
* **What counts 0 (one rule).** Normalisation layers (LayerNorm, GroupNorm, BatchNorm, the
  global / cumulative layer norms written out of means and variances), activations (ReLU, PReLU,
  sigmoid, tanh, GELU, softmax), elementwise arithmetic (add, mul, div, sqrt, exp...), reductions
  (mean, sum, var), bias additions, and data movement (reshape, pad, cat, unfold, fold, index).
  They are O(elements) rather than O(elements x fan-in); counting them as 0 makes a count
  independent of how a norm happens to be written (fused kernel or explicit formula). So a
  LayerNorm counts 0 here where fvcore's default would count 5 per element.
* **Nothing silent.** Every op in the traced graph must be either handled above or listed in
  :data:`ZERO_MAC_OPS`; any other op (``aten::stft``, a scripted ``prim::CallFunction``, a
  custom autograd function...) makes :func:`count_macs` raise :class:`UnsupportedOpError`
  naming it, never a 0 standing in for an unknown.

Ops whose results are never used are dropped by the tracer and not counted: a model should
not compute what it throws away (dsnbench's own Conv-TasNet skips the last block's unused
residual convolution, as the count assumes). Causal attention is counted dense (the full Q K^T), as the dense kernels compute it.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

__all__ = ["count_macs", "MacCount", "UnsupportedOpError", "ZERO_MAC_OPS", "MAC_HANDLES"]


class UnsupportedOpError(RuntimeError):
    """The traced forward used an op that has no MAC rule; the message names each op."""


def _shape(value: Any) -> list[int]:
    """Complete shape of a traced tensor value (raises if the tracer did not record one)."""
    typ = value.type()
    sizes = typ.sizes() if hasattr(typ, "sizes") else None
    if sizes is None or any(s is None for s in sizes):
        raise UnsupportedOpError(f"op input without a complete shape ({typ}); cannot count it")
    return list(sizes)


def _numel(shape: Sequence[int]) -> int:
    return int(math.prod(shape)) if shape else 1


# -- handles: (inputs, outputs) of one traced node -> MACs (int) ----------------------------
def _conv(inputs: list, outputs: list) -> int:
    x_shape, w_shape, out_shape = _shape(inputs[0]), _shape(inputs[1]), _shape(outputs[0])
    transposed = bool(inputs[6].toIValue())
    spatial = (x_shape if transposed else out_shape)[2:]
    return x_shape[0] * _numel(w_shape) * _numel(spatial)


def _conv_nd(transposed: bool) -> Callable[[list, list], int]:
    """``aten::conv1d`` / ``aten::conv_transpose1d`` style nodes (not lowered to _convolution)."""
    def handle(inputs: list, outputs: list) -> int:
        x_shape, w_shape, out_shape = _shape(inputs[0]), _shape(inputs[1]), _shape(outputs[0])
        unbatched = len(x_shape) == len(w_shape) - 1
        batch = 1 if unbatched else x_shape[0]
        spatial = (x_shape if transposed else out_shape)[(1 if unbatched else 2):]
        return batch * _numel(w_shape) * _numel(spatial)
    return handle


def _linear(inputs: list, outputs: list) -> int:
    x_shape, w_shape = _shape(inputs[0]), _shape(inputs[1])
    return _numel(x_shape) * (w_shape[0] if len(w_shape) == 2 else 1)


def _matmul_like(first: int) -> Callable[[list, list], int]:
    """matmul/mm/bmm (first=0) and addmm/baddbmm/addbmm (first=1): output elements x inner dim.

    addbmm sums over the batch as well, so its count is ``b * n * k * m`` from the operands.
    """
    def handle(inputs: list, outputs: list) -> int:
        a, b = _shape(inputs[first]), _shape(inputs[first + 1])
        inner = a[-1]
        if len(b) >= 2 and b[-2] != inner:
            raise UnsupportedOpError(f"matmul with mismatched inner dims {a} @ {b}")
        if len(a) == 3 and len(b) == 3 and len(_shape(outputs[0])) == 2:  # addbmm
            return a[0] * a[1] * a[2] * b[2]
        return _numel(_shape(outputs[0])) * inner
    return handle


def _einsum(inputs: list, outputs: list) -> int:
    equation = str(inputs[0].toIValue()).replace(" ", "")
    operands = [_shape(v) for v in inputs[1].node().inputs()]
    lhs = equation.split("->")[0].split(",")
    if len(operands) != 2 or len(lhs) != 2 or "." in equation:
        raise UnsupportedOpError(f"aten::einsum {equation!r} with {len(operands)} operands "
                                 "(only two-operand einsum without ellipsis has a MAC rule)")
    sizes: dict[str, int] = {}
    for letters, shape in zip(lhs, operands):
        for letter, size in zip(letters, shape):
            sizes[letter] = max(sizes.get(letter, 1), size)
    return _numel(list(sizes.values()))


def _sdpa(inputs: list, outputs: list) -> int:
    q, k, v = _shape(inputs[0]), _shape(inputs[1]), _shape(inputs[2])
    out = _shape(outputs[0])
    rows = _numel(out[:-1])  # batch x heads x query length
    return rows * k[-2] * (q[-1] + v[-1])


def _native_mha(inputs: list, outputs: list) -> int:
    """``torch._native_multi_head_attention`` (MultiheadAttention's inference fast path).

    Inputs: query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, ...
    """
    q, k, v = _shape(inputs[0]), _shape(inputs[1]), _shape(inputs[2])
    embed = int(inputs[3].toIValue())
    batch, lq, lk = q[0], q[1], k[1]
    projections = batch * embed * embed * (lq + lk + k[1]) + batch * lq * embed * embed
    attention = batch * lq * lk * embed * 2
    return projections + attention


def _transformer_layer(inputs: list, outputs: list) -> int:
    """``torch._transformer_encoder_layer_fwd`` (TransformerEncoderLayer's fast path).

    Inputs: src, embed_dim, num_heads, qkv_w, qkv_b, proj_w, proj_b, use_gelu, norm_first, eps,
    norm_w1, norm_b1, norm_w2, norm_b2, ffn_w1, ffn_b1, ffn_w2, ffn_b2, mask, mask_type.
    """
    src = _shape(inputs[0])
    embed = int(inputs[1].toIValue())
    ffn = _shape(inputs[14])[0]
    batch, length = src[0], src[1]
    tokens = batch * length
    return tokens * 4 * embed * embed + batch * length * length * embed * 2 + tokens * 2 * embed * ffn


def _weights_in_list(value: Any) -> list[list[int]]:
    node = value.node()
    if node.kind() != "prim::ListConstruct":
        raise UnsupportedOpError(f"recurrent op whose weights are not a list ({node.kind()})")
    return [_shape(v) for v in node.inputs()]


def _recurrent(inputs: list, outputs: list) -> int:
    """aten::lstm / gru / rnn_tanh / rnn_relu, padded or packed.

    Every 2-D parameter is a weight matrix applied once per step and batch element.
    Padded signature: input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first. Packed: data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
    bidirectional (the number of steps x batch is ``data.shape[0]``).
    """
    second = inputs[1].type()
    packed = second.kind() == "TensorType" and second.scalarType() == "Long"
    x = _shape(inputs[0])
    if packed:  # data [sum of batch sizes, I]: one row per (step, batch element)
        weights = _weights_in_list(inputs[3])
        steps = x[0]
    else:  # [T, B, I] or [B, T, I], or unbatched [T, I]
        weights = _weights_in_list(inputs[2])
        steps = x[0] * x[1] if len(x) == 3 else x[0]
    matrices = sum(_numel(w) for w in weights if len(w) == 2)
    return steps * matrices


def _recurrent_cell(inputs: list, outputs: list) -> int:
    """aten::lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell: input, hx, w_ih, w_hh, ..."""
    x = _shape(inputs[0])
    batch = x[0] if len(x) == 2 else 1
    w_ih, w_hh = _shape(inputs[2]), _shape(inputs[3])
    return batch * (_numel(w_ih) + _numel(w_hh))


def fft_macs(n: int, real: bool) -> float:
    """MACs of one length-``n`` FFT by the module's convention: ``2 n log2 n`` (complex),
    ``n log2 n`` (real signal)."""
    if n <= 1:
        return 0.0
    return (1.0 if real else 2.0) * n * math.log2(n)


def _is_complex(value: Any) -> bool:
    typ = value.type()
    scalar = typ.scalarType() if hasattr(typ, "scalarType") else None
    return bool(scalar) and "Complex" in str(scalar)


def _stft(inputs: list, outputs: list) -> int:
    """aten::stft: input [..., T], n_fft, hop, win_length, window, ... -> [..., freq, frames]."""
    out_shape = _shape(outputs[0])
    n_fft = _as_int(inputs[1].toIValue(), "stft n_fft")
    if _is_complex(outputs[0]):
        transforms = _numel(out_shape[:-2]) * out_shape[-1]
    else:  # return_complex=False: [..., freq, frames, 2]
        transforms = _numel(out_shape[:-3]) * out_shape[-2]
    return int(round(transforms * fft_macs(n_fft, real=not _is_complex(inputs[0]))))


def _istft(inputs: list, outputs: list) -> int:
    """aten::istft: spectrum [..., freq, frames], n_fft, ... -> [..., T]."""
    in_shape = _shape(inputs[0])
    n_fft = _as_int(inputs[1].toIValue(), "istft n_fft")
    if not _is_complex(inputs[0]) and in_shape and in_shape[-1] == 2:
        in_shape = in_shape[:-1]
    transforms = _numel(in_shape[:-2]) * in_shape[-1]
    return int(round(transforms * fft_macs(n_fft, real=not _is_complex(outputs[0]))))


MAC_HANDLES: dict[str, Callable[[list, list], int]] = {
    "aten::stft": _stft,
    "aten::istft": _istft,
    "aten::_convolution": _conv,
    "aten::conv1d": _conv_nd(False),
    "aten::conv2d": _conv_nd(False),
    "aten::conv_transpose1d": _conv_nd(True),
    "aten::conv_transpose2d": _conv_nd(True),
    "aten::linear": _linear,
    "aten::matmul": _matmul_like(0),
    "aten::mm": _matmul_like(0),
    "aten::bmm": _matmul_like(0),
    "aten::addmm": _matmul_like(1),
    "aten::baddbmm": _matmul_like(1),
    "aten::addbmm": _matmul_like(1),
    "aten::einsum": _einsum,
    "aten::scaled_dot_product_attention": _sdpa,
    "aten::_native_multi_head_attention": _native_mha,
    "aten::_transformer_encoder_layer_fwd": _transformer_layer,
    "aten::lstm": _recurrent,
    "aten::gru": _recurrent,
    "aten::rnn_tanh": _recurrent,
    "aten::rnn_relu": _recurrent,
    "aten::lstm_cell": _recurrent_cell,
    "aten::gru_cell": _recurrent_cell,
    "aten::rnn_tanh_cell": _recurrent_cell,
    "aten::rnn_relu_cell": _recurrent_cell,
}

_ZERO_NAMES = """
add add_ sub sub_ rsub mul mul_ div div_ neg abs sqrt rsqrt pow exp exp_ log log10 log1p square
reciprocal sign floor ceil round trunc fmod remainder floor_divide sin cos erf clamp clamp_
clamp_min clamp_max maximum minimum max min amax amin argmax argmin where masked_fill masked_fill_
relu relu_ prelu sigmoid sigmoid_ tanh tanh_ gelu silu elu leaky_relu leaky_relu_ hardtanh
hardtanh_ softplus hardswish glu softmax log_softmax logsumexp
layer_norm native_layer_norm group_norm batch_norm instance_norm
mean sum var std var_mean std_mean cumsum norm linalg_vector_norm
eq ne lt le gt ge logical_and logical_or logical_not __and__ __or__ bitwise_not isnan isinf
reshape view view_as reshape_as flatten unflatten squeeze squeeze_ unsqueeze unsqueeze_ permute
transpose t contiguous expand expand_as repeat repeat_interleave movedim flip roll narrow select
slice split split_with_sizes chunk unsafe_chunk unsafe_split unbind cat stack pad constant_pad_nd reflection_pad1d
replication_pad1d unfold im2col col2im index index_select index_put_ index_copy index_add
gather scatter scatter_add masked_select nonzero sort topk copy_ clone detach alias to type_as
dropout feature_dropout alpha_dropout
zeros zeros_like ones ones_like full full_like empty empty_like new_zeros new_ones new_full
new_empty arange linspace scalar_tensor tensor lift_fresh fill_ zero_ size numel dim Int Float
ScalarImplicit item len bernoulli rand randn rand_like randn_like
""".split()
#: ops that count 0 MACs under the convention above (elementwise, norms, reductions, data movement)
ZERO_MAC_OPS: frozenset[str] = frozenset(f"aten::{n}" for n in _ZERO_NAMES)


@dataclass
class MacCount:
    """The MACs of one traced forward: total, per module and per op kind.

    ``by_module`` maps a module name (``""`` = the root, ``"masker.blocks.0"``...) to the MACs
    of everything run inside that module's call.
    """

    total: int
    by_module: dict[str, int] = field(default_factory=dict)
    by_operator: dict[str, int] = field(default_factory=dict)

    def under(self, prefixes: Iterable[str]) -> int:
        """MACs of the modules named by ``prefixes`` (each counted once; nested names not double counted)."""
        chosen = sorted(set(prefixes))
        top = [p for p in chosen if not any(p != q and p.startswith(q + ".") for q in chosen)]
        return sum(self.by_module.get(p, 0) for p in top)


class _CallWrapper(nn.Module):
    """Lets fvcore trace an arbitrary callable that uses ``root``'s modules."""

    def __init__(self, root: nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.root = root
        self._fn = fn

    def forward(self, *args: Any) -> Any:
        out = self._fn(*args)
        return _tensors_only(out)


def _tensors_only(out: Any) -> Any:
    """The tracer accepts only tensors (or tuples of them) as outputs."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        items = tuple(t for t in (_tensors_only(o) for o in out) if t is not None)
        return items if items else None
    if isinstance(out, dict):
        return _tensors_only(list(out.values()))
    if dataclasses.is_dataclass(out):
        # every tensor field stays an output: the tracer drops ops whose results are unused, so
        # returning only the estimates would drop e.g. a gate whose logits are only reported
        return _tensors_only([getattr(out, f.name) for f in dataclasses.fields(out)])
    return None


def count_macs(module: nn.Module, inputs: tuple | torch.Tensor,
               fn: Callable[..., Any] | None = None, by_module: bool = True) -> MacCount:
    """Trace one forward and count its MACs exactly.

    ``fn`` (optional) is called as ``fn(*inputs)`` instead of ``module(*inputs)``; it may use
    ``module``'s submodules, which then appear in ``by_module`` under their names in ``module``
    (``by_module=False`` skips that attribution: only the total and the per-op counts).
    The module is put in eval mode for the trace and restored afterwards. Raises
    :class:`UnsupportedOpError` if any traced op has no MAC rule.

    Shape: ``inputs`` as the forward expects them (e.g. ``[1, T]`` waveform).
    """
    import fvcore.nn  # noqa: F401  (import inside: it warns at import under torch 2.13)
    from fvcore.nn import FlopCountAnalysis

    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if any(isinstance(m, torch.jit.ScriptModule) for m in module.modules()):
        # fvcore's scope hooks cannot attach to scripted modules, and the tracer records no
        # shapes inside scripted code: refuse rather than count part of the model
        raise UnsupportedOpError(f"{type(module).__name__} contains TorchScript modules, whose ops "
                                 "fvcore cannot see with shapes; count the model as Python code")
    target = module if fn is None else _CallWrapper(module, fn)
    module_for_mode = module
    prefix = "" if fn is None else "root."
    was_training = module_for_mode.training
    module_for_mode.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.no_grad():
                analysis = _StrictAnalysis(target, inputs)
                by_op = analysis.by_operator()
                by_module_raw = analysis.by_module() if by_module else {}
                unsupported = analysis.unsupported_ops()
    finally:
        module_for_mode.train(was_training)
    if unsupported:
        names = ", ".join(f"{k} (x{v})" for k, v in sorted(unsupported.items()))
        raise UnsupportedOpError(f"no MAC rule for op(s) {names} in {type(module).__name__}; "
                                 "add a handle in dsnbench.complexity.counting or an exact "
                                 "closed form in the model's complexity()")
    modules: dict[str, int] = {}
    for name, value in by_module_raw.items():
        if fn is not None:
            if name == "":
                continue
            name = "" if name == "root" else name[len(prefix):] if name.startswith(prefix) else name
        modules[name] = _as_int(value, name)
    total = _as_int(sum(by_op.values()), "total")
    modules[""] = total
    return MacCount(total=total, by_module=modules,
                    by_operator={k: _as_int(v, k) for k, v in by_op.items()})


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ArithmeticError(f"non-integer MAC count {value} for {what}")
    return int(value)


def _make_strict_class():
    from fvcore.nn import FlopCountAnalysis

    class StrictAnalysis(FlopCountAnalysis):
        """fvcore's analysis with our handles only; prim::CallMethod/CallFunction never ignored."""

        def __init__(self, model: nn.Module, inputs: tuple) -> None:
            super().__init__(model, inputs)
            self._op_handles = {}
            self.set_op_handle(**{k: _counter(v) for k, v in MAC_HANDLES.items()})
            self.set_op_handle(**{k: _zero for k in ZERO_MAC_OPS})
            self._ignored_ops = set()
            self.unsupported_ops_warnings(False)
            self.uncalled_modules_warnings(False)
            self.tracer_warnings("none")

        def _should_ignore_node(self, node: Any) -> bool:
            kind = node.kind()
            if kind.startswith("prim::"):
                # a call into scripted code hides its ops from the trace: refuse, never ignore
                return not (kind.startswith("prim::PythonOp") or kind.startswith("prim::Call"))
            return False

    return StrictAnalysis


def _counter(handle: Callable[[list, list], int]) -> Callable[[list, list], int]:
    def wrapped(inputs: list, outputs: list) -> int:
        return int(handle(inputs, outputs))
    return wrapped


def _zero(inputs: list, outputs: list) -> int:
    return 0


class _LazyStrict:
    cls = None

    def __call__(self, model: nn.Module, inputs: tuple):
        if self.cls is None:
            self.cls = _make_strict_class()
        return self.cls(model, inputs)


_StrictAnalysis = _LazyStrict()
