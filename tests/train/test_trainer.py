"""Training: losses, the on-the-fly mixing set, each stage's steps, resuming, the CLI.

Everything runs on a tiny generated data root in the layout the trainer reads
(``librispeech/train-clean-100/*.flac`` + ``noise/*.wav``) and the ``tiny`` DSN preset.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from dsnbench.errors import UserError
from dsnbench.metrics.functional import si_snr
from dsnbench.testing import speechlike
from dsnbench.train import data as tdata
from dsnbench.train.config import TrainConfig
from dsnbench.train.losses import (complexity_loss, pit_si_snr, pit_si_snr_loss,
                                   segmental_quality, si_snr_pairwise)
from dsnbench.train.trainer import StepResult, build_model, evaluate, make_optimizer, train, train_step


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 'speakers' (one 2 s utterance each, 16 kHz FLAC) and two noise recordings."""
    root = tmp_path_factory.mktemp("shared_data")
    speech = root / "librispeech" / "train-clean-100"
    speech.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for spk in range(100, 112):
        sf.write(str(speech / f"{spk}-1-0000.flac"), speechlike(32000, 16000, rng), 16000, subtype="PCM_16")
    (root / "noise").mkdir()
    for k in range(2):
        sf.write(str(root / "noise" / f"n{k}.wav"), 0.05 * rng.standard_normal(48000), 16000)
    return root


def tiny_config(root: Path, stage: str, **extra) -> TrainConfig:
    d = {"name": f"tiny-{stage}", "stage": stage, "seed": 3, "steps": 4, "steps_per_epoch": 2,
         "model": {"preset": "tiny"}, "width": 0.5,
         "data": {"root": str(root), "crop_s": 0.4, "batch_size": 2, "n_val": 3, "val_s": 0.6,
                  "val_every": 4, "babble_speakers": [1, 2]},
         "optim": {"lr": 0.003, "warmup_steps": 0}}
    d.update(extra)
    return TrainConfig.from_dict(d)


# --------------------------------------------------------------------------- losses
def test_pit_si_snr_matches_the_metric_and_finds_the_permutation() -> None:
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(3, 2, 800, generator=g, dtype=torch.float64)
    est = ref.flip(1) + 0.5 * torch.randn(3, 2, 800, generator=g, dtype=torch.float64)
    res = pit_si_snr(ref, est)
    assert res.permutation.tolist() == [[1, 0]] * 3
    for b in range(3):
        expected = np.mean([si_snr(ref[b, i].numpy(), est[b, 1 - i].numpy()) for i in range(2)])
        assert float(res.si_snr[b]) == pytest.approx(expected, abs=1e-6)
    assert torch.equal(res.aligned, est.flip(1))
    assert float(pit_si_snr_loss(ref, est)) == pytest.approx(-float(res.si_snr.mean()))
    pair = si_snr_pairwise(ref, est)
    assert float(pair[0, 0, 1]) == pytest.approx(si_snr(ref[0, 0].numpy(), est[0, 1].numpy()), abs=1e-6)


def test_segmental_quality_is_high_on_reproduced_silence_and_low_on_errors() -> None:
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(1, 2, 1000, generator=g, dtype=torch.float64)
    ref[:, :, :400] = 0                                   # segments 0-1 silent in both sources
    est = ref.clone()
    est[:, :, 600:] += 0.5 * torch.randn(1, 2, 400, generator=g, dtype=torch.float64)
    q = segmental_quality(ref, est, 200, 200, 5)
    assert q.shape == (1, 5)
    assert float(q[0, :2].min()) > 30                     # silence reproduced: easy
    assert float(q[0, 3:].max()) < 10                     # noisy estimate: hard
    # scale invariance at utterance level
    assert torch.allclose(segmental_quality(ref, 3 * est, 200, 200, 5), q)
    assert segmental_quality(ref, est, 200, 200, 5, mode="local").shape == (1, 5)
    # relative mode: 0 dB = as good as the utterance; the noisy segments sit below, silence above
    rel = segmental_quality(ref, est, 200, 200, 5, mode="relative")
    assert float(rel[0, 3:].max()) < 0 < float(rel[0, :2].min())
    with pytest.raises(ValueError, match="relative"):
        segmental_quality(ref, est, 200, 200, 5, mode="nope")


def test_complexity_loss_formula() -> None:
    probs = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])      # [B=1, S=2, K=2]
    rel = torch.tensor([0.5, 1.0])
    q = torch.tensor([[10.0, 0.0]])
    gamma, tau = 5.0, 2.0
    a = torch.sigmoid((q - gamma) / tau)
    cost = torch.tensor([[0.5, 0.25 * 0.5 + 0.75]])
    expected = float((a * cost).mean())
    assert float(complexity_loss(probs, rel, q, gamma, tau)) == pytest.approx(expected)
    assert float(complexity_loss(probs, rel, None, gamma, tau)) == pytest.approx(float(cost.mean()))
    # a hard segment (low q) pays less for its width than an easy one
    p = probs.clone().requires_grad_(True)
    complexity_loss(p, rel, q, gamma, tau).backward()
    assert float(p.grad[0, 0, 1]) > float(p.grad[0, 1, 1]) > 0


# --------------------------------------------------------------------------- data
def test_training_data_is_deterministic_and_split_by_speaker(data_root: Path) -> None:
    cfg = tdata.DataConfig(root=str(data_root), crop_s=0.4, batch_size=3, n_val=2, val_s=0.5, val_every=4)
    tr = tdata.LibriMixSource(cfg, "train")
    va = tdata.LibriMixSource(cfg, "val")
    assert set(tr.speakers).isdisjoint(va.speakers) and len(va.speakers) == 3
    a = tdata.TrainStream(tr, 5).batch(7)
    b = tdata.TrainStream(tdata.LibriMixSource(cfg, "train"), 5).batch(7)
    assert torch.equal(a.mix, b.mix) and torch.equal(a.sources, b.sources)
    assert a.mix.shape == (3, 3200) and a.sources.shape == (3, 2, 3200)
    assert not torch.equal(a.mix, tdata.TrainStream(tr, 5).batch(8).mix)
    clean = ~a.noisy
    # clean mixtures are exactly the sum of their sources
    assert torch.allclose(a.mix[clean], a.sources[clean].sum(1), atol=1e-6)
    v = tdata.validation_set(va)
    assert v.mix.shape == (2, 4000) and torch.equal(v.mix, tdata.validation_set(va).mix)


def test_negative_overlap_leaves_a_silent_gap_between_the_speakers(data_root: Path) -> None:
    """overlap_range below 0: partial examples have a stretch where both sources are silent
    (so the gate stage sees silence segments), one speaker before it, the other after it."""
    cfg = tdata.DataConfig(root=str(data_root), crop_s=0.5, batch_size=1, p_partial=1.0, p_noisy=0.0,
                           overlap_range=(-0.5, -0.5))
    src = tdata.LibriMixSource(cfg, "train")
    n = 4000
    mix, sources, _ = src.example(np.random.default_rng(1), n)
    active = int(round(n / 2.5))                    # each span; the gap is n - 2 * active
    both_silent = np.all(sources == 0, axis=0)
    assert both_silent[active:n - active].all() and (n - 2 * active) == 800
    assert not both_silent[:active].all() and not both_silent[n - active:].all()
    assert np.all(mix[active:n - active] == 0)
    with pytest.raises(UserError, match="overlap_range"):
        tdata.DataConfig.from_dict({"overlap_range": [-1.5, 1.0]})


