"""The Asteroid adapter: Asteroid 0.7.0 serialize() files read into our own Conv-TasNet / DPRNN.

Asteroid does not import beside torch 2.13 here (torchaudio fails to load), so the equality test
against Asteroid's own forward skips with the reason; the layout tests run everywhere on dicts
built to Asteroid's published key layout (names and shapes below are Asteroid 0.7.0's, for these
tiny configurations).
"""
from __future__ import annotations

import pickle

import pytest
import torch

from dsnbench.models.adapters.asteroid_adapter import AsteroidSeparator, build_from_serialized
from dsnbench.models.adapters.tasnet import ConvTasNet, DPRNNTasNet

CONV_ARGS = {"fb_name": "FreeFB", "n_filters": 16, "kernel_size": 8, "stride": 4, "sample_rate": 8000,
             "in_chan": 16, "out_chan": 16, "bn_chan": 8, "hid_chan": 12, "skip_chan": 8,
             "conv_kernel_size": 3, "n_blocks": 2, "n_repeats": 1, "n_src": 2, "norm_type": "gLN",
             "mask_act": "sigmoid", "causal": False, "encoder_activation": None}


def _conv_layout() -> dict[str, tuple[int, ...]]:
    keys = {"encoder.filterbank._filters": (16, 1, 8), "masker.bottleneck.0.gamma": (16,),
            "masker.bottleneck.0.beta": (16,), "masker.bottleneck.1.weight": (8, 16, 1),
            "masker.bottleneck.1.bias": (8,)}
    for i in range(2):
        p = f"masker.TCN.{i}."
        keys.update({p + "shared_block.0.weight": (12, 8, 1), p + "shared_block.0.bias": (12,),
                     p + "shared_block.1.weight": (1,), p + "shared_block.2.gamma": (12,),
                     p + "shared_block.2.beta": (12,), p + "shared_block.3.weight": (12, 1, 3),
                     p + "shared_block.3.bias": (12,), p + "shared_block.4.weight": (1,),
                     p + "shared_block.5.gamma": (12,), p + "shared_block.5.beta": (12,),
                     p + "res_conv.weight": (8, 12, 1), p + "res_conv.bias": (8,),
                     p + "skip_conv.weight": (8, 12, 1), p + "skip_conv.bias": (8,)})
    keys.update({"masker.mask_net.0.weight": (1,), "masker.mask_net.1.weight": (32, 8, 1),
                 "masker.mask_net.1.bias": (32,), "decoder.filterbank._filters": (16, 1, 8)})
    return keys


DPRNN_ARGS = {"fb_name": "FreeFB", "n_filters": 16, "kernel_size": 8, "stride": 4, "sample_rate": 8000,
              "in_chan": 16, "out_chan": 16, "bn_chan": 8, "hid_size": 6, "chunk_size": 10,
              "hop_size": 5, "n_repeats": 1, "n_src": 2, "norm_type": "gLN", "mask_act": "sigmoid",
              "bidirectional": True, "rnn_type": "LSTM", "num_layers": 1, "dropout": 0,
              "use_mulcat": False, "encoder_activation": None}


def _dprnn_layout() -> dict[str, tuple[int, ...]]:
    keys = {"encoder.filterbank._filters": (16, 1, 8), "masker.bottleneck.0.gamma": (16,),
            "masker.bottleneck.0.beta": (16,), "masker.bottleneck.1.weight": (8, 16, 1),
            "masker.bottleneck.1.bias": (8,)}
    for rnn in ("intra_RNN", "inter_RNN"):
        for suffix in ("", "_reverse"):
            p = f"masker.net.0.{rnn}.rnn."
            keys.update({p + f"weight_ih_l0{suffix}": (24, 8), p + f"weight_hh_l0{suffix}": (24, 6),
                         p + f"bias_ih_l0{suffix}": (24,), p + f"bias_hh_l0{suffix}": (24,)})
    for part in ("intra", "inter"):
        keys.update({f"masker.net.0.{part}_linear.weight": (8, 12), f"masker.net.0.{part}_linear.bias": (8,),
                     f"masker.net.0.{part}_norm.gamma": (8,), f"masker.net.0.{part}_norm.beta": (8,)})
    keys.update({"masker.first_out.0.weight": (1,), "masker.first_out.1.weight": (16, 8, 1, 1),
                 "masker.first_out.1.bias": (16,), "masker.net_out.0.weight": (8, 8, 1),
                 "masker.net_out.0.bias": (8,), "masker.net_gate.0.weight": (8, 8, 1),
                 "masker.net_gate.0.bias": (8,), "masker.mask_net.weight": (16, 8, 1),
                 "decoder.filterbank._filters": (16, 1, 8)})
    return keys


