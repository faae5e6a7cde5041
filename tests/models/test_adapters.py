"""TorchScript, user-class and SpeechBrain adapters; every adapter end to end through ``dsnbench run``."""
from __future__ import annotations

import json
import math
import os
import pickle

import pandas as pd
import pytest
import torch

from tests.models.adapter_fixture_models import TinyMaskNet
from dsnbench.cli import main
from dsnbench.complexity import build_mac_table, count_macs
from dsnbench.run.loading import load_model
from dsnbench.types import SegmentTrace


@pytest.fixture(scope="module")
def user_weights(tmp_path_factory):
    torch.manual_seed(1)
    model = TinyMaskNet(channels=8)
    path = tmp_path_factory.mktemp("user") / "tiny.pt"
    torch.save(model.state_dict(), path)
    return model.eval(), path


def test_user_class_loads_weights_as_data_and_counts(user_weights, tmp_path):
    model, path = user_weights
    sep = load_model(f"class:tests.models.adapter_fixture_models:TinyMaskNet@{path}")
    x = torch.randn(1600)
    with torch.no_grad():
        assert torch.allclose(sep.separate(x).estimates, model(x[None])[0])
    table = build_mac_table(sep)
    assert table._coef is not None  # the class's length_features were used
    n = 2345
    assert table.price(SegmentTrace.constant(n, 800, 400, float("nan")), n).total_macs == \
        count_macs(model, (torch.randn(1, n),)).total
    from safetensors.torch import save_file
    st = tmp_path / "tiny.safetensors"
    save_file(model.state_dict(), str(st))
    sep2 = load_model(f"class:tests.models.adapter_fixture_models:TinyMaskNet@{st}")
    assert torch.equal(sep2.separate(x).estimates, sep.separate(x).estimates)


def test_user_class_needs_trust_and_imports_nothing_without_it(user_weights, tmp_path, monkeypatch):
    """Issue 21: a class: model runs its module's code when imported, so without trust_code (or
    DSNBENCH_TRUST_CLASS=1) it is refused before the import: a module that would write a file
    on import writes nothing."""
    _, path = user_weights
    from dsnbench.errors import UserError
    monkeypatch.delenv("DSNBENCH_TRUST_CLASS", raising=False)
    marker = tmp_path / "imported"
    pkg = tmp_path / "side_effect_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                     "from tests.models.adapter_fixture_models import TinyMaskNet\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match=r"importing it runs its module's code; refused unless you trust it"):
        load_model(f"class:side_effect_pkg:TinyMaskNet@{path}")
    assert not marker.exists()
    sep = load_model(f"class:side_effect_pkg:TinyMaskNet@{path}", trust_code=True)
    assert marker.read_text() == "ran" and sep.n_src == 2


def test_user_class_errors_are_one_line(user_weights, tmp_path):
    _, path = user_weights
    from dsnbench.errors import UserError
    with pytest.raises(UserError, match="no weights given"):
        load_model("class:tests.models.adapter_fixture_models:TinyMaskNet")
    with pytest.raises(UserError, match="has no 'Nope'"):
        load_model(f"class:tests.models.adapter_fixture_models:Nope@{path}")
    with pytest.raises(UserError, match="shape of encoder.weight"):
        from dsnbench.models.adapters.user_class import UserClassSeparator
        try:
            UserClassSeparator(f"tests.models.adapter_fixture_models:TinyMaskNet@{path}", init={"channels": 4})
        except ValueError as exc:
            raise UserError(str(exc))

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo never",))
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"encoder.weight": Payload()}, fh)
    with pytest.raises(UserError, match="refused or unreadable as weights-only"):
        load_model(f"class:tests.models.adapter_fixture_models:TinyMaskNet@{evil}")


def test_torchscript_needs_explicit_trust(user_weights, tmp_path, monkeypatch):
    model, _ = user_weights
    path = tmp_path / "tiny.ts"
    torch.jit.script(model).save(str(path))
    from dsnbench.errors import UserError
    monkeypatch.delenv("DSNBENCH_TRUST_TORCHSCRIPT", raising=False)
    with pytest.raises(UserError, match="runs the code inside it"):
        load_model(f"torchscript:{path}")
    from dsnbench.run.config import ModelSpec
    sep = load_model(ModelSpec(name=f"torchscript:{path}", options=(("trust_code", True),)))
    x = torch.randn(1000)
    with torch.no_grad():
        assert torch.allclose(sep.separate(x).estimates, model(x[None])[0], atol=1e-6)
    # the count is undefined (NaN), never a silent 0
    priced = build_mac_table(sep).price(SegmentTrace.constant(1000, 800, 400, float("nan")), 1000)
    assert math.isnan(priced.total_macs)
    monkeypatch.setenv("DSNBENCH_TRUST_TORCHSCRIPT", "1")
    assert load_model(f"torchscript:{path}").n_src == 2


def test_speechbrain_adapter_says_what_to_install(tmp_path):
    from dsnbench.errors import UserError
    try:
        import speechbrain  # noqa: F401
    except Exception:
        (tmp_path / "hyperparams.yaml").write_text("sample_rate: 8000\n")
        with pytest.raises(UserError, match="pip install"):
            load_model(f"speechbrain:{tmp_path}")
    else:
        pytest.skip("speechbrain imports here: covered by test_speechbrain_end_to_end")


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from dsnbench.testing import write_wsj0_2mix
    return write_wsj0_2mix(tmp_path_factory.mktemp("wsj"), n=2, seconds=0.6)


def _run(tmp_path, model: str, root) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    import sys

    import dsnbench.commands.run as run_command
    from dsnbench.results import read_run
    # print_summary binds sys.stdout at import; an earlier capsys test may have closed that stream
    run_command.print_summary.__defaults__ = (sys.stdout,)
    out = tmp_path / "run"
    code = main(["run", "--model", model, "--dataset", "wsj0-2mix", "--root", str(root),
                 "--metrics", "si_snr", "--workers", "1", "--no-progress", "--out", str(out)])
    assert code == 0
    tables = read_run(out)
    return json.loads((out / "summary.json").read_text()), tables.utterances, tables.segments


def test_asteroid_adapter_through_dsnbench_run(tmp_path, tiny_dataset):
    from tests.models.test_asteroid_adapter import CONV_ARGS, _conf, _conv_layout
    path = tmp_path / "ctn.pth"
    torch.save(_conf("ConvTasNet", CONV_ARGS, _conv_layout()), path)
    summary, utts, segs = _run(tmp_path, f"asteroid:{path}", tiny_dataset)
    sep = load_model(f"asteroid:{path}")
    for _, row in utts.iterrows():
        n = int(round(row["duration_s"] * 8000))
        assert row["macs"] == count_macs(sep.module, (torch.randn(1, n),)).total
        assert row["error"] == ""
    assert summary["entries"][0]["params"] == sep.params()
    per_utt = segs.groupby("utt_id")["macs"].sum()
    assert (per_utt.sort_index().to_numpy() == utts.set_index("utt_id")["macs"].sort_index().to_numpy()).all()


def test_user_class_adapter_through_dsnbench_run(tmp_path, tiny_dataset, user_weights):
    _, path = user_weights
    summary, utts, _ = _run(tmp_path, f"class:tests.models.adapter_fixture_models:TinyMaskNet@{path}", tiny_dataset)
    assert (utts["macs"] > 0).all() and (utts["error"] == "").all()
    assert summary["entries"][0]["gmacs_per_s"]["mean"] > 0
