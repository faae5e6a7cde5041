"""Batched inference (issue "Evaluate at the scale users have"): a batch of mixtures of
different lengths gives every mixture what it gets alone, within 1e-5 (float32, CPU), traces
included, for every kind of model; a model that cannot batch says so and runs one at a time."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dsnbench.models.dualpath import DSNConfig, DualPathDSN
from dsnbench.models.oracles import OracleIRM, OracleMixture
from dsnbench.models.separators import DSNSeparator, SlimSeparator, StaticSeparator

BUNDLE = Path(__file__).resolve().parents[2] / "dsnbench" / "assets" / "checkpoints"
LENGTHS = [1999, 640, 3001, 88, 2400]


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def _mixtures(lengths=LENGTHS, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [0.1 * torch.randn(n, generator=g) for n in lengths]


def _assert_batch_equals_alone(sep, mixtures, references=None):
    alone = [sep.separate(m, None if references is None else references[i]) for i, m in enumerate(mixtures)]
    together = sep.separate_batch(mixtures, references)
    assert len(together) == len(mixtures)
    for a, b, m in zip(alone, together, mixtures):
        assert b.estimates.shape == a.estimates.shape == (a.estimates.shape[0], m.numel())
        assert b.estimates.dtype == torch.float32
        assert float((a.estimates - b.estimates).abs().max()) <= 1e-5
        if a.trace is None:
            assert b.trace is None
        else:
            assert np.array_equal(a.trace.widths, b.trace.widths)
            assert (a.trace.length, a.trace.hop, a.trace.width_values) == (b.trace.length, b.trace.hop, b.trace.width_values)
        assert a.extra == b.extra
    return alone


def _tiny(static_width=None, seed=0):
    torch.manual_seed(seed)
    cfg = DSNConfig.preset("tiny")
    return DualPathDSN(cfg.static_at(static_width) if static_width else cfg)


def test_static_and_slim_batches_equal_single_runs() -> None:
    assert StaticSeparator(_tiny(0.5)).batchable
    _assert_batch_equals_alone(StaticSeparator(_tiny(0.5)), _mixtures())
    for w in (0.25, 1.0):
        _assert_batch_equals_alone(SlimSeparator(_tiny(), width=w), _mixtures(seed=1))


def test_gated_batch_keeps_each_mixtures_own_widths() -> None:
    net = _tiny(seed=3)
    with torch.no_grad():      # a gate whose choice depends on the chunk, so widths vary
        net.gate.logits.weight.mul_(40.0)
    sep = DSNSeparator(net, betas=[0.0, 2.0])
    for beta in (0.0, 2.0):
        sep.set_operating_point(beta)
        alone = _assert_batch_equals_alone(sep, _mixtures(seed=2))
        assert any(len(set(a.trace.widths.tolist())) > 1 for a in alone)


@pytest.mark.parametrize("name", ["static-1.0", "supernet", "dsn-l1"])
def test_bundled_mini_models_batch(name: str) -> None:
    from dsnbench.models.catalog import load_separator
    path = BUNDLE / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} not bundled")
    sep = load_separator(path)
    _assert_batch_equals_alone(sep, _mixtures([8000, 12345, 4000], seed=4))


def test_oracles_batch() -> None:
    mixes = _mixtures([1999, 640, 3001, 300], seed=5)
    refs = [torch.stack([0.6 * m, 0.4 * m]) for m in mixes]
    irm = OracleIRM()
    irm.prepare(8000)
    _assert_batch_equals_alone(irm, mixes, refs)
    _assert_batch_equals_alone(OracleMixture(), mixes)
    assert irm.batchable and OracleMixture().batchable


def test_a_model_that_cannot_batch_runs_one_at_a_time(tmp_path: Path) -> None:
    from tests.models.adapter_fixture_models import TinyMaskNet
    from dsnbench.run.loading import load_model
    torch.manual_seed(1)
    path = tmp_path / "tiny.pt"
    torch.save(TinyMaskNet(channels=8).state_dict(), path)
    sep = load_model(f"class:tests.models.adapter_fixture_models:TinyMaskNet@{path}")
    assert not sep.batchable
    alone = _assert_batch_equals_alone(sep, _mixtures(seed=6))
    sep.to_device("cpu", "bf16")              # an adapter's module runs under autocast
    low = sep.separate_batch(_mixtures(seed=6))
    assert all(float((a.estimates - b.estimates).abs().max()) < 0.05 for a, b in zip(alone, low))


def test_a_separator_without_device_support_says_so() -> None:
    from dsnbench.types import Separation, Separator

    class Plain(Separator):
        name = "plain"

        def separate(self, mixture, references=None):
            return Separation(mixture.unsqueeze(0).repeat(2, 1))
    sep = Plain()
    sep.to_device("cpu", "fp32")
    with pytest.raises(ValueError, match="runs on the CPU in fp32 only"):
        sep.to_device("cuda", "fp32")
    with pytest.raises(ValueError, match="runs on the CPU in fp32 only"):
        sep.to_device("cpu", "bf16")


def test_inference_precision_and_device_are_settable() -> None:
    sep = StaticSeparator(_tiny(0.5))
    mixes = _mixtures(seed=7)
    ref = [s.estimates for s in sep.separate_batch(mixes)]
    sep.to_device("cpu", "bf16")
    low = [s.estimates for s in sep.separate_batch(mixes)]
    assert all(b.dtype == torch.float32 for b in low)
    assert all(float((a - b).abs().max()) < 0.05 * float(a.abs().max()) + 1e-3 for a, b in zip(ref, low))
    assert any(not torch.equal(a, b) for a, b in zip(ref, low))
    with pytest.raises(ValueError, match="precision"):
        sep.to_device("cpu", "int8")


def test_too_long_or_integer_mixtures_are_refused_with_the_reason() -> None:
    """A mixture whose inter-chunk attention would not fit the budget (a 10 min file asked
    for 115 GB) and integer samples (cast silently before) are refused in one line."""
    sep = StaticSeparator(_tiny(0.5))
    limit = sep.max_seconds()
    cfg = sep.config
    s_max = int(np.sqrt(sep.attention_budget_gib * 2**30 / (4 * cfg.chunk_size * cfg.n_heads)))
    assert sep.network.n_segments(int(limit * cfg.sample_rate)) <= s_max
    sep.attention_budget_gib = 1e-4              # a tiny budget, so the test needs little audio
    short = sep.max_seconds()
    sep.separate(torch.zeros(int(short * cfg.sample_rate)))
    with pytest.raises(ValueError, match=r"longer than this model takes .*inter-chunk attention .*split the file"):
        sep.separate(torch.zeros(int((short + 1) * cfg.sample_rate)))
    for dtype in (torch.int16, torch.int64, torch.bool):
        with pytest.raises(TypeError, match="expected floating point"):
            sep.separate(torch.zeros(800, dtype=dtype))