@pytest.mark.parametrize("partial", [0.0, 1.0])
def test_a_training_mixture_is_the_test_sets_mixture_of_the_same_sources_and_gains(data_root: Path,
                                                                                   partial: float) -> None:
    """One mixing rule: rebuilding each training example from what was drawn for it, with the
    functions the test-set builders use (dsnbench.data.mixing), gives the same signals; the
    relative gain is WSJ0-2mix's and the SNR WHAM!'s, measured with the test sets' level rule."""
    from dsnbench.data.activity import active_level
    from dsnbench.data.mixing import add_noise_wham, mix_wsj0_2mix, noise_power
    cfg = tdata.DataConfig(root=str(data_root), crop_s=0.5, batch_size=1, p_partial=partial, p_noisy=0.5,
                           p_babble=0.0, val_every=4)
    src = tdata.LibriMixSource(cfg, "train")
    rng = np.random.default_rng(4)
    n_noisy = 0
    for _ in range(12):
        mix, sources, noisy, draw = src.example_with_draw(rng, 4000)
        m = mix_wsj0_2mix(draw.a, draw.b, None, 8000, "min", level_db=draw.level_db)
        if noisy:
            n_noisy += 1
            m = add_noise_wham(m, draw.noise, None, 8000, snr_db=draw.snr_db)
        gain = 10 ** (draw.gain_db / 20)
        expected = (m.mix_both if noisy else m.mix) * gain
        np.testing.assert_allclose(mix, expected.astype(np.float32), rtol=0, atol=1e-7)
        np.testing.assert_allclose(sources, (np.stack([m.s1, m.s2]) * gain).astype(np.float32), rtol=0, atol=1e-7)
        rel = 10 * np.log10(active_level(m.s1, 8000) / active_level(m.s2, 8000))
        assert rel == pytest.approx(2 * draw.level_db, abs=1e-6) and 0 <= rel <= 5
        if noisy:
            snr = 10 * np.log10(active_level(m.s1, 8000) / noise_power(m.noise, 8000))
            assert snr == pytest.approx(draw.snr_db, abs=1e-6) and -6 <= snr <= 3
    assert 0 < n_noisy < 12
    # no second definition of a level or a gain is left in the training package
    import dsnbench.train as tpkg
    for f in Path(tpkg.__file__).parent.glob("*.py"):
        text = f.read_text()
        assert "def active_power" not in text and "def normalise_active" not in text, f


def test_curriculum_switches_recipe_at_the_configured_step(data_root: Path) -> None:
    cfg = tiny_config(data_root, "static", steps=9,
                      data={"root": str(data_root), "crop_s": 0.4, "batch_size": 4, "n_val": 2, "val_s": 0.5,
                            "val_every": 4, "p_noisy": 1.0, "p_partial": 1.0, "p_babble": 0.0,
                            "overlap_range": [-0.5, -0.5]},
                      curriculum=[{"until": 0.5, "p_noisy": 0.0, "p_partial": 0.0}])
    stages = tdata.curriculum_stages(cfg.data, cfg.curriculum, cfg.steps)
    assert [end for end, _ in stages] == [4]                 # floor(0.5 * 9)
    stream = tdata.TrainStream(tdata.LibriMixSource(cfg.data, "train"), cfg.seed, stages)
    for step in range(9):
        b = stream.batch(step)
        expected = stages[0][1] if step < 4 else cfg.data
        assert stream.recipe(step) == expected and stream.stage_index(step) == (0 if step < 4 else 1)
        assert (expected.p_noisy, expected.p_partial) == ((0.0, 0.0) if step < 4 else (1.0, 1.0))
        # the batch is the examples of that recipe, drawn from the step's generator
        rng = tdata._step_rng(cfg.seed, step)
        by_hand = [stream.source.example(rng, b.mix.shape[-1], expected) for _ in range(4)]
        assert torch.equal(b.mix, torch.from_numpy(np.stack([m for m, _, _ in by_hand])))
        assert bool(b.noisy.any()) == (step >= 4) and bool(b.noisy.all()) == (step >= 4)
    with pytest.raises(UserError, match="until"):
        tiny_config(data_root, "static", curriculum=[{"until": 1.5}])
    with pytest.raises(UserError, match="unknown key"):
        tiny_config(data_root, "static", curriculum=[{"until": 0.5, "crop_s": 1.0}])
    # the default (no curriculum) keeps the hashes of configs written before the key existed
    assert "curriculum" not in json.dumps(tiny_config(data_root, "static").hash())


def test_evaluation_subsets_are_refused(tmp_path: Path) -> None:
    from dsnbench.errors import UserError
    (tmp_path / "librispeech" / "test-other").mkdir(parents=True)
    with pytest.raises(UserError, match="train-clean-100"):
        tdata.LibriMixSource(tdata.DataConfig(root=str(tmp_path)), "train")


# --------------------------------------------------------------------------- stages
def _overfit(cfg: TrainConfig, model, n: int = 10) -> list[float]:
    torch.manual_seed(0)
    src = tdata.LibriMixSource(cfg.data, "train")
    batch = tdata.TrainStream(src, 0).batch(0)
    opt, _ = make_optimizer(cfg, model)
    losses = []
    for step in range(n):
        torch.manual_seed(step)
        opt.zero_grad()
        losses.append(train_step(cfg, model, batch, step).loss)
        opt.step()
    return losses


@pytest.mark.parametrize("stage", ["static", "supernet"])
def test_a_few_steps_decrease_the_loss(data_root: Path, stage: str) -> None:
    cfg = tiny_config(data_root, stage)
    losses = _overfit(cfg, build_model(cfg, Path.cwd()))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.5, losses


@pytest.fixture(scope="module")
def tiny_supernet(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("supernet")
    cfg = tiny_config(data_root, "supernet", steps=4, steps_per_epoch=4)
    train(cfg, out, progress=False, log=lambda m: None)
    return out / "tiny-supernet.safetensors"


@pytest.mark.parametrize("paths", ["chosen", "all"])
def test_gate_stage_steps_decrease_the_loss(data_root: Path, tiny_supernet: Path, paths: str) -> None:
    cfg = tiny_config(data_root, "gate", gate={"init": str(tiny_supernet), "lam": 0.5,
                                               "finetune_lr": 0.003, "paths": paths})
    losses = _overfit(cfg, build_model(cfg, Path.cwd()))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.3, losses


def test_complexity_loss_pushes_the_mean_width_down(data_root: Path, tiny_supernet: Path) -> None:
    widths = []
    for lam in (0.0, 0.3, 20.0):
        cfg = tiny_config(data_root, "gate", optim={"lr": 0.05, "warmup_steps": 0},
                          gate={"init": str(tiny_supernet), "lam": lam, "gamma": -100.0,
                                "finetune_lr": 0.0, "gumbel_tau": 1.0, "gumbel_tau_final": 1.0})
        model = build_model(cfg, Path.cwd())
        _overfit(cfg, model, n=15)
        val = tdata.validation_set(tdata.LibriMixSource(cfg.data, "val"))
        widths.append(evaluate(model, val, "gate")["mean_width"])
    assert widths[0] >= widths[1] >= widths[2], widths
    assert widths[0] > widths[2] and widths[2] <= 0.3, widths


def test_gate_paths_is_checked_and_its_default_keeps_old_config_hashes(data_root: Path,
                                                                      tiny_supernet: Path) -> None:
    with pytest.raises(UserError, match="gate.paths must be"):
        tiny_config(data_root, "gate", gate={"init": str(tiny_supernet), "paths": "some"})
    plain = tiny_config(data_root, "gate", gate={"init": str(tiny_supernet)})
    chosen = tiny_config(data_root, "gate", gate={"init": str(tiny_supernet), "paths": "chosen"})
    every = tiny_config(data_root, "gate", gate={"init": str(tiny_supernet), "paths": "all"})
    assert plain.hash() == chosen.hash() != every.hash()
    # a state written before the key existed still resumes: its hash is that of the dict without it
    import hashlib, json
    d = plain.to_dict()
    d.pop("device")
    d.pop("data_workers")                  # never hashed, like the device
    d["gate"].pop("paths")
    d["gate"].pop("anchor")                # likewise
    d.pop("average_last")                  # a later key too, at its default
    for key in ("precision", "curriculum", "fused_attention"):   # and these
        d.pop(key)
    d["data"].pop("pack")
    assert hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16] == plain.hash()


