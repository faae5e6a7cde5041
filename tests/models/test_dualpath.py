"""The slimmable layer, the dual-path DSN and its gate (tiny config, CPU, fast)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dsnbench.models.dualpath import DSNConfig, DualPathDSN
from dsnbench.models.slimmable import (SlimmableTransformerLayer, kept_units, layer_macs_per_token,
                                      sinusoidal_positions)
from dsnbench.types import n_segments_for


def tiny(**overrides) -> DualPathDSN:
    torch.manual_seed(0)
    return DualPathDSN(DSNConfig.preset("tiny", **overrides)).eval()


def test_kept_units_is_ceil_of_width():
    assert [kept_units(w, 4) for w in (0.25, 0.5, 0.75, 1.0)] == [1, 2, 3, 4]
    assert [kept_units(w, 8) for w in (0.3, 0.6)] == [3, 5]
    assert kept_units(0.1, 3) == 1
    with pytest.raises(ValueError):
        kept_units(0.0, 4)


def test_layer_width_slices_weights_and_matches_a_smaller_dense_layer():
    """Width w computes exactly what a layer holding only the first heads/units computes."""
    torch.manual_seed(1)
    wide = SlimmableTransformerLayer(16, 4, 4, 32, widths=(0.5, 1.0)).eval()
    small = SlimmableTransformerLayer(16, 2, 4, 16, widths=(1.0,)).eval()
    with torch.no_grad():
        for name in ("norm_attn", "norm_ffn"):
            getattr(small, name).load_state_dict(getattr(wide, name).state_dict())
        for name in ("query", "key", "value"):
            getattr(small, name).weight.copy_(getattr(wide, name).weight[:8])
            getattr(small, name).bias.copy_(getattr(wide, name).bias[:8])
        small.out.weight.copy_(wide.out.weight[:, :8]); small.out.bias.copy_(wide.out.bias)
        small.ffn_in.weight.copy_(wide.ffn_in.weight[:16]); small.ffn_in.bias.copy_(wide.ffn_in.bias[:16])
        small.ffn_out.weight.copy_(wide.ffn_out.weight[:, :16]); small.ffn_out.bias.copy_(wide.ffn_out.bias)
        x = torch.randn(3, 10, 16)
        torch.testing.assert_close(wide(x, 0), small(x), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(wide(x, 0), wide(x, 1))
    assert wide.params_at(0) == sum(p.numel() for p in small.parameters())
    assert wide.params_at(1) == sum(p.numel() for p in wide.parameters())


def test_layer_macs_formula():
    # 4 d a + 2 L a + 2 d f with d=64, a=64, L=100, f=256
    assert layer_macs_per_token(64, 16, 4, 256, 100) == 4 * 64 * 64 + 2 * 100 * 64 + 2 * 64 * 256


@pytest.mark.parametrize("n_samples", [5, 16, 63, 64, 65, 100, 257])
def test_shapes_and_segment_grid(n_samples):
    model = tiny()
    cfg = model.config
    with torch.no_grad():
        out = model(torch.randn(2, n_samples))
    assert out.estimates.shape == (2, cfg.n_src, n_samples)
    assert out.segment_length == cfg.chunk_size * cfg.enc_stride == 64
    assert out.segment_hop == 32
    assert out.width_idx.shape == (2, n_segments_for(n_samples, 64, 32))
    assert out.gate_logits is None and out.gate_probs is None
    assert torch.isfinite(out.estimates).all()


def test_segment_maps_to_its_samples():
    """Changing samples far after segment 0's span leaves chunk 0's gate features unchanged."""
    model = tiny()
    cfg = model.config
    x = torch.randn(1, 300)
    y = x.clone()
    # segment 0 is samples [0, 64); its frames see up to sample 64 + kernel - stride = 72
    y[:, 72:] = torch.randn(1, 228)
    with torch.no_grad():
        a = model(x, gate_mode="infer").gate_logits
        b = model(y, gate_mode="infer").gate_logits
    torch.testing.assert_close(a[:, 0], b[:, 0])
    assert not torch.allclose(a[:, 2], b[:, 2])
    assert cfg.segment_hop * 2 == cfg.segment_length


def test_deterministic_inference():
    model = tiny()
    x = torch.randn(1, 500)
    with torch.no_grad():
        a = model(x, gate_mode="infer", beta=0.3)
        b = model(x, gate_mode="infer", beta=0.3)
    assert torch.equal(a.estimates, b.estimates)
    assert torch.equal(a.width_idx, b.width_idx)


def test_width_grouping_equals_each_chunk_alone():
    """Each chunk's intra output with mixed widths equals that chunk run alone at its width."""
    model = tiny()
    block = model.blocks[0]
    torch.manual_seed(3)
    chunks = torch.randn(9, model.config.chunk_size, model.config.d_model)
    width_idx = torch.tensor([0, 3, 1, 2, 3, 0, 0, 2, 1])
    with torch.no_grad():
        grouped = block.intra_stage(chunks, width_idx)
        for i in range(chunks.shape[0]):
            alone = block.intra_stage(chunks[i:i + 1], width_idx[i:i + 1])
            torch.testing.assert_close(grouped[i:i + 1], alone, rtol=1e-5, atol=1e-6)
            # and by hand through the layers at that width
            x = chunks[i:i + 1] + sinusoidal_positions(chunks.shape[1], chunks.shape[2])
            for layer in block.intra:
                x = layer(x, int(width_idx[i]))
            torch.testing.assert_close(grouped[i:i + 1], x, rtol=1e-5, atol=1e-6)


