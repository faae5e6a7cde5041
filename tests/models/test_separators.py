"""The static / slim / dsn separators (dsnbench/models/separators.py), load_separator and the
bundled-checkpoint registry (dsnbench/models/catalog.py, bundled.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dsnbench.models.bundled import register_bundled
from dsnbench.models import load_separator
from dsnbench.models.checkpoint import CheckpointError, save_checkpoint
from dsnbench.models.dualpath import DSNConfig, DualPathDSN
from dsnbench.models.separators import DSNSeparator, SlimSeparator, StaticSeparator
from dsnbench.registry import Registry, UnknownNameError
from dsnbench.types import SegmentTrace, Separation, Separator, n_segments_for

PROV = {"training_config": {"lr": 1e-3}, "data": "unit test, random init", "steps": 0,
        "val_si_snr": None, "val_si_snri": 1.5}


def net(static_width=None) -> DualPathDSN:
    torch.manual_seed(0)
    cfg = DSNConfig.preset("tiny")
    return DualPathDSN(cfg if static_width is None else cfg.static_at(static_width)).eval()


def spread_gate(model: DualPathDSN) -> DualPathDSN:
    with torch.no_grad():
        model.gate.logits.weight.mul_(20)
        model.gate.logits.bias.copy_(torch.tensor([0.0, 0.5, 1.0, 1.5]))
    return model


def check_interface(sep: Separator, n_samples: int = 500) -> Separation:
    assert isinstance(sep, Separator)
    sep.prepare(8000)
    mix = torch.randn(n_samples)
    out = sep.separate(mix)
    assert isinstance(out, Separation)
    assert out.estimates.shape == (sep.n_src, n_samples) and out.estimates.dtype == torch.float32
    assert isinstance(out.trace, SegmentTrace)
    assert (out.trace.length, out.trace.hop) == (64, 32)
    assert out.trace.n_segments == n_segments_for(n_samples, 64, 32)
    again = sep.separate(mix.clone())
    assert torch.equal(out.estimates, again.estimates)  # deterministic
    assert np.array_equal(out.trace.widths, again.trace.widths)
    assert sep.params() > 0
    d = sep.describe()
    assert d["family"] == sep.family and d["config"]["d_model"] == 16
    with pytest.raises(ValueError, match="16000 Hz"):
        sep.prepare(16000)
    return out


def test_static_separator():
    sep = StaticSeparator(net(0.5))
    out = check_interface(sep)
    assert sep.family == "static" and sep.name == "static-0.5"
    assert out.trace.width_values == (0.5,) and (out.trace.widths == 0).all()
    assert sep.params() == net().params_at(1)  # same size as the supernet at width 0.5
    with pytest.raises(ValueError, match="no operating point"):
        sep.set_operating_point(1.0)
    with pytest.raises(ValueError):
        StaticSeparator(net())


def test_slim_separator_runs_one_width():
    model = net()
    sep = SlimSeparator(model, width=0.25)
    out = check_interface(sep)
    assert sep.family == "slim" and sep.name == "slim-0.25"
    assert out.trace.width_values == (0.25, 0.5, 0.75, 1.0) and (out.trace.widths == 0).all()
    assert sep.params() == model.params_at(0) < SlimSeparator(model, 1.0).params()
    mix = torch.randn(400)
    with torch.no_grad():
        direct = model(mix.unsqueeze(0), width=0.25).estimates[0]
    assert torch.equal(sep.separate(mix).estimates, direct)
    with pytest.raises(ValueError, match="not one of"):
        SlimSeparator(model, width=0.3)


def test_dsn_separator_operating_points_move_width():
    model = spread_gate(net())
    sep = DSNSeparator(model, betas=[0.0, 1.0, 100.0])
    assert sep.family == "dsn" and list(sep.operating_points()) == [0.0, 1.0, 100.0]
    check_interface(sep, 1500)
    mix = torch.randn(3000)
    means = []
    for beta in sep.operating_points():
        sep.set_operating_point(beta)
        out = sep.separate(mix)
        assert out.extra["beta"] == beta
        means.append(float(out.trace.width_of_segments().mean()))
    assert means[0] >= means[1] >= means[2] == 0.25
    assert means[0] > 0.25
    assert sep.params() == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError):
        sep.set_operating_point(-1.0)


def test_wrappers_reject_bad_input():
    sep = SlimSeparator(net(), 1.0)
    with pytest.raises(ValueError, match="1-D"):
        sep.separate(torch.randn(2, 100))
    with pytest.raises(ValueError, match="empty"):
        sep.separate(torch.zeros(0))


def test_complexity_spec_matches_the_family():
    pytest.importorskip("dsnbench.complexity.table")
    model = net()
    dsn = DSNSeparator(model).complexity()
    slim = SlimSeparator(model, 0.5).complexity()
    static = StaticSeparator(net(0.5)).complexity()
    assert "gate" in [p.name for p in dsn.parts] and "gate" not in [p.name for p in slim.parts]
    assert slim.default_width_index == 1 and slim.width_values == (0.25, 0.5, 0.75, 1.0)
    assert static.width_values == (0.5,) and static.default_width_index == 0
    assert (dsn.segment_length, dsn.segment_hop) == (64, 32)
    x = torch.randn(1, 300)
    out = slim.forward(x, None)
    assert (out.width_idx == 1).all()
    forced = np.arange(model.n_segments(300)) % 4
    out = dsn.forward(x, forced)
    assert out.gate_logits is not None and out.width_idx[0].tolist() == forced.tolist()
    assert dsn.n_frames(300) == (model.padded_length(300) - 16) // 8 + 1


def test_load_separator_from_files(tmp_path):
    model = spread_gate(net())
    sup = save_checkpoint(tmp_path / "supernet.safetensors", model, "supernet", PROV)
    dsn = save_checkpoint(tmp_path / "dsn-l0.1.pt", model, "dsn", PROV, operating_points=[0.0, 2.0])
    st = save_checkpoint(tmp_path / "static-0.5.safetensors", net(0.5), "static", PROV)
    a = load_separator(sup)
    assert isinstance(a, SlimSeparator) and a.width == 1.0
    b = load_separator(sup, width=0.5)
    assert b.width == 0.5 and b.params() < a.params()
    c = load_separator(dsn)
    assert isinstance(c, DSNSeparator) and list(c.operating_points()) == [0.0, 2.0] and c.name == "dsn-l0.1"
    assert isinstance(load_separator(dsn, width=0.25), SlimSeparator)
    assert isinstance(load_separator(st), StaticSeparator)
    mix = torch.randn(600)
    with torch.no_grad():
        want = model(mix.unsqueeze(0), gate_mode="infer", beta=0.0).estimates[0]
    c.set_operating_point(0.0)
    assert torch.equal(c.separate(mix).estimates, want)
    with pytest.raises(CheckpointError, match="cannot run at width"):
        load_separator(st, width=1.0)
    with pytest.raises(CheckpointError, match="not one of"):
        load_separator(sup, width=0.3)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_separator(tmp_path / "gone.safetensors")
    with pytest.raises(UnknownNameError, match="did you mean 'oracle-irm'"):
        load_separator("oracle-irn")
    assert load_separator("oracle-mixture").family == "oracle"


def test_registry_picks_up_every_bundled_checkpoint(tmp_path):
    reg = Registry("model")
    assert register_bundled(reg, tmp_path / "missing") == []
    model = net()
    save_checkpoint(tmp_path / "supernet.safetensors", model, "supernet", PROV)
    save_checkpoint(tmp_path / "dsn-l0.1.safetensors", model, "dsn", PROV, operating_points=[0.0, 1.0])
    save_checkpoint(tmp_path / "static-0.5.pt", net(0.5), "static", PROV)
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    names = register_bundled(reg, tmp_path)
    assert sorted(names) == ["broken", "dsn-l0.1", "slim-0.25", "slim-0.5", "slim-0.75", "slim-1.0",
                             "static-0.5", "supernet"]
    assert reg.entry("dsn-l0.1").meta["family"] == "dsn"
    assert reg.entry("dsn-l0.1").meta["val_si_snri"] == "1.50 dB"
    assert "d=16 K=8" in reg.entry("supernet").meta["config"]
    assert reg.entry("slim-0.5").meta["family"] == "slim"
    assert reg.entry("static-0.5").meta["family"] == "static"
    assert "unreadable" in reg.entry("broken").help
    slim = reg.get("slim-0.5")()
    assert isinstance(slim, SlimSeparator) and slim.width == 0.5 and slim.name == "slim-0.5"
    dsn = reg.get("dsn-l0.1")()
    assert isinstance(dsn, DSNSeparator) and list(dsn.operating_points()) == [0.0, 1.0]
    assert isinstance(reg.get("static-0.5")(), StaticSeparator)
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        reg.get("broken")()
    with pytest.raises(ValueError, match="runs at width 0.5"):
        reg.get("slim-0.5")(width=1.0)


def test_forced_allocation_equals_the_gated_output_bit_for_bit():
    sep = DSNSeparator(spread_gate(net()), betas=[0.0, 2.0])
    mix = torch.randn(1500)
    for beta in (0.0, 2.0):
        sep.set_operating_point(beta)
        gated = sep.separate(mix)
        assert len(set(gated.trace.widths.tolist())) > 1  # the gate really mixes widths here
        forced = sep.separate_forced(mix, gated.trace.widths)
        assert torch.equal(forced.estimates, gated.estimates)
        assert np.array_equal(forced.trace.widths, gated.trace.widths)


def test_forced_allocation_of_one_width_equals_the_fixed_width_output():
    model = spread_gate(net())
    mix = torch.randn(1500)
    dsn = DSNSeparator(model)
    n_seg = model.n_segments(1500)
    for k, w in enumerate(model.config.widths):
        fixed = SlimSeparator(model, width=w).separate(mix)
        assert torch.equal(dsn.separate_forced(mix, np.full(n_seg, k)).estimates, fixed.estimates)
        assert torch.equal(SlimSeparator(model, width=1.0).separate_forced(mix, np.full(n_seg, k)).estimates,
                           fixed.estimates)


def test_forced_allocation_refuses_bad_widths():
    dsn = DSNSeparator(net())
    mix = torch.randn(1500)
    n_seg = dsn.network.n_segments(1500)
    with pytest.raises(ValueError, match="forced widths for a mixture of"):
        dsn.separate_forced(mix, np.zeros(n_seg + 1, dtype=int))
    with pytest.raises(ValueError, match="width indices must be in"):
        dsn.separate_forced(mix, np.full(n_seg, 9))
    with pytest.raises(ValueError, match="one width"):
        StaticSeparator(net(0.5)).separate_forced(mix, np.zeros(n_seg, dtype=int))
