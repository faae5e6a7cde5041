"""The MAC table (dsnbench/complexity/table.py): exact fits, and the table equal to full traces."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dsnbench.complexity import (ModuleComplexity, build_mac_table, count_macs,
                                 fit_polynomial, spread_evenly)
from dsnbench.types import SegmentTrace


# --------------------------------------------------------------------------- table helpers
def test_fit_polynomial_exact_or_error():
    assert fit_polynomial([[1, 1], [1, 2], [1, 5]], [3, 5, 11]) == [1, 2]
    with pytest.raises(ValueError, match="not exactly"):
        fit_polynomial([[1, 1], [1, 2], [1, 5]], [3, 5, 12])
    with pytest.raises(ValueError, match="singular"):
        fit_polynomial([[1, 2], [2, 4], [3, 6]], [1, 2, 3])


def test_spread_evenly_adds_up():
    parts = spread_evenly(1003, 7)
    assert parts.sum() == 1003 and parts.max() - parts.min() <= 1
    assert spread_evenly(5, 0).size == 0


class _Oracle:
    name, sample_rate = "o", 8000

    def __init__(self, c):
        self.c = c

    def complexity(self):
        return self.c

    def params(self):
        return 0


def test_undefined_and_closed_form_tables():
    trace = SegmentTrace.constant(8000, 800, 400, width=float("nan"))
    p = build_mac_table(_Oracle(None)).price(trace, 8000)
    assert math.isnan(p.total_macs) and np.isnan(p.macs_per_segment).all()
    p = build_mac_table(_Oracle({"macs_per_second": 0})).price(trace, 8000)
    assert p.total_macs == 0 and p.gmacs_per_s == 0 and (p.macs_per_segment == 0).all()


# --------------------------------------------------------------------------- table == full trace
def _tiny_convtasnet():
    from dsnbench.models.adapters.tasnet import ConvTasNet
    return ConvTasNet(n_src=2, n_blocks=2, n_repeats=1, bn_chan=8, hid_chan=12, skip_chan=8,
                      n_filters=16, kernel_size=8, stride=4).eval()


def _tiny_dprnn():
    from dsnbench.models.adapters.tasnet import DPRNNTasNet
    return DPRNNTasNet(n_src=2, n_filters=16, kernel_size=8, stride=4, bn_chan=8, hid_size=6,
                       chunk_size=10, n_repeats=2).eval()


@pytest.mark.parametrize("make", [_tiny_convtasnet, _tiny_dprnn])
def test_static_table_equals_full_trace(make):
    model = make()
    table = build_mac_table(ModuleComplexity(model, length_features=model.length_features, sample_rate=8000))
    for n in (517, 2001):  # lengths the fit never saw
        full = count_macs(model, (torch.randn(1, n),)).total
        grid = SegmentTrace.constant(n, 800, 400, width=float("nan"))
        priced = table.price(grid, n)
        assert priced.total_macs == full
        assert priced.macs_per_segment.sum() == full and priced.macs_per_segment.size == grid.n_segments
        assert priced.gmacs_per_s == pytest.approx(full / (n / 8000) / 1e9)


def test_tiny_convtasnet_hand_formula():
    model = _tiny_convtasnet()
    n = 4000
    frames = (n - 8) // 4 + 1
    per_block = 8 * 12 + 12 * 3 + 12 * 8 + 12 * 8  # in 1x1, depthwise, res, skip
    last = per_block - 12 * 8  # the last block's residual conv output is unused: not computed
    per_frame = 16 * 8 + 16 * 8 + per_block + last + 8 * 32 + 2 * 16 * 8  # enc, bottleneck, blocks, mask, dec
    assert count_macs(model, (torch.randn(1, n),)).total == per_frame * frames


def test_per_length_cache_without_features():
    model = _tiny_convtasnet()
    table = build_mac_table(ModuleComplexity(model, sample_rate=8000))
    assert table.total_macs(1234) == count_macs(model, (torch.randn(1, 1234),)).total
    assert 1234 in table._by_length


def test_wrong_features_are_rejected():
    model = _tiny_dprnn()  # cost depends on chunks too: frames alone cannot fit
    with pytest.raises(ValueError, match="not exactly this polynomial"):
        build_mac_table(ModuleComplexity(model, length_features=lambda n: {"frames": model.n_frames(n)},
                                         sample_rate=8000))


# --------------------------------------------------------------------------- the DSN
def _dsn_family():
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    from dsnbench.models.separators import DSNSeparator, SlimSeparator, StaticSeparator
    torch.manual_seed(0)
    cfg = DSNConfig.preset("tiny")
    net = DualPathDSN(cfg)
    static = StaticSeparator(DualPathDSN(cfg.static_at(0.5)))
    return net, DSNSeparator(net, betas=(0.0, 1.0)), SlimSeparator(net, 0.25), static


def test_dsn_table_equals_full_trace_with_mixed_widths():
    net, dsn, _, _ = _dsn_family()
    table = build_mac_table(dsn)
    build_mac_table(dsn, verify="full")  # its own full-trace check passes too
    mixed_seen = False
    for n, beta in ((700, 0.0), (1999, 0.5)):
        x = torch.randn(1, n, generator=torch.Generator().manual_seed(n))
        dsn.set_operating_point(beta)
        sep = dsn.separate(x[0])
        full = count_macs(net, (x,), fn=lambda x: net(x, gate_mode="infer", beta=beta)).total
        priced = table.price(sep.trace, n)
        assert priced.total_macs == full, (n, beta)
        assert priced.macs_per_segment.sum() == full
        mixed_seen |= len(set(sep.trace.widths.tolist())) > 1
        assert sum(priced.width_share.values()) == pytest.approx(1.0)
    # forced traces with every width mixed, against the forward with the same widths
    for n in (1300,):
        x = torch.randn(1, n)
        s = net.n_segments(n)
        widths = np.arange(s) % len(net.widths)
        full = count_macs(net, (x,), fn=lambda x: net(x, widths=torch.as_tensor(widths).view(1, -1))).total
        gate = table.breakdown(n)["gate"]
        assert table.total_macs(n, widths) - gate == full
    assert mixed_seen


def test_slim_and_static_tables_equal_full_trace():
    net, _, slim, static = _dsn_family()
    for sep, network, width in ((slim, net, 0.25), (static, static.network, None)):
        table = build_mac_table(sep)
        n = 1500
        x = torch.randn(1, n)
        full = count_macs(network, (x,), fn=lambda x: network(x, width=width)).total
        priced = table.price(sep.separate(x[0]).trace, n)
        assert priced.total_macs == full
        grid = SegmentTrace.constant(n, 1000, 500, width=float("nan"))  # the run loop's own grid
        assert table.price(grid, n).total_macs == full


def test_dsn_width_costs_increase_and_segments_carry_their_width():
    _, dsn, _, _ = _dsn_family()
    table = build_mac_table(dsn)
    costs = table.chunk_costs()
    assert costs == sorted(costs) and costs[0] < costs[-1]
    n = 1600
    s = dsn.network.n_segments(n)
    widths = np.zeros(s, dtype=np.int64)
    widths[1] = 3
    per_seg, total = table.price_widths(n, widths)
    assert per_seg[1] - per_seg[0] in (costs[3] - costs[0], costs[3] - costs[0] + 1, costs[3] - costs[0] - 1)
    assert per_seg.sum() == total


def test_convtasnet_paper_configuration_known_count():
    """Asteroid's Conv-TasNet at the paper configuration (N=512, L=16, B=128, H=512, P=3, X=8, R=3).

    Per encoder frame: encoder N*L, bottleneck N*B, 24 blocks of (B*H + H*P + H*B + H*B) minus the
    last block's unused residual conv (H*B), mask conv B*(2N), decoder 2*N*L = 4,911,104 MACs;
    at 8 kHz with stride 8 that is 4.91 GMACs/s (9.82 GFLOPs/s).
    """
    from dsnbench.models.adapters.tasnet import ConvTasNet
    model = ConvTasNet(n_src=2).eval()  # Asteroid's defaults are the paper configuration
    per_frame = 512 * 16 + 512 * 128 + 24 * (128 * 512 + 512 * 3 + 512 * 128 + 512 * 128) \
        - 512 * 128 + 128 * 1024 + 2 * 512 * 16
    assert per_frame == 4_911_104
    n = 1200  # 0.15 s: 149 frames
    assert count_macs(model, (torch.randn(1, n),)).total == per_frame * ((n - 16) // 8 + 1)


def test_full_check_catches_a_missing_part():
    net, dsn, _, _ = _dsn_family()
    spec = dsn.complexity()
    spec.parts = [p for p in spec.parts if p.name != "decoder"]
    with pytest.raises(ValueError, match="do not add up"):
        build_mac_table(spec, sample_rate=8000, verify="full")


def test_parts_extra_detects_a_part_that_is_not_of_its_unit():
    from dsnbench.complexity import Part, PartsComplexity

    class Quadratic(nn.Module):
        def forward(self, x):  # [n, 4]: cost n * n * 4, not linear in n
            return x @ x.t() @ x

    spec = PartsComplexity(parts=[Part("q", Quadratic(), lambda n: (torch.randn(n, 4),), "chunks", 0)],
                           n_frames=lambda n: n // 8, n_segments=lambda n: max(1, n // 400),
                           width_values=(1.0,), segment_length=800, segment_hop=400, sample_rate=8000)
    with pytest.raises(ValueError, match="not affine in its chunks"):
        build_mac_table(spec, verify="parts-extra")