def _conf(name: str, args: dict, layout: dict, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    state = {k: 0.3 * torch.randn(*shape, generator=g) for k, shape in layout.items()}
    return {"model_name": name, "model_args": dict(args), "state_dict": state,
            "infos": {"software_versions": {"torch_version": torch.__version__,
                                            "asteroid_version": "0.7.0"}}}


CASES = [("ConvTasNet", CONV_ARGS, _conv_layout), ("DPRNNTasNet", DPRNN_ARGS, _dprnn_layout)]


@pytest.mark.parametrize("name,args,layout", CASES)
def test_our_parameter_names_and_shapes_are_asteroids(name, args, layout):
    model = {"ConvTasNet": ConvTasNet, "DPRNNTasNet": DPRNNTasNet}[name](**args)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == layout()


@pytest.mark.parametrize("name,args,layout", CASES)
def test_serialized_file_runs_end_to_end(tmp_path, name, args, layout):
    path = tmp_path / "model.pth"
    torch.save(_conf(name, args, layout()), path)
    sep = AsteroidSeparator(str(path))
    assert sep.n_src == 2 and sep.sample_rate == 8000 and sep.family == "adapter"
    mix = torch.randn(1234)
    out = sep.separate(mix)
    assert out.estimates.shape == (2, 1234)
    assert torch.isfinite(out.estimates).all()
    # deterministic, and the weights really were loaded (a fresh model differs)
    assert torch.equal(out.estimates, sep.separate(mix).estimates)
    fresh = {"ConvTasNet": ConvTasNet, "DPRNNTasNet": DPRNNTasNet}[name](**args).eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(mix[None])[0], out.estimates)
    assert sep.params() == sum(torch.Size(s).numel() for s in layout().values())


def test_refuses_pickled_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"model_name": Payload()}, fh)
    with pytest.raises(ValueError, match="refused or unreadable as weights-only"):
        AsteroidSeparator(str(path))


def test_mismatch_is_reported_by_key(tmp_path):
    conf = _conf("ConvTasNet", CONV_ARGS, _conv_layout())
    del conf["state_dict"]["masker.TCN.1.res_conv.bias"]
    with pytest.raises(ValueError, match=r"missing 1 key\(s\), e.g. masker.TCN.1.res_conv.bias"):
        build_from_serialized(conf)
    conf = _conf("ConvTasNet", dict(CONV_ARGS, hid_chan=10), _conv_layout())
    with pytest.raises(ValueError, match="shape"):
        build_from_serialized(conf)
    with pytest.raises(ValueError, match="'DCCRNet' is not supported"):
        build_from_serialized(dict(conf, model_name="DCCRNet"))
    with pytest.raises(ValueError, match="missing model_args"):
        build_from_serialized({"model_name": "ConvTasNet", "state_dict": {}})
    with pytest.raises(ValueError, match="no such file"):
        AsteroidSeparator(str(conf and "/nonexistent/model.pth"))


def _asteroid():
    try:
        import asteroid.models  # noqa: F401
    except Exception as exc:  # ImportError, or torchaudio's OSError beside torch 2.13
        pytest.skip(f"asteroid does not import here ({type(exc).__name__}: {str(exc)[:120]})")
    return asteroid.models


@pytest.mark.parametrize("name,args", [
    ("ConvTasNet", CONV_ARGS),
    ("ConvTasNet", dict(CONV_ARGS, norm_type="cLN", mask_act="relu")),
    ("ConvTasNet", dict(CONV_ARGS, causal=True, norm_type="cgLN", skip_chan=0)),
    ("DPRNNTasNet", DPRNN_ARGS),
    ("DPRNNTasNet", dict(DPRNN_ARGS, rnn_type="GRU", bidirectional=False, num_layers=2)),
    ("DPRNNTasNet", dict(DPRNN_ARGS, use_mulcat=True, norm_type="cLN")),
])
def test_equal_to_asteroids_own_forward(tmp_path, name, args):
    models = _asteroid()
    torch.manual_seed(3)
    theirs = getattr(models, name)(**args).eval()
    for p in theirs.parameters():  # move away from the init values (e.g. gamma = 1)
        p.data.add_(0.1 * torch.randn_like(p))
    conf = theirs.serialize()
    path = tmp_path / "model.pth"
    torch.save(conf, path)
    sep = AsteroidSeparator(str(path))
    mix = torch.randn(1, 2001)
    with torch.no_grad():
        expected = theirs(mix)[0]
    got = sep.separate(mix[0]).estimates
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-4), (got - expected).abs().max()
