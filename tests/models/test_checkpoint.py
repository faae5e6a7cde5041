"""Checkpoints: round trips in both containers, and every refusal with its one-line message."""
from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch

from dsnbench.models.checkpoint import (CheckpointError, load_checkpoint, read_header,
                                        save_checkpoint)
from dsnbench.models.dualpath import DSNConfig, DualPathDSN

PROV = {"training_config": {"lr": 1e-3}, "data": "unit test, random init", "steps": 0,
        "val_si_snr": None, "val_si_snri": None}


def make_model(**overrides) -> DualPathDSN:
    torch.manual_seed(0)
    return DualPathDSN(DSNConfig.preset("tiny", **overrides)).eval()


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_round_trip_gives_identical_outputs(tmp_path, suffix):
    model = make_model()
    path = save_checkpoint(tmp_path / f"dsn{suffix}", model, "dsn", PROV, operating_points=[0.0, 1.5])
    ckpt = load_checkpoint(path)
    assert ckpt.family == "dsn" and ckpt.config == model.config
    assert ckpt.operating_points == [0.0, 1.5]
    assert ckpt.provenance["data"] == "unit test, random init"
    assert ckpt.provenance["code_version"]["dsnbench"]
    again = ckpt.build_model()
    x = torch.randn(2, 700)
    with torch.no_grad():
        for kwargs in ({}, {"width": 0.25}, {"gate_mode": "infer", "beta": 0.7}):
            a, b = model(x, **kwargs), again(x, **kwargs)
            assert torch.equal(a.estimates, b.estimates)
            assert torch.equal(a.width_idx, b.width_idx)
    head = read_header(path)
    assert head["family"] == "dsn" and head["config"]["d_model"] == 16


def test_static_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = DualPathDSN(DSNConfig.preset("tiny").static_at(0.5)).eval()
    path = save_checkpoint(tmp_path / "static-0.5.safetensors", model, "static", PROV)
    ckpt = load_checkpoint(path)
    assert ckpt.config.static_width == 0.5
    x = torch.randn(1, 300)
    with torch.no_grad():
        assert torch.equal(model(x).estimates, ckpt.build_model()(x).estimates)


def test_save_checks_family_and_provenance(tmp_path):
    model = make_model()
    with pytest.raises(ValueError, match="provenance lacks steps"):
        save_checkpoint(tmp_path / "a.safetensors", model, "dsn", {k: v for k, v in PROV.items() if k != "steps"})
    with pytest.raises(ValueError, match="static_width"):
        save_checkpoint(tmp_path / "a.safetensors", model, "static", PROV)
    with pytest.raises(ValueError, match="family"):
        save_checkpoint(tmp_path / "a.safetensors", model, "big", PROV)
    with pytest.raises(ValueError, match="suffix"):
        save_checkpoint(tmp_path / "a.bin", model, "dsn", PROV)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_truncated_file_is_refused(tmp_path, suffix):
    path = save_checkpoint(tmp_path / f"m{suffix}", make_model(), "supernet", PROV)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_and_empty_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty file"):
        load_checkpoint(tmp_path / "empty.pt")
    (tmp_path / "text.pt").write_text("hello, world")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "text.pt")


def test_other_architecture_is_refused(tmp_path):
    # a plain state dict of another network, saved the usual torch way
    other = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.ReLU())
    torch.save(other.state_dict(), tmp_path / "convnet.pt")
    with pytest.raises(CheckpointError, match="not a dsnbench checkpoint"):
        load_checkpoint(tmp_path / "convnet.pt")
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(tmp_path / "convnet.safetensors"))
    with pytest.raises(CheckpointError, match="not a dsnbench checkpoint"):
        load_checkpoint(tmp_path / "convnet.safetensors")
    # our header, someone else's architecture
    save_file({"w": torch.zeros(2)}, str(tmp_path / "arch.safetensors"),
              metadata={"dsnbench_format": "1", "architecture": "convtasnet", "family": "dsn",
                        "config": "{}", "provenance": "{}", "operating_points": "null"})
    with pytest.raises(CheckpointError, match="architecture 'convtasnet' is not supported"):
        load_checkpoint(tmp_path / "arch.safetensors")


