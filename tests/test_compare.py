"""dsnbench compare: regressions on constructed schema-v1 summaries, comparability, exit codes."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from dsnbench.compare import compare_summaries, parse_tolerances, registry_meta
from dsnbench.errors import UserError

META = {
    "si_snri": {"unit": "dB", "higher_is_better": True, "tolerance": 0.05},
    "si_snr": {"unit": "dB", "higher_is_better": True, "tolerance": 0.05},
    "si_snr_input": {"unit": "dB", "higher_is_better": True, "tolerance": 0.05},
    "pesq": {"unit": "MOS-LQO", "higher_is_better": True, "tolerance": 0.02},
    "gmacs_per_s": {"unit": "GMAC/s", "higher_is_better": False, "tolerance": 0.001},
}


def entry(model: str = "dsn", dataset: str = "mini-2mix", op: float | None = None, si_snri: float | None = 10.0,
          pesq: float | None = 2.5, gmacs: float = 1.0, failed: dict | None = None, evaluated: int = 4) -> dict:
    return {
        "model": model, "dataset": dataset, "operating_point": op,
        "n_utterances": {"total": 4, "evaluated": evaluated, "failed": dict(failed or {})},
        "metrics": {"si_snri": {"mean": si_snri, "ci95": [None, None]},
                    "si_snr": {"mean": None if si_snri is None else si_snri + 1.0, "ci95": [None, None]},
                    "si_snr_input": {"mean": 1.0, "ci95": [1.0, 1.0]},
                    "pesq": {"mean": pesq, "ci95": [None, None]}},
        "gmacs_per_s": {"mean": gmacs, "ci95": [gmacs, gmacs]}, "params": 1000, "width_share": None,
    }


def summary(entries: list[dict] | None = None, **top) -> dict:
    s = {
        "schema_version": 1, "run_id": "run-a", "created": "2026-11-28T10:00:00+00:00",
        "config": {"models": [{"name": "dsn"}], "pesq_mode": None, "limit": None, "seed": 0},
        "config_hash": "c0ffee", "git_commit": "abc123",
        "datasets": {"mini-2mix": {"manifest_hash": "h2mix", "n_utterances": 4, "sample_rate": 8000},
                     "mini-wham": {"manifest_hash": "hwham", "n_utterances": 4, "sample_rate": 8000}},
        "metrics_meta": copy.deepcopy(META),
        "entries": entries if entries is not None else [entry(), entry(op=0.5, gmacs=0.6),
                                                         entry(dataset="mini-wham")],
    }
    s.update(top)
    return s


def row(c, metric: str, model: str = "dsn", dataset: str = "mini-2mix", op: float | None = None):
    found = [r for r in c.rows if (r.model, r.dataset, r.operating_point, r.metric) == (model, dataset, op, metric)]
    assert len(found) == 1, [(r.model, r.dataset, r.operating_point, r.metric) for r in c.rows]
    return found[0]


def test_identical_runs_pass_and_input_metrics_are_left_out():
    c = compare_summaries(summary(), summary())
    assert c.comparable and c.exit_code == 0 and not c.regressions
    metrics = {r.metric for r in c.rows}
    assert metrics == {"si_snri", "si_snr", "pesq", "gmacs_per_s"}
    assert all(r.status == "ok" and r.change == 0.0 for r in c.rows)
    assert len(c.rows) == 3 * 4


def test_improvement_in_both_directions_is_not_a_regression():
    new = summary([entry(si_snri=10.5, gmacs=0.9), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")])
    c = compare_summaries(summary(), new)
    assert c.exit_code == 0
    assert row(c, "si_snri").status == "improved" and row(c, "si_snri").change == pytest.approx(0.5)
    assert row(c, "gmacs_per_s").status == "improved" and row(c, "gmacs_per_s").change == pytest.approx(-0.1)


def test_lower_quality_is_a_regression():
    new = summary([entry(si_snri=9.0), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")])
    c = compare_summaries(summary(), new)
    assert c.exit_code == 1
    r = row(c, "si_snri")
    assert r.regression and r.status == "regressed" and r.change == pytest.approx(-1.0)
    assert {(x.metric, x.operating_point) for x in c.regressions} == {("si_snri", None), ("si_snr", None)}


def test_higher_cost_is_a_regression_for_higher_is_worse():
    new = summary([entry(), entry(op=0.5, gmacs=0.7), entry(dataset="mini-wham")])
    c = compare_summaries(summary(), new)
    assert c.exit_code == 1
    r = row(c, "gmacs_per_s", op=0.5)
    assert r.regression and r.higher_is_better is False and r.change == pytest.approx(0.1)
    assert [x.metric for x in c.regressions] == ["gmacs_per_s"]


@pytest.mark.parametrize("base,new,tol,expected", [
    # higher is better (si_snri): worse by exactly the tolerance passes, a hair beyond fails
    (10.0, 9.95, 0.05, "ok"),
    (1.1, 1.05, 0.05, "ok"),  # 1.1 - 1.05 = 0.050000000000000044 in floats: still "exactly"
    (10.0, 9.9499, 0.05, "regressed"),
    (10.0, 10.05, 0.05, "ok"),
    (10.0, 10.0501, 0.05, "improved"),
    (10.0, 10.0, 0.0, "ok"),
    (10.0, 9.999, 0.0, "regressed"),
])
def test_tolerance_edges_higher_is_better(base, new, tol, expected):
    b = summary([entry(si_snri=base)])
    n = summary([entry(si_snri=new)])
    c = compare_summaries(b, n, {"si_snri": tol})
    r = row(c, "si_snri")
    assert r.status == expected and r.tolerance == tol
    assert r.regression == (expected == "regressed")


@pytest.mark.parametrize("base,new,expected", [
    (1.0, 1.001, "ok"),       # exactly the tolerance 0.001, in the bad direction
    (1.0, 1.0011, "regressed"),
    (1.0, 0.999, "ok"),
    (1.0, 0.9989, "improved"),
])
def test_tolerance_edges_lower_is_better(base, new, expected):
    c = compare_summaries(summary([entry(gmacs=base)]), summary([entry(gmacs=new)]))
    r = row(c, "gmacs_per_s")
    assert r.tolerance == 0.001 and r.status == expected


def test_tol_override_and_source():
    b, n = summary([entry(si_snri=10.0)]), summary([entry(si_snri=9.0)])
    assert compare_summaries(b, n).exit_code == 1
    c = compare_summaries(b, n, {"si_snri": 1.0, "si_snr": 1.0})
    assert c.exit_code == 0 and c.tolerances["si_snri"].source == "--tol"
    with pytest.raises(UserError, match="did you mean 'si_snri'"):
        compare_summaries(b, n, {"si_snr_i": 1.0})


def test_baseline_metadata_wins_over_new_and_registry():
    b, n = summary([entry(si_snri=10.0)]), summary([entry(si_snri=9.7)])
    b["metrics_meta"]["si_snri"]["tolerance"] = 0.5
    n["metrics_meta"]["si_snri"]["tolerance"] = 0.01
    c = compare_summaries(b, n)
    assert row(c, "si_snri").status == "ok" and c.tolerances["si_snri"].source == "baseline"
    assert any("tolerance" in note for note in c.notes)


def test_registry_is_the_fallback_for_metadata():
    b, n = summary([entry(si_snri=10.0)]), summary([entry(si_snri=9.0)])
    b.pop("metrics_meta")
    n.pop("metrics_meta")
    c = compare_summaries(b, n)
    r = row(c, "si_snri")
    assert r.regression and c.tolerances["si_snri"].source == "registry"
    spec = registry_meta("si_snri")
    assert spec is not None and spec.higher_is_better and r.tolerance == spec.tolerance
    assert registry_meta("gmacs_per_s").higher_is_better is False


def test_number_to_nan_is_a_regression_and_nan_to_number_is_not():
    b = summary([entry(pesq=2.5), entry(dataset="mini-wham", pesq=None)])
    n = summary([entry(pesq=None), entry(dataset="mini-wham", pesq=2.0)])
    c = compare_summaries(b, n)
    became = row(c, "pesq")
    assert became.status == "became_nan" and became.regression and math.isnan(became.new)
    fixed = row(c, "pesq", dataset="mini-wham")
    assert fixed.status == "fixed" and not fixed.regression
    assert c.exit_code == 1


def test_nan_in_both_is_reported_not_judged():
    c = compare_summaries(summary([entry(pesq=None)]), summary([entry(pesq=float("nan"))]))
    r = row(c, "pesq")
    assert r.status == "nan" and not r.regression and c.exit_code == 0
    json.loads(c.to_json())  # NaN is written as null, valid strict JSON
    assert '"new": null' in c.to_json()


def test_growing_failure_count_is_a_regression():
    b = summary([entry(failed={"pesq": 1})])
    n = summary([entry(failed={"pesq": 2, "stoi": 0})])
    c = compare_summaries(b, n)
    r = row(c, "failed[pesq]")
    assert r.regression and r.baseline == 1 and r.new == 2 and c.exit_code == 1
    assert compare_summaries(n, b).exit_code == 0  # fewer failures: an improvement
    assert row(compare_summaries(n, b), "failed[pesq]").status == "improved"


def test_fewer_evaluated_utterances_is_a_regression():
    c = compare_summaries(summary([entry(evaluated=4)]), summary([entry(evaluated=3, failed={"separation": 1})]))
    assert row(c, "evaluated").regression and row(c, "failed[separation]").regression


def test_missing_entries_and_metrics():
    b = summary([entry(), entry(op=0.5)])
    n = summary([entry(), entry(model="other")])
    c = compare_summaries(b, n)
    missing = row(c, "(entry)", op=0.5)
    assert missing.status == "missing_in_new" and missing.regression
    extra = row(c, "(entry)", model="other")
    assert extra.status == "only_in_new" and not extra.regression
    assert c.exit_code == 1
    # a metric of the baseline that the new run lacks
    n2 = summary([entry(), entry(op=0.5)])
    del n2["entries"][0]["metrics"]["pesq"]
    c2 = compare_summaries(b, n2)
    assert row(c2, "pesq").status == "missing_in_new" and c2.exit_code == 1
    # and one only the new run has: reported, not a regression
    c3 = compare_summaries(n2, b)
    assert row(c3, "pesq").status == "only_in_new" and c3.exit_code == 0


def test_not_comparable_schema_version():
    c = compare_summaries(summary(), summary(schema_version=2))
    assert not c.comparable and c.exit_code == 3
    assert any("schema_version" in r for r in c.reasons)


def test_not_comparable_manifest_hash():
    n = summary()
    n["datasets"]["mini-wham"]["manifest_hash"] = "other"
    c = compare_summaries(summary(), n)
    assert c.exit_code == 3 and len(c.reasons) == 1 and "mini-wham" in c.reasons[0]
    assert "manifest_hash" in c.reasons[0]


def test_not_comparable_missing_manifest():
    n = summary()
    del n["datasets"]["mini-2mix"]
    c = compare_summaries(summary(), n)
    assert c.exit_code == 3 and "mini-2mix" in c.reasons[0]


def test_not_comparable_metric_direction_or_unit():
    n = summary()
    n["metrics_meta"]["pesq"]["unit"] = "MOS"
    c = compare_summaries(summary(), n)
    assert c.exit_code == 3 and any("pesq" in r and "unit" in r for r in c.reasons)
    n = summary()
    n["metrics_meta"]["gmacs_per_s"]["higher_is_better"] = True
    assert compare_summaries(summary(), n).exit_code == 3


def test_not_comparable_pesq_mode_and_sample_rate():
    n = summary(config={**summary()["config"], "pesq_mode": "wb"})
    c = compare_summaries(summary(), n)
    assert c.exit_code == 3 and any("pesq_mode" in r for r in c.reasons)
    # an explicit mode equal to the automatic one (narrow-band at 8 kHz) is the same setting
    same = summary(config={**summary()["config"], "pesq_mode": "nb"})
    assert compare_summaries(summary(), same).comparable
    n = summary()
    n["datasets"]["mini-2mix"]["sample_rate"] = 16000
    c = compare_summaries(summary(), n)
    assert c.exit_code == 3 and any("sample_rate[mini-2mix]" in r for r in c.reasons)


def test_metric_setting_recorded_in_metrics_meta():
    b, n = summary(), summary()
    b["metrics_meta"]["pesq"]["mode"] = "nb"
    n["metrics_meta"]["pesq"]["mode"] = "wb"
    c = compare_summaries(b, n)
    assert c.exit_code == 3 and any("pesq" in r and "mode" in r for r in c.reasons)


def test_config_difference_alone_is_comparable_and_noted():
    n = summary(config={**summary()["config"], "seed": 1, "models": [{"name": "dsn2"}]}, config_hash="beef")
    c = compare_summaries(summary(), n)
    assert c.comparable and c.exit_code == 0
    assert any("config differs in" in note and "seed" in note for note in c.notes)


def test_not_comparable_wins_over_regression():
    n = summary([entry(si_snri=0.0)], schema_version=2)
    assert compare_summaries(summary([entry()]), n).exit_code == 3


def test_outputs_render():
    new = summary([entry(si_snri=9.0, pesq=None), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")])
    c = compare_summaries(summary(), new, baseline_label="base", new_label="new")
    text = c.to_text()
    assert "REGRESSION" in text and "REGRESSED regressed" in text and "si_snri" in text
    assert "became_nan" in text
    assert "gmacs_per_s" not in c.to_text(show="regressions")
    md = c.to_markdown()
    assert md.startswith("### dsnbench compare: :x:") and "#### Regressions" in md and "| si_snri |" in md
    d = json.loads(c.to_json())
    assert d["verdict"] == "regression" and d["exit_code"] == 1 and d["n_regressions"] == 3
    assert {r["metric"] for r in d["rows"] if r["regression"]} == {"si_snri", "si_snr", "pesq"}


def test_parse_tolerances():
    assert parse_tolerances(["si_snri=0.1", "gmacs_per_s = 0.01"]) == {"si_snri": 0.1, "gmacs_per_s": 0.01}
    for bad in ["si_snri", "si_snri=x", "=0.1", "si_snri=-1", "si_snri=nan"]:
        with pytest.raises(UserError):
            parse_tolerances([bad])


# ------------------------------------------------------------------ through the CLI
def write(tmp: Path, name: str, s: dict, as_folder: bool = True) -> Path:
    if as_folder:
        d = tmp / name
        d.mkdir()
        (d / "summary.json").write_text(json.dumps(s))
        return d
    p = tmp / f"{name}.json"
    p.write_text(json.dumps(s))
    return p


def cli(*argv: str) -> int:
    from dsnbench.cli import main
    return main(list(argv))


def test_cli_exit_codes(tmp_path, capsys):
    base = write(tmp_path, "base", summary())
    same = write(tmp_path, "same", summary(run_id="run-b"), as_folder=False)
    worse = write(tmp_path, "worse", summary([entry(si_snri=9.0), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")]))
    other = write(tmp_path, "other", summary(schema_version=2))
    assert cli("compare", str(base), str(same)) == 0
    assert "OK: no regression" in capsys.readouterr().out
    assert cli("compare", str(base), str(worse)) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert cli("compare", str(base), str(worse), "--tol", "si_snri=2", "--tol", "si_snr=2") == 0
    capsys.readouterr()
    assert cli("compare", str(base), str(other)) == 3
    assert "schema_version" in capsys.readouterr().out
    assert cli("compare", str(base), str(tmp_path / "nowhere")) == 2
    assert "nowhere" in capsys.readouterr().err
    assert cli("compare", str(base), str(worse), "--tol", "si_snri") == 2
    assert "METRIC=VALUE" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert cli("compare", str(base), str(tmp_path / "broken.json")) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_cli_json_and_markdown(tmp_path, capsys):
    base = write(tmp_path, "base", summary())
    worse = write(tmp_path, "worse", summary([entry(gmacs=1.5), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")]))
    assert cli("compare", str(base), str(worse), "--json") == 1
    d = json.loads(capsys.readouterr().out)
    assert d["verdict"] == "regression" and [r["metric"] for r in d["rows"] if r["regression"]] == ["gmacs_per_s"]
    out = tmp_path / "comment.md"
    assert cli("compare", str(base), str(worse), "--markdown", "-o", str(out)) == 1
    printed = capsys.readouterr().out
    assert printed == out.read_text() and "#### Regressions" in printed


def test_cli_subprocess_exit_code(tmp_path):
    import subprocess
    import sys
    base = write(tmp_path, "base", summary())
    worse = write(tmp_path, "worse", summary([entry(si_snri=5.0)]))
    res = subprocess.run([sys.executable, "-m", "dsnbench.cli", "compare", str(base), str(worse), "--show", "regressions"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert "missing_in_new" in res.stdout and "si_snri" in res.stdout


def test_metric_settings_record_per_dataset():
    def with_settings(**over) -> dict:
        s = summary()
        rec = {"metrics": ["si_snr", "pesq"], "sample_rate": 8000, "pesq_mode": None,
               "sdr_filter_length": 512, "definitions_version": 1}
        s["metric_settings"] = {"mini-2mix": {**rec, **over}, "mini-wham": dict(rec)}
        return s
    # which metrics ran and an explicit PESQ mode equal to the automatic one are not differences
    assert compare_summaries(with_settings(), with_settings(metrics=["si_snr"], pesq_mode="nb")).comparable
    c = compare_summaries(with_settings(), with_settings(sdr_filter_length=256))
    assert c.exit_code == 3 and c.reasons == [
        "metric setting mini-2mix.sdr_filter_length differs (baseline 512, new 256)"]
    c = compare_summaries(with_settings(), with_settings(definitions_version=2))
    assert c.exit_code == 3 and "definitions_version" in c.reasons[0]
    # settings of a dataset that only one run evaluated do not matter
    b, n = with_settings(), with_settings(sdr_filter_length=256)
    n["entries"] = [e for e in n["entries"] if e["dataset"] == "mini-wham"]
    del n["datasets"]["mini-2mix"]
    c = compare_summaries(b, n)
    assert c.comparable and row(c, "(entry)").status == "missing_in_new" and c.exit_code == 1


def test_cli_markdown_file_appends_and_json_file(tmp_path, capsys):
    base = write(tmp_path, "base", summary())
    same = write(tmp_path, "same", summary(run_id="run-b"))
    md, js = tmp_path / "summary.md", tmp_path / "out" / "c.json"
    md.write_text("earlier step\n")
    assert cli("compare", str(base), str(same), "--markdown-file", str(md), "--json-file", str(js)) == 0
    assert "OK" in capsys.readouterr().out  # the terminal table still goes to stdout
    assert md.read_text().startswith("earlier step\n### dsnbench compare: :white_check_mark:")
    assert json.loads(js.read_text())["verdict"] == "ok"


# --- issue 21: malformed summaries and non-finite values never read as OK or as a regression ----

@pytest.mark.parametrize("bad", [float("nan"), 1e308 * 10, -0.1])
def test_a_non_finite_or_negative_tolerance_in_a_summary_is_refused(bad):
    base = summary()
    base["metrics_meta"]["si_snri"]["tolerance"] = bad
    new = summary(entries=[entry(si_snri=5.0), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")])
    with pytest.raises(UserError, match=r"gives si_snri the tolerance .*finite number >= 0"):
        compare_summaries(base, new)


def test_a_huge_but_finite_tolerance_from_a_summary_is_used_as_given():
    base = summary()
    base["metrics_meta"]["si_snri"]["tolerance"] = 1e300
    c = compare_summaries(base, summary(entries=[entry(si_snri=5.0), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")]))
    assert row(c, "si_snri").status == "ok"   # stated, finite: the reader sees the tolerance in the table
    assert row(c, "si_snri").tolerance == 1e300


@pytest.mark.parametrize("side", ["baseline", "new"])
def test_an_infinite_mean_is_refused_not_judged(side):
    inf = [entry(si_snri=float("inf")), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")]
    base, new = (summary(entries=inf), summary()) if side == "baseline" else (summary(), summary(entries=inf))
    with pytest.raises(UserError, match=r"si_snri of dsn on mini-2mix is inf: not a value to compare"):
        compare_summaries(base, new)


@pytest.mark.parametrize("mangle", [
    lambda s: s.update(entries=[{"model": "dsn", "dataset": "mini-2mix", "operating_point": None, "metrics": "oops"}]),
    lambda s: s["entries"][0].update(metrics={"si_snri": {"mean": "abc"}}),
    lambda s: s.update(datasets=["not", "a", "mapping"]),
])
def test_wrong_types_in_a_summary_are_a_usage_error(mangle):
    bad = summary()
    mangle(bad)
    with pytest.raises(UserError, match=r"malformed summary") as err:
        compare_summaries(summary(), bad)
    assert "\n" not in str(err.value)


def test_runs_on_differently_labelled_datasets_are_not_comparable_and_nothing_regresses():
    new = summary(entries=[entry(dataset="wsj0-2mix", si_snri=1.0)],
                  datasets={"wsj0-2mix": {"manifest_hash": "hwsj", "n_utterances": 4, "sample_rate": 16000}})
    c = compare_summaries(summary(), new)
    assert c.exit_code == 3 and c.verdict == "not_comparable"
    assert any("share no dataset" in r for r in c.reasons)
    assert len(c.reasons) == len(set(c.reasons))
    assert c.regressions == [] and not any(r.regression for r in c.rows)
    text, md = c.to_text(), c.to_markdown()
    assert "REGRESSED" not in text and "#### Regressions" not in md
    assert c.to_dict()["n_regressions"] == 0


def test_a_regression_under_another_reason_is_shown_not_judged():
    n = summary(entries=[entry(si_snri=1.0), entry(op=0.5, gmacs=0.6), entry(dataset="mini-wham")])
    n["datasets"]["mini-wham"]["manifest_hash"] = "other"
    c = compare_summaries(summary(), n)
    assert c.exit_code == 3 and row(c, "si_snri").status == "regressed" and not row(c, "si_snri").regression
