"""``dsnbench macs`` and ``dsnbench latency`` end to end (tiny models, a few runs)."""
from __future__ import annotations

import json

import pytest
import torch

from dsnbench.cli import main
from dsnbench.complexity import count_macs


@pytest.fixture(scope="module")
def asteroid_file(tmp_path_factory):
    from tests.models.test_asteroid_adapter import CONV_ARGS, _conf, _conv_layout
    path = tmp_path_factory.mktemp("ast") / "ctn.pth"
    torch.save(_conf("ConvTasNet", CONV_ARGS, _conv_layout()), path)
    return path


def test_macs_json_equals_a_full_trace(asteroid_file, capsys):
    assert main(["macs", f"asteroid:{asteroid_file}", "--seconds", "0.5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    from dsnbench.run.loading import load_model
    sep = load_model(f"asteroid:{asteroid_file}")
    full = count_macs(sep.module, (torch.randn(1, 4000),)).total
    assert report["widths"][0]["macs"] == full
    assert report["widths"][0]["gmacs_per_s"] == pytest.approx(full / 0.5 / 1e9)
    assert sum(report["widths"][0]["parts"].values()) == pytest.approx(full / 0.5 / 1e9)
    assert report["params"] == sep.params()


def test_macs_text_and_oracles(asteroid_file, capsys):
    assert main(["macs", f"asteroid:{asteroid_file}"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs = 2 x MACs" in out and "TOTAL GMACs/s" in out
    assert main(["macs", "oracle-mixture", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["widths"][0]["macs"] == 0
    assert main(["macs", "oracle-irm"]) == 0
    assert "not defined" in capsys.readouterr().out


def test_macs_bad_input_is_one_line(capsys):
    assert main(["macs", "asteroid:/nonexistent.pth"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and len(err.strip().splitlines()) == 1
    assert main(["macs", "oracle-mixture", "--seconds", "0"]) == 2


def test_latency_reports_median_and_rtf(asteroid_file, capsys):
    assert main(["latency", f"asteroid:{asteroid_file}", "--seconds", "0.5", "--repeats", "3",
                 "--warmup", "1", "--device", "cpu", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    (row,) = info["results"]
    assert row["repeats"] == 3 and row["median_s"] > 0 and row["min_s"] <= row["median_s"] <= row["p90_s"]
    assert row["rtf"] == pytest.approx(row["median_s"] / 0.5)
    assert row["gmacs_per_s"] > 0
    assert main(["latency", "oracle-mixture", "--device", "cuda:0"]) == 2 or torch.cuda.is_available()


@pytest.fixture(scope="module")
def dsn_file(tmp_path_factory):
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("dsn") / "tiny-dsn.safetensors"
    save_checkpoint(path, DualPathDSN(DSNConfig.preset("tiny")), "dsn",
                    dict(training_config=None, data="untrained test network", steps=0,
                         val_si_snr=None, val_si_snri=None), operating_points=[0.0, 2.0])
    return path


def test_dsn_macs_per_width_and_latency_per_setting(dsn_file, capsys):
    assert main(["macs", str(dsn_file), "--seconds", "0.25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    totals = [row["macs"] for row in report["widths"]]
    assert [row["width"] for row in report["widths"]] == [0.25, 0.5, 0.75, 1.0]
    assert totals == sorted(totals) and totals[0] < totals[-1]
    costs = list(report["per_chunk_macs"].values())
    n_seg = totals and (totals[-1] - totals[0]) // (costs[-1] - costs[0])
    assert (totals[-1] - totals[0]) == n_seg * (costs[-1] - costs[0])
    assert main(["latency", str(dsn_file), "--seconds", "0.25", "--repeats", "1", "--warmup", "0",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["setting"] for r in rows] == ["width 0.25", "width 0.5", "width 0.75", "width 1",
                                            "dsn beta=0", "dsn beta=2"]
    assert all(r["gmacs_per_s"] > 0 and r["median_s"] > 0 for r in rows)


def test_macs_refuses_a_sample_rate_the_run_refuses(capsys):
    from dsnbench.cli import main
    assert main(["macs", "static-0.5", "--sample-rate", "16000"]) == 2
    err = capsys.readouterr().err
    assert "runs at 8000 Hz, the data is at 16000 Hz" in err and "does not resample" in err
    assert "wav8k" in err and len(err.strip().splitlines()) == 1