def test_newer_format_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", make_model(), "supernet", PROV)
    doc = torch.load(path, weights_only=True)
    doc["dsnbench_format"] = 99
    torch.save(doc, path)
    with pytest.raises(CheckpointError, match="format 99 is newer"):
        load_checkpoint(path)


def test_config_weight_mismatch_is_named_exactly(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", make_model(), "supernet", PROV)
    doc = torch.load(path, weights_only=True)
    doc["config"]["ffn_dim"] = 48          # every FFN weight now has the wrong shape
    del doc["state_dict"]["encoder.conv.weight"]
    doc["state_dict"]["extra.bias"] = torch.zeros(3)
    torch.save(doc, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path))
    assert "missing 1 key(s): encoder.conv.weight" in msg
    assert "unexpected 1 key(s): extra.bias" in msg
    # 3 layers x (ffn_in.weight, ffn_in.bias, ffn_out.weight)
    assert "9 shape mismatch(es): blocks.0.inter.0.ffn_in.bias file [32] vs config [48]" in msg
    assert "blocks.0.inter.0.ffn_in.weight file [32, 16] vs config [48, 16]" in msg


def test_bad_config_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", make_model(), "supernet", PROV)
    doc = torch.load(path, weights_only=True)
    doc["config"]["n_wheels"] = 4
    torch.save(doc, path)
    with pytest.raises(CheckpointError, match="unknown DSN config keys: n_wheels"):
        load_checkpoint(path)


class _Payload:
    """Unpickling this creates a file: proof of code execution if it ever happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_pickle_payload_is_refused_and_never_runs(tmp_path):
    # the payload is live: plain unpickling runs it
    probe = tmp_path / "probe-ran"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.exists()

    marker = tmp_path / "payload-ran"
    doc = {"dsnbench_format": 1, "architecture": "dsnbench.dualpath-dsn", "family": "dsn",
           "config": {}, "provenance": {}, "operating_points": None, "state_dict": {},
           "hook": _Payload(marker)}
    torch.save(doc, tmp_path / "evil.pt")
    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump(doc, fh)
    for name in ("evil.pt", "evil.pkl"):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name)
        assert str(tmp_path / name) in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(CheckpointError):
            read_header(tmp_path / name)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_safetensors_header_is_plain_json(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(), "dsn", PROV)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    assert meta["dsnbench_format"] == "1" and meta["family"] == "dsn"
    assert json.loads(meta["config"])["chunk_size"] == 8
    assert set(json.loads(meta["provenance"])) >= {"training_config", "data", "steps", "val_si_snr",
                                                   "val_si_snri", "code_version"}


def test_safetensors_whose_header_length_starts_like_a_pickle_loads(tmp_path):
    """A header length with 0x80 as its low byte makes the file start with a pickle's first byte."""
    import json
    import struct

    import torch
    from safetensors.torch import save_file

    from dsnbench.models.checkpoint import _container

    for pad in range(0, 300):
        path = tmp_path / "x.safetensors"
        save_file({"w": torch.zeros(2)}, str(path), metadata={"pad": "." * pad})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        raise AssertionError("no padding gave a 0x80 low byte")
    n = struct.unpack("<Q", path.read_bytes()[:8])[0]
    assert n % 256 == 0x80 and json.loads(path.read_bytes()[8:8 + n])["__metadata__"]["pad"]
    assert _container(str(path)) == "safetensors"