def test_gate_anchor_adds_the_fixed_width_sandwich_loss_to_the_gradient(data_root: Path,
                                                                       tiny_supernet: Path) -> None:
    """anchor a: the gradient is the plain gate step's plus a/2 x that of the separation loss at
    the widest and at the narrowest fixed width; it is refused without fine-tuning."""
    base = {"init": str(tiny_supernet), "lam": 5.0, "finetune_lr": 0.003}
    with pytest.raises(UserError, match="needs gate.finetune_lr > 0"):
        tiny_config(data_root, "gate", gate={**base, "finetune_lr": 0.0, "anchor": 1.0})
    with pytest.raises(UserError, match="gate.anchor must be >= 0"):
        tiny_config(data_root, "gate", gate={**base, "anchor": -1.0})
    plain = tiny_config(data_root, "gate", gate=base)
    anchored = tiny_config(data_root, "gate", gate={**base, "anchor": 0.6})
    assert anchored.hash() != plain.hash()
    batch = tdata.TrainStream(tdata.LibriMixSource(plain.data, "train"), 0).batch(0)

    def grads(cfg: TrainConfig) -> tuple[dict[str, torch.Tensor], StepResult]:
        model = build_model(cfg, Path.cwd())
        torch.manual_seed(11)
        res = train_step(cfg, model, batch, 0)
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, res

    g_plain, r_plain = grads(plain)
    g_anch, r_anch = grads(anchored)
    model = build_model(plain, Path.cwd())
    widths = model.config.reported_widths
    fixed = [-pit_si_snr(batch.sources, model(batch.mix, width=widths[k]).estimates).si_snr.mean()
             for k in (len(widths) - 1, 0)]
    (0.3 * (fixed[0] + fixed[1])).backward()
    g_fixed = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(g_anch) == set(g_plain) | set(g_fixed)
    moved = 0
    for name, g in g_anch.items():
        expect = g_plain.get(name, 0) + g_fixed.get(name, 0)
        assert torch.allclose(g, expect, atol=1e-6, rtol=1e-4), name
        moved += int(name in g_fixed and g_fixed[name].abs().max() > 0)
    assert moved > 10
    assert r_anch.sep == pytest.approx(r_plain.sep, abs=1e-6)
    assert r_anch.loss == pytest.approx(r_plain.loss + 0.3 * float((fixed[0] + fixed[1]).detach()), abs=1e-4)


def test_weighted_complexity_loss_spares_hard_segments(data_root: Path, tiny_supernet: Path) -> None:
    """With gamma far above every q_s all segments are 'hard' (a_s ~ 0): no push to narrow."""
    cfg = tiny_config(data_root, "gate", gate={"init": str(tiny_supernet), "lam": 20.0, "gamma": 200.0,
                                               "tau": 1.0, "finetune_lr": 0.0})
    model = build_model(cfg, Path.cwd())
    src = tdata.LibriMixSource(cfg.data, "train")
    batch = tdata.TrainStream(src, 0).batch(0)
    res = train_step(cfg, model, batch, 0)
    assert res.cplx < 1e-6


# --------------------------------------------------------------------------- resume, CLI
def _final_state(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "state.pt", weights_only=True)


@pytest.mark.parametrize("extra", [{}, {"precision": "bf16", "curriculum": [{"until": 0.5, "p_noisy": 0.0}]}],
                         ids=["fp32", "bf16-curriculum"])
def test_resume_continues_at_the_same_step_with_the_same_result(data_root: Path, tmp_path: Path,
                                                                extra: dict) -> None:
    cfg = tiny_config(data_root, "supernet", steps=4, steps_per_epoch=2, **extra)
    quiet = dict(progress=False, log=lambda m: None)
    straight = train(cfg, tmp_path / "a", **quiet)
    part = train(cfg, tmp_path / "b", stop_after=2, **quiet)
    assert part.steps == 2 and part.exported is None
    assert not (tmp_path / "b" / "tiny-supernet.safetensors").exists()
    resumed = train(cfg, tmp_path / "b", resume=True, **quiet)
    assert resumed.steps == 4
    sa, sb = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    assert sa["step"] == sb["step"] == 4
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]
    assert strip(straight.rows) == strip(resumed.rows)
    assert straight.final_val["si_snri"] == resumed.final_val["si_snri"]


def test_provenance_names_the_code_that_started_the_training(data_root: Path, tmp_path: Path,
                                                            monkeypatch) -> None:
    """The checkpoint's code_version is the one at the first start (kept across a resume); a
    different one at export time is recorded beside it, not in its place."""
    from dsnbench.models.checkpoint import read_header
    from dsnbench.train import trainer
    versions = iter([{"dsnbench": "x", "git_commit": "a" * 40, "git_dirty": True},    # first start
                     {"dsnbench": "x", "git_commit": "b" * 40, "git_dirty": False},   # resume
                     {"dsnbench": "x", "git_commit": "b" * 40, "git_dirty": False}])  # export
    monkeypatch.setattr(trainer, "code_version", lambda: next(versions))
    cfg = tiny_config(data_root, "static", steps=2, steps_per_epoch=1)
    quiet = dict(progress=False, log=lambda m: None)
    train(cfg, tmp_path / "r", stop_after=1, **quiet)
    done = train(cfg, tmp_path / "r", resume=True, **quiet)
    assert done.steps == 2
    prov = read_header(tmp_path / "r" / "tiny-static.safetensors")["provenance"]
    assert prov["code_version"]["git_commit"] == "a" * 40 and prov["code_version"]["git_dirty"] is True
    assert prov["code_version_at_export"]["git_commit"] == "b" * 40