def test_each_width_group_runs_only_its_chunks_at_its_width():
    """The saving is real: every layer call sees only the chunks of one width, sliced weights."""
    model = tiny()
    calls: list[tuple[int, int]] = []
    layer = model.blocks[0].intra[0]
    original = layer.forward

    def spy(x, width_index=-1):
        calls.append((x.shape[0], int(width_index)))
        return original(x, width_index)

    layer.forward = spy  # type: ignore[method-assign]
    width_idx = torch.tensor([[0, 0, 3, 1, 0]])
    with torch.no_grad():
        model(torch.randn(1, 32 * 6), widths=width_idx)
    assert sorted(calls) == [(1, 1), (1, 3), (3, 0)]


def test_network_per_chunk_widths_equal_uniform_width():
    model = tiny()
    x = torch.randn(2, 400)
    n = model.n_segments(400)
    with torch.no_grad():
        for k, w in enumerate(model.widths):
            a = model(x, width=w).estimates
            b = model(x, widths=torch.full((2, n), k)).estimates
            torch.testing.assert_close(a, b)
        narrow = model(x, width=0.25).estimates
    assert not torch.allclose(narrow, a)


def test_gate_beta_moves_mean_width_monotonically():
    model = tiny()
    torch.manual_seed(5)
    # a gate with spread-out logits, so that beta has work to do
    with torch.no_grad():
        model.gate.logits.weight.mul_(20)
        model.gate.logits.bias.copy_(torch.tensor([0.0, 0.5, 1.0, 1.5]))
    x = torch.randn(3, 1200)
    betas = [0.0, 0.1, 0.3, 0.6, 1.0, 2.0, 5.0, 20.0, 200.0]
    idx_per_beta = []
    with torch.no_grad():
        for beta in betas:
            idx_per_beta.append(model(x, gate_mode="infer", beta=beta).width_idx)
    widths = torch.tensor(model.widths)
    means = [float(widths[i].mean()) for i in idx_per_beta]
    for a, b in zip(idx_per_beta, idx_per_beta[1:]):
        assert (b <= a).all()  # per chunk, never wider as beta grows
    assert all(m2 <= m1 for m1, m2 in zip(means, means[1:]))
    assert means[0] > means[-1]
    assert (idx_per_beta[-1] == 0).all()


def test_train_mode_gumbel_straight_through_reaches_gate():
    model = tiny()
    model.train()
    torch.manual_seed(0)
    out = model(torch.randn(2, 300), gate_mode="train", tau=1.0)
    probs = out.gate_probs
    assert probs is not None and probs.shape == (2, model.n_segments(300), 4)
    # hard forward: exact one-hot, consistent with the width chosen
    assert torch.equal(probs.detach().sum(-1), torch.ones(probs.shape[:2]))
    assert torch.equal(probs.detach().argmax(-1), out.width_idx)
    assert set(probs.detach().unique().tolist()) <= {0.0, 1.0}
    loss = out.estimates.pow(2).mean() + (probs * model.relative_cost).sum()
    loss.backward()
    assert model.gate.hidden.weight.grad is not None
    assert model.gate.hidden.weight.grad.abs().sum() > 0


def test_separation_gradient_alone_reaches_gate():
    model = tiny()
    model.train()
    torch.manual_seed(0)
    out = model(torch.randn(1, 300), gate_mode="train")
    out.estimates.pow(2).mean().backward()
    assert model.gate.logits.weight.grad.abs().sum() > 0