def test_code_version_names_the_changed_tracked_files(monkeypatch) -> None:
    """A dirty checkout says which tracked files differ (capped), a clean one adds nothing."""
    import subprocess
    from dsnbench.models import checkpoint as ck

    def fake(status: str):
        def run(cmd, **kw):
            out = "a" * 40 + "\n" if "rev-parse" in cmd else status
            return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")
        return run

    monkeypatch.setattr(ck.subprocess, "run", fake(" M dsnbench/assets/checkpoints/static-1.0.safetensors\n"
                                                   "M  dsnbench/train/trainer.py\n"))
    v = ck.code_version()
    assert v["git_commit"] == "a" * 40 and v["git_dirty"] is True
    assert v["git_dirty_files"] == ["dsnbench/assets/checkpoints/static-1.0.safetensors", "dsnbench/train/trainer.py"]
    many = "".join(f" M f{i:02d}.py\n" for i in range(ck.DIRTY_FILES_SHOWN + 3))
    monkeypatch.setattr(ck.subprocess, "run", fake(many))
    files = ck.code_version()["git_dirty_files"]
    assert len(files) == ck.DIRTY_FILES_SHOWN + 1 and files[-1] == "... and 3 more" and files[0] == "f00.py"
    monkeypatch.setattr(ck.subprocess, "run", fake(""))
    clean = ck.code_version()
    assert clean["git_dirty"] is False and "git_dirty_files" not in clean


# --------------------------------------------------------------------------- header fields checked like shapes
def _one_line_refusal(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))


@pytest.mark.parametrize("version", [-5, 0])
def test_format_versions_below_one_are_refused(tmp_path, version):
    path = save_checkpoint(tmp_path / "m.pt", make_model(), "supernet", PROV)
    doc = torch.load(path, weights_only=True)
    doc["dsnbench_format"] = version
    torch.save(doc, path)
    _one_line_refusal(path, "versions start at 1")


def test_a_family_label_that_contradicts_the_config_or_the_provenance_is_refused(tmp_path):
    # supernet weights (trained by the supernet stage) labelled as a DSN
    path = save_checkpoint(tmp_path / "m.pt", make_model(), "supernet", {**PROV, "stage": "supernet"})
    doc = torch.load(path, weights_only=True)
    doc["family"] = "dsn"
    torch.save(doc, path)
    _one_line_refusal(path, "labelled 'dsn', but its provenance says the 'supernet' training stage")
    # a slimmable network labelled static
    doc["family"] = "static"
    torch.save(doc, path)
    _one_line_refusal(path, "labelled 'static', but its config has no static width")


@pytest.mark.parametrize("dtype", [torch.int8, torch.int64, torch.bool])
def test_weights_that_are_not_floating_point_are_refused(tmp_path, dtype):
    path = save_checkpoint(tmp_path / "m.pt", make_model(), "supernet", PROV)
    doc = torch.load(path, weights_only=True)
    doc["state_dict"]["encoder.conv.weight"] = doc["state_dict"]["encoder.conv.weight"].to(dtype)
    torch.save(doc, path)
    _one_line_refusal(path, f"weights must be floating point; 1 are not \\(encoder.conv.weight {dtype}\\)")


@pytest.mark.parametrize("offsets", [[0], [8, 4], ["0", "4"], None])
def test_safetensors_with_malformed_offsets_is_one_line(tmp_path, offsets):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(), "supernet", PROV)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    table = json.loads(raw[8:8 + n])
    name = next(k for k in table if k != "__metadata__")
    if offsets is None:
        del table[name]["data_offsets"]
    else:
        table[name]["data_offsets"] = offsets
    head = json.dumps(table).encode()
    head += b" " * (-len(head) % 8)
    path.write_bytes(struct.pack("<Q", len(head)) + head + raw[8 + n:])
    _one_line_refusal(path, "corrupt safetensors header")
    with pytest.raises(CheckpointError):
        read_header(path)


def test_a_pickle_named_safetensors_is_refused_without_running(tmp_path):
    ran = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (ran,))
    path = tmp_path / "m.safetensors"
    path.write_bytes(pickle.dumps({"dsnbench_format": 1, "x": Evil()}, protocol=2))
    _one_line_refusal(path, "refused")
    assert not ran.exists()