def test_cli_trains_exports_and_refuses_to_overwrite(data_root: Path, tmp_path: Path, capsys) -> None:
    import yaml
    from dsnbench.cli import main
    from dsnbench.models.checkpoint import load_checkpoint
    cfg = tiny_config(data_root, "static", steps=2, steps_per_epoch=1, export=str(tmp_path / "bundle"))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    assert main(["train", str(path), "--out", str(tmp_path / "o")]) == 0
    ck = load_checkpoint(tmp_path / "bundle" / "tiny-static.safetensors")
    assert ck.family == "static" and ck.config.static_width == 0.5
    assert ck.provenance["steps"] == 2 and "val_si_snri" in ck.provenance
    assert (tmp_path / "bundle" / "training" / "tiny-static.csv").read_text().count("\n") == 3
    assert main(["train", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", str(path), "--out", str(tmp_path / "o"), "--resume"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstage: static\nlearning_rate: 1\n")
    assert main(["train", str(bad)]) == 2
    assert "learning_rate" in capsys.readouterr().err


def test_cli_set_and_steps_override_the_config_and_a_missing_init_leaves_no_folder(
        data_root: Path, tiny_supernet: Path, tmp_path: Path, capsys) -> None:
    """--set KEY=VALUE reaches nested keys (gate.init, data.batch_size); --steps shrinks
    average_last to the epochs it leaves, saying so; a gate whose init is not there is one line
    before any folder exists; a malformed --set is one line."""
    import yaml
    from dsnbench.cli import main
    d = tiny_config(data_root, "gate", steps=6, steps_per_epoch=2, average_last=3,
                    gate={"init": str(tmp_path / "absent.safetensors")}).to_dict()
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(d))
    assert main(["train", str(path), "--out", str(tmp_path / "refused"), "--no-export"]) == 2
    err = capsys.readouterr().err
    assert "absent.safetensors: no such checkpoint file (gate.init" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "refused").exists()
    assert main(["train", str(path), "--out", str(tmp_path / "o"), "--no-export", "--steps", "2",
                 "--set", f"gate.init={tiny_supernet}", "--set", "data.batch_size=1"]) == 0
    out = capsys.readouterr().out
    assert "averaging the last 1, not 3" in out
    written = yaml.safe_load((tmp_path / "o" / "config.yaml").read_text())
    assert written["gate"]["init"] == str(tiny_supernet) and written["data"]["batch_size"] == 1
    assert written["steps"] == 2 and written["average_last"] == 1
    for bad, says in ((["--set", "steps.x=1"], "steps is 6, not a mapping"), (["--set", "gate"], "KEY=VALUE")):
        assert main(["train", str(path), "--out", str(tmp_path / "x")] + bad) == 2
        assert says in capsys.readouterr().err
        assert not (tmp_path / "x").exists()


def test_checkpoint_averaging_exports_the_mean_of_the_last_epochs_and_resumes(data_root: Path,
                                                                              tmp_path: Path) -> None:
    """average_last: 2 of 3 epochs exports (w_epoch2 + w_epoch3) / 2, validated as such; a
    training stopped inside the averaged epochs resumes to the same bytes; 0 keeps old hashes."""
    from dsnbench.models.checkpoint import load_checkpoint, read_header
    quiet = dict(progress=False, log=lambda m: None)
    cfg = tiny_config(data_root, "static", steps=6, steps_per_epoch=2, average_last=2)
    assert tiny_config(data_root, "static").hash() == tiny_config(data_root, "static", average_last=0).hash()
    assert cfg.hash() != tiny_config(data_root, "static", steps=6, steps_per_epoch=2).hash()
    with pytest.raises(UserError, match="average_last"):
        tiny_config(data_root, "static", steps=6, steps_per_epoch=2, average_last=4)
    straight = train(cfg, tmp_path / "a", **quiet)
    train(cfg, tmp_path / "b", stop_after=4, **quiet)
    w4 = _final_state(tmp_path / "b")["model"]
    train(cfg, tmp_path / "b", resume=True, **quiet)
    w6 = _final_state(tmp_path / "b")["model"]
    a = load_checkpoint(tmp_path / "a" / "tiny-static.safetensors").state_dict
    b = load_checkpoint(tmp_path / "b" / "tiny-static.safetensors").state_dict
    changed = 0
    for k, v in a.items():
        assert torch.equal(v, b[k]), k
        mean = ((w4[k].double() + w6[k].double()) / 2).to(v.dtype)
        assert torch.allclose(v, mean, atol=1e-7), k
        changed += int(not torch.equal(v, w6[k]))
    assert changed > 0                      # the export is not simply the last weights
    prov = read_header(tmp_path / "a" / "tiny-static.safetensors")["provenance"]
    assert prov["averaged"]["epochs"] == 2
    model = build_model(tiny_config(data_root, "static"), Path.cwd())
    model.load_state_dict(a)
    val = tdata.validation_set(tdata.LibriMixSource(cfg.data, "val"))
    assert evaluate(model, val, "static")["mean"] == pytest.approx(prov["val_si_snri"], abs=1e-6)
    assert straight.rows[-1]["epoch"] == "avg2" and len(straight.rows) == 4
    assert straight.rows[-1]["val_si_snri"] == pytest.approx(prov["val_si_snri"], abs=1e-5)


def test_paper_scale_sources_read_the_published_training_layouts(tmp_path: Path, monkeypatch) -> None:
    from dsnbench.errors import UserError
    from dsnbench.testing import write_wham
    for split in ("tr", "cv"):
        write_wham(tmp_path / "wham", n=3, split=split, seconds=0.5, seed=1 if split == "tr" else 2)
    monkeypatch.setenv("WHAM_TEST_ROOT", str(tmp_path / "wham"))
    cfg = tdata.DataConfig(source="wham", root="${WHAM_TEST_ROOT}", crop_s=0.3, batch_size=2, n_val=2, val_s=0.3)
    tr = tdata.make_source(cfg, "train")
    b = tdata.TrainStream(tr, 0).batch(0)
    assert b.mix.shape == (2, 2400) and b.sources.shape == (2, 2, 2400) and bool(b.noisy.all())
    assert tdata.validation_set(tdata.make_source(cfg, "val")).mix.shape == (2, 2400)
    monkeypatch.delenv("WHAM_TEST_ROOT")
    with pytest.raises(UserError, match="WHAM_TEST_ROOT"):
        tdata.make_source(cfg, "train")
    with pytest.raises(UserError, match="folder missing|does not exist"):
        tdata.make_source(tdata.DataConfig(source="wsj0-2mix", root=str(tmp_path / "wham")), "train")


def test_gate_stage_with_sgd_resumes_exactly(data_root: Path, tiny_supernet: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_root, "gate", steps=4, steps_per_epoch=2, optim={"lr": 0.05, "warmup_steps": 0},
                      gate={"init": str(tiny_supernet), "lam": 1.0, "optimizer": "sgd", "finetune_lr": 0.001})
    quiet = dict(progress=False, log=lambda m: None)
    train(cfg, tmp_path / "a", **quiet)
    train(cfg, tmp_path / "b", stop_after=2, **quiet)
    train(cfg, tmp_path / "b", resume=True, **quiet)
    sa, sb = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    from dsnbench.models.checkpoint import load_checkpoint
    ck = load_checkpoint(tmp_path / "a" / "tiny-gate.safetensors")
    assert ck.family == "dsn" and ck.operating_points and ck.operating_points[0] == 0.0


def test_second_phase_starts_from_the_first_phase_weights(data_root: Path, tmp_path: Path) -> None:
    from dsnbench.errors import UserError
    from dsnbench.models.checkpoint import load_checkpoint
    quiet = dict(progress=False, log=lambda m: None)
    first = tiny_config(data_root, "static", steps=2, steps_per_epoch=2)
    train(first, tmp_path / "p1", **quiet)
    p1 = tmp_path / "p1" / "tiny-static.safetensors"
    second = tiny_config(data_root, "static", steps=2, steps_per_epoch=2, init=str(p1))
    model = build_model(second, Path.cwd())
    start = load_checkpoint(p1).state_dict
    assert all(torch.equal(model.state_dict()[k], v) for k, v in start.items())
    train(second, tmp_path / "p2", **quiet)
    prov = load_checkpoint(tmp_path / "p2" / "tiny-static.safetensors").provenance
    assert prov["init"]["steps"] == 2 and prov["total_steps"] == 4
    wrong = tiny_config(data_root, "static", width=1.0, init=str(p1))
    with pytest.raises(UserError, match="architecture differs"):
        build_model(wrong, Path.cwd())