def test_all_widths_training_path_same_output_and_compares_widths():
    """all_widths: the estimates equal the chosen-width path exactly, but the separation loss's
    gradient reaches the straight-through weight of every width, not only the chosen one."""
    model = tiny()
    model.train()
    x = torch.randn(2, 300)
    grads, outs = {}, {}
    for all_widths in (False, True):
        torch.manual_seed(3)                      # same Gumbel draw in both passes
        out = model(x, gate_mode="train", tau=1.0, all_widths=all_widths)
        out.gate_probs.retain_grad()
        out.estimates.pow(2).mean().backward()
        grads[all_widths] = out.gate_probs.grad.detach().clone()
        outs[all_widths] = out
        model.zero_grad()
    assert torch.equal(outs[False].width_idx, outs[True].width_idx)
    assert torch.equal(outs[False].estimates.detach(), outs[True].estimates.detach())
    chosen = F.one_hot(outs[True].width_idx, 4).bool()
    # chosen path: no gradient on the widths that were not run; all widths: gradient on each
    assert torch.count_nonzero(grads[False][~chosen]) == 0
    assert torch.count_nonzero(grads[True][~chosen]) == grads[True][~chosen].numel()
    # the chosen width's own gradient is the same in both
    assert torch.allclose(grads[False][chosen], grads[True][chosen], atol=1e-9, rtol=1e-5)
    with pytest.raises(ValueError, match="gate_mode='train' only"):
        model(x, all_widths=True)


def test_width_and_gate_mode_conflict_and_bad_widths():
    model = tiny()
    x = torch.randn(1, 100)
    with pytest.raises(ValueError, match="not both"):
        model(x, width=0.5, gate_mode="train")
    with pytest.raises(ValueError, match="not one of"):
        model(x, width=0.3)
    with pytest.raises(ValueError, match=r"\[B, S\]"):
        model(x, widths=torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(ValueError):
        model(torch.randn(100))


def test_relative_cost_from_head_and_ffn_counts():
    model = DualPathDSN(DSNConfig.preset("mini"))
    torch.testing.assert_close(model.relative_cost, torch.tensor([0.25, 0.5, 0.75, 1.0]))
    model.set_relative_cost([2.0, 3.0, 4.0, 8.0])
    torch.testing.assert_close(model.relative_cost, torch.tensor([0.25, 0.375, 0.5, 1.0]))


def test_static_config_is_the_slice_size():
    base = DSNConfig.preset("tiny")
    static = base.static_at(0.5)
    assert (static.intra_heads, static.intra_ffn, static.widths, static.static_width) == (1, 16, (1.0,), 0.5)
    assert (static.n_heads, static.ffn_dim) == (base.n_heads, base.ffn_dim)  # inter layers stay full
    assert static.reported_widths == (0.5,)
    sup = DualPathDSN(base)
    net = DualPathDSN(static)
    assert sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in net.gate.parameters()) \
        == sup.params_at(1)
    assert DSNConfig.from_dict(static.to_dict()) == static
    with pytest.raises(ValueError, match="unknown DSN config keys: bogus"):
        DSNConfig.from_dict({**base.to_dict(), "bogus": 1})


def test_parts_for_complexity_cover_every_parameter():
    model = tiny()
    parts = model.parts_for_complexity()
    covered = set()
    for part in parts:
        inputs = part.make_input(3)
        with torch.no_grad():
            part.module(*inputs)
        covered |= {id(p) for p in part.module.parameters()}
    assert covered == {id(p) for p in model.parameters()}
    units = {p.name: p.unit for p in parts}
    assert units["encoder"] == "frames" and units["gate"] == "chunks"
    assert units["blocks.0.inter"] == "segments"
    assert sum(1 for p in parts if p.width_index is not None) == 2 * 4


def test_sepformer_preset_geometry():
    cfg = DSNConfig.preset("sepformer")
    assert (cfg.enc_channels, cfg.d_model, cfg.chunk_size, cfg.n_blocks) == (256, 256, 250, 2)
    assert (cfg.n_intra, cfg.n_inter, cfg.n_heads, cfg.ffn_dim) == (8, 8, 8, 1024)
    assert cfg.segment_length == 2000 and cfg.segment_hop == 1000
    assert math.isclose(cfg.head_dim * cfg.n_heads, cfg.d_model)


def test_infer_with_forced_widths_runs_gate_but_keeps_widths():
    model = tiny()
    x = torch.randn(1, 300)
    n = model.n_segments(300)
    forced = (torch.arange(n) % 4).view(1, -1)
    with torch.no_grad():
        out = model(x, widths=forced, gate_mode="infer", beta=100.0)
        plain = model(x, widths=forced)
        gated = model(x, gate_mode="infer")
    assert torch.equal(out.width_idx, forced)
    assert out.gate_logits is not None
    torch.testing.assert_close(out.gate_logits, gated.gate_logits)
    assert torch.equal(out.estimates, plain.estimates)
