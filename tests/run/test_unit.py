"""The evaluation of one utterance (dsnbench/run/unit.py): separate, price, score, rows, and
its failure policy end to end (issue 11): a bad estimate, a too-short utterance or a model that
fails on one utterance is a counted NaN or an error row with its reason; no row is lost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from dsnbench.run.config import build_config
from dsnbench.run.local_engine import run_experiment
from dsnbench.models.oracles import OracleMixture
from dsnbench.results import read_run


class _Bad(OracleMixture):
    """Returns NaN, Inf, silence or the wrong number of sources, one kind per utterance."""

    calls = 0

    def separate(self, mixture, references=None):
        _Bad.calls += 1
        sep = super().separate(mixture, references)
        kind = _Bad.calls % 4
        if kind == 1:
            sep.estimates[0, 10:20] = float("nan")
        elif kind == 2:
            sep.estimates[1, 5] = float("inf")
        elif kind == 3:
            sep.estimates = torch.zeros_like(sep.estimates)
        else:
            sep.estimates = sep.estimates[:1]
        return sep


def test_bad_estimates_are_counted_nans_with_reasons(wsj0_root, tmp_path, monkeypatch):
    from dsnbench.models import MODELS
    monkeypatch.setitem(MODELS._entries, "bad", type(MODELS.entry("oracle-mixture"))("bad", _Bad))
    _Bad.calls = 0
    cfg = build_config({"models": ["bad"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "workers": 1})
    summary = run_experiment(cfg, tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    u = run.utterances.set_index("utt_id").sort_index()
    assert len(u) == 4  # nothing dropped
    errors = list(u["error"])
    assert sum("non-finite" in e for e in errors) == 2
    assert sum("shape" in e for e in errors) == 1
    assert sum("silent estimate" in e for e in errors) == 1
    # every quality column of a bad utterance is NaN, never 0; input values stay (they describe data)
    for col in ("si_snri", "sdri", "pesqi", "stoii", "estoii"):
        assert u[col].isna().all(), col
    assert u["si_snr_input"].notna().all()
    (entry,) = summary["entries"]
    assert entry["n_utterances"]["failed"]["si_snri"] == 4
    assert entry["n_utterances"]["total"] == 4


def test_utterance_shorter_than_a_segment_and_than_pesq_accepts(tmp_path):
    from dsnbench.testing import write_wsj0_2mix
    root = write_wsj0_2mix(tmp_path / "2speakers", n=2, seconds=1.0, seed=3)
    base = root / "wav8k" / "min" / "tt"
    short = sorted((base / "mix").iterdir())[0].name
    for folder in ("mix", "s1", "s2"):  # 0.1 s: shorter than a 0.25 s segment and than PESQ's minimum
        x, sr = sf.read(str(base / folder / short))
        sf.write(str(base / folder / short), x[:800], sr, subtype="PCM_16")
    cfg = build_config({"models": ["oracle-irm"], "datasets": [{"name": "wsj0-2mix", "root": str(root)}],
                        "workers": 1})
    summary = run_experiment(cfg, tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    row = run.utterances.set_index("utt_id").loc[short.removesuffix(".wav")]
    assert np.isnan(row["pesq"]) and "pesq" in row["error"]
    assert np.isfinite(row["si_snri"])  # the other metrics still count
    (entry,) = summary["entries"]
    assert entry["n_utterances"]["failed"].get("pesq") == 1
    assert len(run.segments[run.segments["utt_id"] == short.removesuffix(".wav")]) == 1


def test_model_that_fails_on_one_utterance_gets_an_error_row(wsj0_root, tmp_path, monkeypatch):
    from dsnbench.models.oracles import OracleMixture
    original = OracleMixture.separate
    calls = {"n": 0}

    def flaky(self, mixture, references=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("out of memory")
        if calls["n"] == 3:
            return original(self, mixture[:-5], references)  # wrong shape
        return original(self, mixture, references)

    monkeypatch.setattr(OracleMixture, "separate", flaky)
    doc = {"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1}
    s = run_experiment(build_config(doc), tmp_path / "run", progress=False)
    run = read_run(tmp_path / "run")
    assert len(run.utterances) == 4  # no row dropped
    errs = run.utterances["error"].tolist()
    assert sum("out of memory" in e for e in errs) == 1
    assert sum("shape" in e for e in errs) == 1
    (e,) = s["entries"]
    assert e["n_utterances"]["evaluated"] == 2
    assert e["n_utterances"]["failed"]["separation"] == 2
    assert e["n_utterances"]["failed"]["si_snri"] == 2
    bad = run.utterances[run.utterances["error"] != ""]
    assert bad["si_snri"].isna().all() and bad["macs"].isna().all()  # NaN, never 0


# -- the evaluator itself, without an engine ------------------------------------------------

@pytest.fixture(scope="module")
def wsj0_manifest(wsj0_root):
    from dsnbench.data import load_dataset
    return load_dataset("wsj0-2mix", root=wsj0_root)


def _evaluator(sep, metrics=("si_snr",)):
    from dsnbench.results import EntryKey
    from dsnbench.run.unit import UtteranceEvaluator
    return UtteranceEvaluator(sep, EntryKey.of("oracle-mixture", "wsj0-2mix", None), 8000, metrics, None)


def test_evaluate_is_separate_then_score_then_rows(wsj0_manifest):
    from dsnbench.run.jobs import compute_metrics
    utt = wsj0_manifest.utterances[0]
    ev = _evaluator(OracleMixture())
    row, segs, result = ev.evaluate(utt)
    assert row["si_snri"] == 0.0 and row["macs"] == 0.0 and row["error"] == ""  # the mixture oracle
    assert row["model"] == "oracle-mixture" and row["dataset"] == "wsj0-2mix" and row["operating_point"] is None
    assert len(segs) == ev.separate(utt).grid.n_segments == len(result.categories)
    assert all(np.isnan(s["width"]) for s in segs)  # no trace: the fixed grid, widths unknown
    # the steps one by one (what the local engine does around its pool) give the same rows
    done = ev.separate(utt)
    row2, segs2 = ev.rows(done, compute_metrics(done.job))
    assert pd.DataFrame([row2]).equals(pd.DataFrame([row])) and pd.DataFrame(segs2).equals(pd.DataFrame(segs))
    # input metrics handed in through the lookup are used, not computed again
    seen = []
    ev.separate(utt, lambda uid, fp: seen.append((uid, fp)))
    assert seen and seen[0][0] == utt.utt_id and len(seen[0][1]) == 24


def test_unreadable_audio_and_a_metric_crash_are_error_rows(wsj0_manifest, tmp_path):
    import dataclasses
    utt = wsj0_manifest.utterances[0]
    ev = _evaluator(OracleMixture())
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF")
    row, segs, result = ev.evaluate(dataclasses.replace(utt, mixture=bad))
    assert row["error"].startswith("data: ") and segs == [] and result is None and row["permutation"] == ""
    done = ev.separate(utt)
    row, segs = ev.rows(done, None, "metrics: RuntimeError: boom")
    assert row["error"] == "metrics: RuntimeError: boom" and all(np.isnan(s["seg_si_snr"]) for s in segs)
    assert all(s["category"] is None for s in segs)