def _width_gain_and_gate_config(data_root: Path, tiny_supernet: Path, tmp_path: Path):
    """experiments/train/width_gain.py as a module, and a tiny gate config on ``tiny_supernet``
    written to ``tmp_path/gate.yaml`` (whose validation mixtures the script reads)."""
    import importlib.util
    import yaml
    spec = importlib.util.spec_from_file_location(
        "width_gain", Path(__file__).resolve().parents[2] / "experiments" / "train" / "width_gain.py")
    wg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wg)
    cfg = tiny_config(data_root, "gate", gate={"init": str(tiny_supernet)})
    (tmp_path / "gate.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    return wg, cfg


def test_width_gain_script_measures_each_chunk_against_the_narrow_baseline(
        data_root: Path, tiny_supernet: Path, tmp_path: Path, capsys) -> None:
    """experiments/train/width_gain.py: one gain per chunk, labelled with the benchmark's
    categories, and a one-chunk gain is exactly the score change of that one forced width."""
    wg, cfg = _width_gain_and_gate_config(data_root, tiny_supernet, tmp_path)
    from dsnbench.models.checkpoint import load_checkpoint
    model = load_checkpoint(tiny_supernet).build_model().eval()
    val = tdata.validation_set(tdata.LibriMixSource(cfg.data, "val"))
    mix, src = val.mix[:1], val.sources[:1]
    with torch.no_grad():
        gains, all_wide = wg.chunk_gains(model, mix, src)
        n_seg = model.n_segments(mix.shape[1])
        assert gains.shape == (n_seg,) and np.isfinite(gains).all()
        narrow = torch.zeros(1, n_seg, dtype=torch.long)
        w = narrow.clone()
        w[0, 1] = 3
        score = lambda ws: pit_si_snr(src, model(mix, widths=ws).estimates).si_snr.item()
        assert gains[1] == pytest.approx(score(w) - score(narrow), abs=1e-9)
        assert all_wide == pytest.approx(score(narrow + 3) - score(narrow), abs=1e-9)
    wg.main(["--checkpoint", str(tiny_supernet), "--config", str(tmp_path / "gate.yaml"), "--n", "2",
             "--csv", str(tmp_path / "g.csv")])
    out = capsys.readouterr().out
    assert "all chunks widened at once" in out
    import pandas as pd
    table = pd.read_csv(tmp_path / "g.csv")
    assert len(table) == 2 * n_seg and set(table["category"]) <= {"silence", "one", "overlap"}
    # an unfinished training's resume state: the same weights here (the export is the last state)
    wg.main(["--state", str(tiny_supernet.parent / "state.pt"), "--train-config",
             str(tiny_supernet.parent / "config.yaml"), "--config", str(tmp_path / "gate.yaml"), "--n", "2",
             "--csv", str(tmp_path / "s.csv")])
    assert "state.pt (step 4)" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "s.csv").equals(table)
    # --whole: the whole network at the narrowest and the widest width, per segment
    wg.main(["--checkpoint", str(tiny_supernet), "--config", str(tmp_path / "gate.yaml"), "--n", "2",
             "--whole", "--csv", str(tmp_path / "w.csv")])
    assert "whole network" in capsys.readouterr().out
    whole = pd.read_csv(tmp_path / "w.csv")
    assert len(whole) == 2 * n_seg and set(whole["set"]) == {"validation"}
    with torch.no_grad():
        narrow0, wide0 = wg.segment_errors(model, mix, src, 0), wg.segment_errors(model, mix, src, 3)
        # by hand: PIT-aligned estimate scaled onto its reference, error power per segment
        est = pit_si_snr(src, model(mix, widths=torch.full((1, n_seg), 3, dtype=torch.long)).estimates).aligned
    assert narrow0.shape == (2, n_seg)
    np.testing.assert_allclose(whole["error_narrowest"][:n_seg], narrow0.sum(0), rtol=1e-5)
    np.testing.assert_allclose(whole["gain_db"][:n_seg], 10 * np.log10(narrow0.sum(0) / wide0.sum(0)), rtol=1e-5)
    s = (src - src.mean(-1, keepdim=True))[0].double().numpy()
    e = (est - est.mean(-1, keepdim=True))[0].double().numpy()
    err = e * ((s * s).sum(-1) / (s * e).sum(-1))[:, None] - s
    L, H = model.config.segment_length, model.config.segment_hop
    seg1 = err[:, H:H + L]
    seg1 = np.pad(seg1, ((0, 0), (0, L - seg1.shape[1])))
    np.testing.assert_allclose(wide0[:, 1], (seg1 ** 2).mean(-1) / (s ** 2).mean(), rtol=1e-4)


def test_gate_widths_script_reports_each_category_of_the_validation_segments(
        data_root: Path, tiny_supernet: Path, tmp_path: Path, capsys) -> None:
    """experiments/train/gate_widths.py: every validation segment once per beta, with the width
    the gate chose for it, and a summary whose means are those of the rows."""
    import importlib.util
    import yaml
    spec = importlib.util.spec_from_file_location(
        "gate_widths", Path(__file__).resolve().parents[2] / "experiments" / "train" / "gate_widths.py")
    gw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gw)
    cfg = tiny_config(data_root, "gate", steps=2, steps_per_epoch=2, gate={"init": str(tiny_supernet), "lam": 1.0})
    train(cfg, tmp_path / "g", progress=False, log=lambda m: None)
    gate = tmp_path / "g" / "tiny-gate.safetensors"
    (tmp_path / "gate.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    from dsnbench.models.checkpoint import load_checkpoint
    model = load_checkpoint(gate).build_model().eval()
    val = tdata.validation_set(tdata.LibriMixSource(cfg.data, "val"))
    d = gw.segment_widths(model, val, cfg.data.sample_rate, [0.0, 100.0])
    n_seg = sum(model.n_segments(val.mix.shape[1]) for _ in range(val.mix.shape[0]))
    assert len(d) == 2 * n_seg and set(d["width"]) <= set(model.config.reported_widths)
    with torch.no_grad():
        first = model(val.mix[:1], gate_mode="infer", beta=0.0).width_idx[0]
    widths = torch.as_tensor(model.config.reported_widths)[first].tolist()
    assert d[(d.beta == 0.0) & (d.mixture == 0)]["width"].tolist() == pytest.approx(widths)
    # a huge beta pushes every segment to the narrowest width
    assert (d[d.beta == 100.0]["width"] == min(model.config.reported_widths)).all()
    t = gw.summary(d)
    for cat in t.columns.intersection(["overlap", "one", "silence"]):
        want = d[(d.beta == 0.0) & (d.category == cat)]["width"].mean()
        assert t.loc[(0.0, "all"), cat] == pytest.approx(want)
    gw.main([str(gate), "--config", str(tmp_path / "gate.yaml"), "--betas", "0", "--csv", str(tmp_path / "w.csv")])
    assert "tiny-gate.safetensors" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "w.csv")) == n_seg


def test_pick_seed_script_chooses_by_validation_and_installs_the_choice(
        data_root: Path, tmp_path: Path, capsys) -> None:
    """experiments/train/pick_seed.py: per model name the run with the best validation SI-SNRi
    of its exported weights is chosen (ties to the lower seed), installed as dsnbench train
    exports it, and runs of different recipes are refused rather than compared."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "pick_seed", Path(__file__).resolve().parents[2] / "experiments" / "train" / "pick_seed.py")
    ps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ps)
    folders = []
    for seed in (3, 4, 5):
        cfg = tiny_config(data_root, "static", seed=seed, steps=2, steps_per_epoch=2)
        train(cfg, tmp_path / f"s{seed}", progress=False, log=lambda m: None)
        folders.append(tmp_path / f"s{seed}")
    runs = [ps.read_run(f) for f in folders]
    vals = [r["val_si_snri"] for r in runs]
    assert len(set(vals)) == 3  # different data streams give different weights
    table = ps.choose(list(reversed(runs)))  # argument order does not matter
    assert table["seed"].tolist() == [3, 4, 5]
    assert table.loc[table["chosen"], "seed"].tolist() == [3 + vals.index(max(vals))]
    # a tie goes to the lower seed
    tied = [dict(r, val_si_snri=1.0) for r in runs]
    assert ps.choose(tied).loc[lambda t: t["chosen"], "seed"].tolist() == [3]
    assert ps.main([str(f) for f in folders] + ["--install", str(tmp_path / "bundle")]) == 0
    out = capsys.readouterr().out
    assert "<- chosen" in out and "over 3 seeds" in out
    best = folders[vals.index(max(vals))]
    installed = tmp_path / "bundle" / "tiny-static.safetensors"
    assert installed.read_bytes() == (best / "tiny-static.safetensors").read_bytes()
    assert (tmp_path / "bundle" / "training" / "tiny-static.csv").read_text() == (best / "log.csv").read_text()
    # another recipe under the same name is not a seed of this one
    other = tiny_config(data_root, "static", seed=6, steps=2, steps_per_epoch=2, optim={"lr": 0.001})
    train(other, tmp_path / "lr", progress=False, log=lambda m: None)
    assert ps.main([str(folders[0]), str(tmp_path / "lr")]) == 2
    assert "only the seed may differ" in capsys.readouterr().err
    assert ps.main([str(folders[0]), str(folders[0])]) == 2
    assert "two runs of tiny-static with seed 3" in capsys.readouterr().err


def test_seed_spread_script_groups_runs_by_provenance_and_averages_over_seeds(
        wsj0_root: Path, tmp_path: Path, capsys) -> None:
    """experiments/train/seed_spread.py on a real run of four checkpoints (two widths x two
    seeds, told apart only by their provenance): per-seed means, the spread across seeds and
    the seed-averaged paired gap are those of the utterance table."""
    import importlib.util
    from dsnbench.run.config import build_config
    from dsnbench.run.local_engine import run_experiment
    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    from dsnbench.results import read_run
    spec = importlib.util.spec_from_file_location(
        "seed_spread", Path(__file__).resolve().parents[2] / "experiments" / "train" / "seed_spread.py")
    ss = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ss)
    models = []
    for w in (0.5, 0.25):  # listed narrow-last: the order must come from the widths
        for seed in (1, 2):
            torch.manual_seed(100 * seed + int(w * 4))
            net = DualPathDSN(DSNConfig.preset("tiny").static_at(w)).eval()
            # a made-up validation value (these nets are untrained): seed 2 is "better" at 0.25 only
            val = None if (w, seed) == (0.5, 2) else {(0.25, 1): 1.0, (0.25, 2): 2.0, (0.5, 1): 3.0}[(w, seed)]
            prov = {"name": f"static-{w:g}", "seed": seed, "training_config": {}, "steps": 0,
                    "data": "untrained: random init", "val_si_snr": None, "val_si_snri": val}
            path = save_checkpoint(tmp_path / f"s{seed}" / f"static-{w:g}.safetensors", net, "static", prov)
            models.append({"name": str(path), "label": f"w{w:g}-run{seed}"})
    doc = {"models": models, "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
           "metrics": ["si_snr"], "workers": 1, "limit": 3}
    run_experiment(build_config(doc), tmp_path / "run", progress=False)
    utt = read_run(tmp_path / "run").utterances
    assert ss.main([str(tmp_path / "run"), "--csv", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    means = pd.read_csv(tmp_path / "m.csv")
    direct = utt.groupby("model")["si_snri"].mean()
    for w in ("0.25", "0.5"):
        for seed in (1, 2):
            got = means[(means.group == f"static-{w}") & (means.seed == seed)]["mean"].item()
            assert got == pytest.approx(direct[f"w{w}-run{seed}"])
    assert direct.nunique() == 4
    # the gap is between the seed-averaged utterance values, wider minus narrower
    avg = {w: (utt[utt.model == f"w{w}-run1"].set_index("utt_id")["si_snri"]
               + utt[utt.model == f"w{w}-run2"].set_index("utt_id")["si_snri"]) / 2 for w in ("0.25", "0.5")}
    runs = ss.runs_of(read_run(tmp_path / "run").summary)
    g = ss.gaps(utt, runs, ss.per_seed(utt, runs, "si_snri"), "si_snri", ["static-0.25", "static-0.5"])
    assert g["diff_b_minus_a"].item() == pytest.approx((avg["0.5"] - avg["0.25"]).mean())
    wins = sum(direct[f"w0.5-run{b}"] > direct[f"w0.25-run{a}"] for a in (1, 2) for b in (1, 2))
    assert g["seed_pairs_b_higher"].item() == f"{wins}/4"
    sd = ss.spread(ss.per_seed(utt, runs, "si_snri"), ["static-0.25", "static-0.5"])
    assert sd["sd"].iloc[0] == pytest.approx(np.std([direct["w0.25-run1"], direct["w0.25-run2"]], ddof=1))
    assert "static-0.25" in out and "seed_pairs_b_higher" in out
    # validation against test: three runs carry a value; only static-0.25 has two of them
    agree = ss.validation_agreement(ss.per_seed(utt, runs, "si_snri"), runs)
    assert agree["n_runs"].item() == 3
    test_of = {k: direct[k] for k in ("w0.25-run1", "w0.25-run2", "w0.5-run1")}
    expect = pd.Series([1.0, 2.0, 3.0]).rank().corr(pd.Series(list(test_of.values())).rank())
    assert agree["spearman_val_test"].item() == pytest.approx(expect)
    best = int(direct["w0.25-run2"] > direct["w0.25-run1"])
    assert agree["val_pick_is_test_best"].item() == f"{best}/1"
    assert "spearman_val_test" in out
    assert ss.main([str(tmp_path / "run"), "--order", "static-9"]) == 2
    assert "static-9" in capsys.readouterr().err


# --------------------------------------------------------------------------- precision, kernels, deadline
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BUNDLED_STATIC = Path(__file__).resolve().parents[2] / "dsnbench" / "assets" / "checkpoints" / "static-1.0.safetensors"


def _grads(model: torch.nn.Module, batch: tdata.Batch, bf16: bool) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        est = model(batch.mix).estimates
    pit_si_snr_loss(batch.sources, est.float()).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.skipif(not (SHARED / "librispeech" / "train-clean-100").is_dir() or not BUNDLED_STATIC.is_file(),
                    reason="needs ../shared/data and the bundled static-1.0")
def test_bf16_gradients_agree_with_fp32_on_a_real_batch() -> None:
    """precision: bf16 trains the bundled architecture with the gradient fp32 would give: on
    real training batches through the bundled (trained) static-1.0 and a fresh one, the cosine
    between the bf16-autocast and the fp32 gradient is at least 0.999."""
    from dsnbench.train.checkpoints import load_model
    from dsnbench.models.dualpath import DualPathDSN
    cfg = tdata.DataConfig(root=str(SHARED), crop_s=2.0, batch_size=4)
    stream = tdata.TrainStream(tdata.LibriMixSource(cfg, "train"), 3)
    trained = load_model(BUNDLED_STATIC)
    torch.manual_seed(0)
    fresh = DualPathDSN(trained.config)
    for model in (trained, fresh):
        for step in (0, 1):
            batch = stream.batch(step)
            g32, g16 = _grads(model, batch, False), _grads(model, batch, True)
            cos = float(torch.nn.functional.cosine_similarity(g32, g16, dim=0))
            assert cos >= 0.999, (step, cos)
            assert not torch.equal(g32, g16)          # bf16 really ran


def test_bf16_config_runs_the_forward_under_autocast_and_keeps_float32_weights(data_root: Path,
                                                                              tmp_path: Path) -> None:
    cfg = tiny_config(data_root, "static", precision="bf16")
    with pytest.raises(UserError, match="precision"):
        tiny_config(data_root, "static", precision="fp8")
    model = build_model(cfg, Path.cwd())
    seen: dict[str, tuple[bool, torch.dtype]] = {}

    def record(name: str):
        def hook(module, inputs, output) -> None:
            seen.setdefault(name, (torch.is_autocast_enabled("cpu"), output.dtype))
        return hook
    hooks = [getattr(model, name).register_forward_hook(record(name)) for name in ("encoder", "decoder")]
    hooks.append(model.blocks[0].intra[0].register_forward_hook(record("intra")))
    batch = tdata.TrainStream(tdata.LibriMixSource(cfg.data, "train"), 1).batch(0)
    train_step(cfg, model, batch, 0)
    for h in hooks:
        h.remove()
    # the dual-path blocks run under bf16 autocast, the waveform's path in and out in float32
    assert seen == {"encoder": (False, torch.float32), "intra": (True, torch.float32),
                    "decoder": (False, torch.float32)}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.grad.dtype == torch.float32 for p in model.parameters() if p.grad is not None)
    res = train(cfg, tmp_path / "bf16", progress=False, log=lambda m: None)
    assert res.steps == cfg.steps and np.isfinite(res.final_val["mean"])


def test_precision_override_runs_the_steps_in_it_and_leaves_config_hash_and_resume_alone(
        data_root: Path, tmp_path: Path) -> None:
    """train(precision=...) (`dsnbench train --precision`): a bf16 config trained with fp32
    steps gives the fp32 config's weights bit for bit, keeps its own hash (so it resumes), and
    a lineage switched half-way records from which step each precision ran."""
    from dsnbench.models.checkpoint import load_checkpoint
    quiet = dict(progress=False, log=lambda m: None)
    bf16 = tiny_config(data_root, "static", steps=4, steps_per_epoch=2, precision="bf16")
    fp32 = tiny_config(data_root, "static", steps=4, steps_per_epoch=2)
    assert bf16.hash() != fp32.hash()
    train(fp32, tmp_path / "fp32", **quiet)
    train(bf16, tmp_path / "forced", precision="fp32", **quiet)
    a, b = _final_state(tmp_path / "fp32"), _final_state(tmp_path / "forced")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert b["config_hash"] == bf16.hash() and b["precision_runs"] == [[0, "fp32"]]
    # half in bf16, then resumed in fp32 (the config unchanged): the switch is recorded
    train(bf16, tmp_path / "switched", stop_after=2, **quiet)
    assert _final_state(tmp_path / "switched")["precision_runs"] == [[0, "bf16"]]
    train(bf16, tmp_path / "switched", resume=True, precision="fp32", **quiet)
    prov = load_checkpoint(tmp_path / "switched" / "tiny-static.safetensors").provenance
    assert prov["precision"] == "bf16" and prov["precision_runs"] == [[0, "bf16"], [2, "fp32"]]
    # resuming the finished training (a lane re-exporting it) on a machine of the other
    # precision runs no step, so it records none
    train(bf16, tmp_path / "switched", resume=True, **quiet)
    prov = load_checkpoint(tmp_path / "switched" / "tiny-static.safetensors").provenance
    assert prov["precision_runs"] == [[0, "bf16"], [2, "fp32"]]
    assert "precision_runs" not in load_checkpoint(tmp_path / "fp32" / "tiny-static.safetensors").provenance
    with pytest.raises(UserError, match="precision"):
        train(fp32, tmp_path / "bad", precision="fp16", **quiet)


def test_fused_attention_is_the_same_function_and_training_only(data_root: Path, tmp_path: Path) -> None:
    from dsnbench.models.slimmable import SlimmableTransformerLayer, fused_attention
    torch.manual_seed(0)
    layer = SlimmableTransformerLayer(16, 4, 4, 32, widths=(0.5, 1.0))
    x = torch.randn(3, 10, 16, requires_grad=True)
    for k in (0, 1):
        plain = layer(x, k)
        with fused_attention():
            fused = layer(x, k)
        assert torch.allclose(plain, fused, atol=1e-5)
        g_plain, = torch.autograd.grad(plain.sum(), x)
        with fused_attention():
            g_fused, = torch.autograd.grad(layer(x, k).sum(), x)
        assert torch.allclose(g_plain, g_fused, atol=1e-5)
    # a training with fused attention validates on the counted path: same validation as a
    # training without it to float precision, and the switch is off again afterwards
    cfg = tiny_config(data_root, "static", fused_attention=True)
    with_fused = train(cfg, tmp_path / "f", progress=False, log=lambda m: None)
    without = train(tiny_config(data_root, "static"), tmp_path / "p", progress=False, log=lambda m: None)
    assert with_fused.final_val["mean"] == pytest.approx(without.final_val["mean"], abs=1e-3)
    from dsnbench.models import slimmable
    probe = SlimmableTransformerLayer(8, 2, 4, 8)
    called = []
    orig = torch.nn.functional.scaled_dot_product_attention
    try:
        slimmable.F.scaled_dot_product_attention = lambda *a, **k: called.append(1) or orig(*a, **k)
        probe(torch.randn(1, 4, 8))
    finally:
        slimmable.F.scaled_dot_product_attention = orig
    assert not called


def test_deadline_sets_the_steps_from_the_measured_rate(data_root: Path, tmp_path: Path) -> None:
    from dsnbench.train.trainer import steps_for_deadline
    # 100 s, 0.1 s a step, 2 s a validation every 10 steps, 10 s at the end, 90 % used:
    # (90 - 10) / (0.1 + 0.2) = 266 steps
    assert steps_for_deadline(100, 0.1, 2.0, 10, 10.0) == 266
    assert steps_for_deadline(1, 0.1, 2.0, 10, 10.0) == 1
    cfg = tiny_config(data_root, "static", steps=10_000, steps_per_epoch=5,
                      optim={"lr": 0.003, "warmup_steps": 4},
                      curriculum=[{"until": 0.5, "p_noisy": 0.0}])
    msgs: list[str] = []
    res = train(cfg, tmp_path / "d", progress=False, log=msgs.append, deadline_s=20.0, probe_steps=3)
    assert any("deadline" in m for m in msgs)
    assert 3 < res.steps < 10_000
    written = TrainConfig.load(tmp_path / "d" / "config.yaml")
    assert written.steps == res.steps
    from dsnbench.models.checkpoint import load_checkpoint
    prov = load_checkpoint(tmp_path / "d" / f"{cfg.name}.safetensors").provenance
    assert prov["steps"] == res.steps and prov["training_config"]["steps"] == res.steps


def test_prefetching_workers_give_the_same_training(data_root: Path, tmp_path: Path) -> None:
    """data_workers mixes batches ahead in forked processes: same batches, same weights, and
    the key stays out of the config hash (a training can resume with another count)."""
    base = tiny_config(data_root, "static", steps=4, steps_per_epoch=2,
                       curriculum=[{"until": 0.5, "p_noisy": 0.0}])
    ahead = tiny_config(data_root, "static", steps=4, steps_per_epoch=2, data_workers=2,
                        curriculum=[{"until": 0.5, "p_noisy": 0.0}])
    assert base.hash() == ahead.hash()
    quiet = dict(progress=False, log=lambda m: None)
    a = train(base, tmp_path / "a", **quiet)
    b = train(ahead, tmp_path / "b", **quiet)
    sa, sb = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    assert a.final_val["si_snri"] == b.final_val["si_snri"]


# --------------------------------------------------------------------------- the one-shot GPU retraining
REPO = Path(__file__).resolve().parents[2]


def test_training_pack_round_trips_and_refuses_damage(data_root: Path, tmp_path: Path) -> None:
    from dsnbench.train.pack import build_pack, mulaw_decode, mulaw_encode, read_pack
    x = np.linspace(-1, 1, 1001)
    err = np.abs(mulaw_decode(mulaw_encode(x)) - x)
    assert (err <= 0.025 * np.abs(x) + 2e-4).all()       # companding: error relative to the level
    assert mulaw_decode(mulaw_encode(np.zeros(3))).tolist() == [0, 0, 0]
    pack = tmp_path / "p.dsnpack"
    header = build_pack(data_root, pack)
    assert header["sample_rate"] == 8000 and len(header["items"]) == 14
    _, items = read_pack(pack)
    flac = tdata.LibriMixSource(tdata.DataConfig(root=str(data_root), val_every=4), "train")
    packed = tdata.LibriMixSource(tdata.DataConfig(root=str(data_root), val_every=4, pack=str(pack)), "train")
    assert packed.speakers == flac.speakers and len(packed.utterances) == len(flac.utterances)
    for a, b in zip(flac.utterances, packed.utterances):
        err = 10 * np.log10(np.sum(a.astype(np.float64) ** 2) / np.sum((a - b).astype(np.float64) ** 2))
        assert err > 30, err                    # 8-bit mu-law: about 38 dB on speech
    raw = bytearray(pack.read_bytes())
    raw[-10] ^= 0xFF
    (tmp_path / "bad.dsnpack").write_bytes(bytes(raw))
    with pytest.raises(UserError, match="bad.dsnpack: damaged"):
        read_pack(tmp_path / "bad.dsnpack")
    (tmp_path / "not.dsnpack").write_bytes(b"RIFF....")
    with pytest.raises(UserError, match="not a dsnbench training pack"):
        read_pack(tmp_path / "not.dsnpack")


def test_gpu_retrain_script_smoke_on_cpu_without_soundfile_or_fvcore(data_root: Path, tmp_path: Path) -> None:
    """scripts/gpu_retrain.sh end to end with 2 steps a model on the CPU, in a Python where
    soundfile and fvcore cannot be imported (as on the GPU machine): every static and the
    supernet, then the gates from that supernet, packaged in at most 8 files; then the ship
    rule (experiments/train/gpu_ship.py) on what came back."""
    import os
    import subprocess
    import sys
    import tarfile
    from dsnbench.models.checkpoint import load_checkpoint
    from dsnbench.train.pack import build_pack
    pack = tmp_path / "train.dsnpack"
    build_pack(data_root, pack)
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\nfor m in ('soundfile', 'fvcore', 'pesq', 'pystoi', 'mir_eval'):\n    sys.modules[m] = None\n")
    out, work = tmp_path / "out", tmp_path / "work"
    env = dict(os.environ, PYTHONPATH=str(block), PACK=str(pack), OUT=str(out), PYTHON=sys.executable)
    sets = ["model={preset: tiny}", "data.crop_s=0.4", "data.batch_size=2", "data.n_val=3", "data.val_s=0.6",
            "data.val_every=4", "data.babble_speakers=[1, 2]", "steps_per_epoch=1", "data_workers=1"]
    cmd = ["bash", "scripts/gpu_retrain.sh", "--device", "cpu", "--steps", "2", "--work", str(work)]
    cmd += [x for s in sets for x in ("--set", s)]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["oneshot.json", "oneshot.log", "retrained.tar"] and len(files) <= 8
    summary = json.loads((out / "oneshot.json").read_text())
    names = {"static-0.25", "static-0.5", "static-0.75", "static-1.0", "supernet", "dsn-l1", "dsn-l2", "dsn-l3"}
    assert set(summary["models"]) == names
    assert all(m["status"] == "done" and m["steps"] == 2 for m in summary["models"].values())
    with tarfile.open(out / "retrained.tar") as tar:
        members = set(tar.getnames())
        for n in names:
            assert {f"{n}.safetensors", f"training/{n}.yaml", f"training/{n}.csv"} <= members, n
        tar.extractall(tmp_path / "unpacked", filter="data")
    for n in names:
        ck = load_checkpoint(tmp_path / "unpacked" / f"{n}.safetensors")
        prov = ck.provenance
        assert prov["training_config"]["data"]["pack"] == str(pack.resolve())
        assert prov["precision"] == "bf16" and prov["training_config"]["fused_attention"] is True
        if n.startswith("dsn"):
            assert prov["gate"]["init"] == str((work / "supernet" / "supernet.safetensors").resolve())
            assert ck.family == "dsn"
    # the ship rule on what came back: into an empty bundle every model ships (whole set);
    # the same set again ties everywhere and ships nothing; a set without its gates or with a
    # static missing does not ship whole
    import importlib.util
    import shutil
    spec = importlib.util.spec_from_file_location("gpu_ship", REPO / "experiments" / "train" / "gpu_ship.py")
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    common = ["--pack", str(pack), "--bundle", str(bundle), "--install"]
    assert ship.main([str(out / "retrained.tar"), "--whole"] + common) == 0
    assert sorted(p.stem for p in bundle.glob("*.safetensors")) == sorted(names)
    assert (bundle / "training" / "dsn-l2.csv").read_bytes() == (tmp_path / "unpacked" / "training" / "dsn-l2.csv").read_bytes()
    before = {p.name: p.stat().st_mtime_ns for p in bundle.glob("*.safetensors")}
    assert ship.main([str(tmp_path / "unpacked"), "--whole"] + common) == 0      # a folder: ties
    assert {p.name: p.stat().st_mtime_ns for p in bundle.glob("*.safetensors")} == before
    partial = tmp_path / "partial"
    shutil.copytree(tmp_path / "unpacked", partial)
    (partial / "static-0.5.safetensors").unlink()
    for p in partial.glob("dsn-*.safetensors"):
        p.unlink()
    verdict = ship.decide(partial, pack, tmp_path / "empty", whole=True)
    assert verdict and not any(verdict.values())             # no gates: not a whole lineage
    verdict = ship.decide(partial, pack, bundle, whole=False)
    assert not any(verdict.values())                        # ties never replace
    assert ship.main([str(partial), "--pack", str(tmp_path / "no.dsnpack")]) == 2


def test_width_gain_whole_network_reads_wsj0_2mix_layout_folders(wsj0_root: Path, tiny_supernet: Path,
                                                                 data_root: Path, tmp_path: Path, capsys) -> None:
    """width_gain.py --whole ROOT: every mixture of a WSJ0-2mix-layout folder, the folder's name as
    the set, one row per segment."""
    import pandas as pd
    wg, _ = _width_gain_and_gate_config(data_root, tiny_supernet, tmp_path)
    wg.main(["--checkpoint", str(tiny_supernet), "--config", str(tmp_path / "gate.yaml"),
             "--whole", str(wsj0_root), "--csv", str(tmp_path / "w.csv")])
    assert wsj0_root.name in capsys.readouterr().out
    d = pd.read_csv(tmp_path / "w.csv")
    from dsnbench.models.checkpoint import load_checkpoint
    model = load_checkpoint(tiny_supernet).build_model()
    items = list(wg.wsj0_items(wsj0_root))
    assert len(items) == 4 and set(d["set"]) == {wsj0_root.name}
    assert len(d) == sum(model.n_segments(mix.shape[1]) for _, mix, _ in items)
    assert np.isfinite(d["gain_db"]).all() and (d["error_narrowest"] > 0).all()
