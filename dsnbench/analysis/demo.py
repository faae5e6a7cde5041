"""A synthetic demo run folder: every model family, gate traces, overlap and noise variants.

For tests, notebooks and the report until real runs exist. It is **not** a measurement of any
model and says so: ``summary["synthetic"]`` is true, the run id is ``synthetic-demo``, and every
figure drawn from it carries a "SYNTHETIC DEMO DATA" stamp.

What is simulated and what is computed:

- Audio: speech-like sources (:func:`dsnbench.testing.speechlike`) mixed at a chosen speaker
  overlap (one source shifted so the overlap is that fraction of a source) and, for the noisy
  sets, low-passed noise active over a chosen fraction of the mixture. Written in the published
  WSJ0-2mix (clean) and WHAM! (noisy) layouts under ``<run>/data/``, so waveform figures can read
  them back through the normal dataset readers.
- Segment labels: the run's own (:func:`dsnbench.data.activity.label_segments`): silence / one /
  overlap from the references, noise active from the noise.
- Separators (simulated): an estimate is the source plus leakage of the other source and noise,
  scaled per segment so the segment's quality follows a width-dependent level (wider is better,
  individually trained static networks a little better than the slimmable supernet at the same
  width, overlap and noise harder). The DSN's gate picks a width per segment from the segment's
  difficulty, lowered by lambda and by the operating point beta.
- Costs (simulated): a fixed part plus a part linear in width per segment, and a small gate
  cost for the DSN.
- Metrics (computed): every utterance is scored by the run's own metric job
  (:func:`dsnbench.run.jobs.compute_metrics`: the registered metrics with utterance-level PIT,
  segment labels, segmental SI-SNR), SI-SNR everywhere and PESQ, STOI and ESTOI on the main
  dataset; the rows are made by the run's :func:`dsnbench.run.unit.utterance_rows`, written by
  the results writer and summarised by the run's summary builder (bootstrap 95 % intervals,
  ``metrics_meta`` from the metric registry). SDR is not computed (too slow for a demo); its
  columns are NaN and its metric is absent from the summary.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from ..data.activity import label_segments
from ..metrics.suite import make_suite
from ..results import SEGMENT_COLUMNS, EntryKey, frame, json_safe, write_tables
from ..run.folder import table_columns
from ..run.jobs import MetricJob, compute_metrics
from ..run.summary import entry_summary, summary_document, versions
from ..run.unit import Separated, utterance_rows
from ..testing import speechlike
from ..types import SegmentTrace, n_segments_for

WIDTHS = (0.25, 0.5, 0.75, 1.0)
SEGMENT_LENGTH = 2000  # samples at 8 kHz: K = 250 frames x stride 8 (design section 3)
SEGMENT_HOP = 1000
_FIXED_GMACS_PER_S = 1.5
_WIDTH_GMACS_PER_S = 6.0   # at width 1.0
_GATE_GMACS_PER_S = 0.02
_DIFFICULTY = {"silence": 0.0, "one": 0.45, "overlap": 0.9}


def _quality(width: float, family: str, category: str, noise: bool) -> float:
    """Simulated segment quality in dB (what the estimate is built to have): the loss from a
    narrower width is small on easy segments and large on overlapped or noisy ones, and an
    individually trained static network is a little better than the supernet at the same width."""
    top = {"silence": 17.0, "one": 17.0, "overlap": 14.0}.get(category, 15.0) - (2.5 if noise else 0.0)
    steep = {"silence": 1.0, "one": 4.0, "overlap": 10.0}.get(category, 6.0) + (3.0 if noise else 0.0)
    bonus = 0.8 * (1.0 - width) if family == "static" else 0.0
    return top - steep * (1.0 - width) ** 1.3 + bonus


def _make_utterance(rng: np.random.Generator, sr: int, seconds: float, overlap: float,
                    noise_activity: float | None) -> dict:
    n_src = int(seconds * sr)
    shift = int(round((1.0 - overlap) * n_src))
    total = n_src + shift
    gain_db = float(rng.uniform(0, 2.5))
    s1 = np.zeros(total)
    s2 = np.zeros(total)
    s1[:n_src] = speechlike(n_src, sr, rng) * 10 ** (gain_db / 40)
    s2[shift:shift + n_src] = speechlike(n_src, sr, rng) * 10 ** (-gain_db / 40)
    noise = None
    if noise_activity is not None:
        w = np.convolve(rng.standard_normal(total + 15), np.hanning(16) / 8, mode="valid")[:total]
        on = np.zeros(total)
        span = int(round(noise_activity * total))
        start = int(rng.integers(0, total - span + 1)) if span < total else 0
        ramp = min(200, span // 4)
        on[start:start + span] = 1.0
        if ramp:
            on[start:start + ramp] = np.linspace(0, 1, ramp)
            on[start + span - ramp:start + span] = np.linspace(1, 0, ramp)
        noise = 0.04 * w * on
    return {"s1": s1, "s2": s2, "noise": noise, "gain_db": gain_db}


def _write_dataset(root: Path, layout: str, utts: list[dict], ids: list[str], sr: int) -> None:
    base = root / f"wav{sr // 1000}k" / "min" / "tt"
    for uid, u in zip(ids, utts):
        mix_clean = u["s1"] + u["s2"]
        if layout == "wsj0-2mix":
            files = {"mix": (mix_clean, "PCM_16"), "s1": (u["s1"], "PCM_16"), "s2": (u["s2"], "PCM_16")}
        else:
            files = {"mix_clean": mix_clean, "mix_both": mix_clean + u["noise"], "mix_single": u["s1"] + u["noise"],
                     "s1": u["s1"], "s2": u["s2"], "noise": u["noise"]}
            files = {k: (v.astype(np.float32), "FLOAT") for k, v in files.items()}
        for folder, (sig, subtype) in files.items():
            (base / folder).mkdir(parents=True, exist_ok=True)
            sf.write(str(base / folder / f"{uid}.wav"), sig, sr, subtype=subtype)


def _read_back(root: Path, layout: str, uid: str, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    base = root / f"wav{sr // 1000}k" / "min" / "tt"
    rd = lambda f: sf.read(str(base / f / f"{uid}.wav"), dtype="float64")[0]  # noqa: E731
    if layout == "wsj0-2mix":
        return rd("mix"), np.stack([rd("s1"), rd("s2")]), None
    return rd("mix_both"), np.stack([rd("s1"), rd("s2")]), rd("noise")


def _estimate(sources: np.ndarray, qualities: np.ndarray, segs: list[tuple[int, int]], rng: np.random.Generator) -> np.ndarray:
    """Each source plus leakage and noise, with per-segment error level set by ``qualities`` (dB).

    Shape: ``sources [n_src, T]``, ``qualities [n_segments]`` -> ``[n_src, T]``.
    """
    n_src, total = sources.shape
    out = sources.copy()
    win = np.hanning(SEGMENT_LENGTH + 2)[1:-1]
    for i in range(n_src):
        other = sources[(i + 1) % n_src]
        level = math.sqrt(float(np.mean(sources[i] ** 2)) + 1e-12)
        other_rms = math.sqrt(float(np.mean(other ** 2)) + 1e-12)
        err = np.zeros(total)
        wsum = np.zeros(total)
        for (a, b), q in zip(segs, qualities):
            w = win[: b - a]
            base = 0.5 * other[a:b] / other_rms + rng.standard_normal(b - a) * 0.87
            err[a:b] += w * base * level * 10 ** (-q / 20)
            wsum[a:b] += w
        out[i] = sources[i] + err / np.maximum(wsum, 1e-3) * np.minimum(wsum, 1.0)
    return out


def _models(lambdas: Sequence[float], betas: Sequence[float]) -> list[dict]:
    ms = [{"model": f"static-{w:g}", "family": "static", "width": w, "op": None} for w in WIDTHS]
    ms += [{"model": f"slim-{w:g}", "family": "slim", "width": w, "op": None} for w in WIDTHS]
    ms += [{"model": f"dsn-l{lam:g}", "family": "dsn", "lambda": lam, "op": float(b)} for lam in lambdas for b in betas]
    return ms


def _choose_widths(cats: list[str], noise: list, lam: float, beta: float, rng: np.random.Generator) -> np.ndarray:
    d = np.array([_DIFFICULTY[c] + (0.25 if nz else 0.0) for c, nz in zip(cats, noise)])
    target = d + rng.normal(0, 0.12, d.size) - 1.2 * lam - 0.35 * beta
    idx = np.clip(np.rint(target * (len(WIDTHS) - 1) + 0.2), 0, len(WIDTHS) - 1).astype(int)
    return np.asarray(WIDTHS)[idx]


def write_demo_run(out_dir: str | Path, n_utterances: int = 4, seconds: float = 2.0, seed: int = 0,
                   variants: bool = True, lambdas: Sequence[float] = (0.05, 0.2), betas: Sequence[float] = (0.0, 0.5, 1.0),
                   perceptual: bool = True) -> Path:
    """Write the synthetic demo run (see module docstring) to ``out_dir``; returns the path.

    ``variants`` adds the 50 % / 25 % overlap sets and the 100 % / 50 % noise-activity sets;
    ``perceptual`` computes PESQ and STOI on the main set (the slowest part).
    Deterministic: the same arguments give the same tables.
    """
    out = Path(out_dir)
    sr = 8000
    sets = [("demo-2mix-ov100", "wsj0-2mix", 1.0, None)]
    if variants:
        sets += [("demo-2mix-ov50", "wsj0-2mix", 0.5, None), ("demo-2mix-ov25", "wsj0-2mix", 0.25, None),
                 ("demo-wham-na100", "wham", 1.0, 1.0), ("demo-wham-na50", "wham", 1.0, 0.5)]
    models = _models(lambdas, betas)
    utt_rows, seg_rows, datasets, settings, measured = [], [], {}, {}, {}
    for ds_index, (ds, layout, overlap, noise_activity) in enumerate(sets):
        rng = np.random.default_rng([seed, ds_index])
        utts = [_make_utterance(rng, sr, seconds, overlap, noise_activity) for _ in range(n_utterances)]
        ids = [f"{i:03d}a{1000 + 37 * i}_{u['gain_db']:.5f}_{i:03d}b{2000 + 53 * i}_{-u['gain_db']:.5f}" for i, u in enumerate(utts)]
        root = out / "data" / ds
        _write_dataset(root, layout, utts, ids, sr)
        manifest_hash = hashlib.sha256(json.dumps([ds, ids, [len(u["s1"]) for u in utts]]).encode()).hexdigest()[:16]
        info = {"manifest_hash": manifest_hash, "n_utterances": n_utterances, "layout": layout, "root": str(root),
                "sample_rate": sr, "mode": "min", "split": "tt", "overlap": overlap}
        if layout == "wham":
            info.update(task="sep_noisy", noise_activity=noise_activity)
        datasets[ds] = info
        # SI-SNR everywhere; the perceptual metrics (the slowest part) on the main set only
        names = ("si_snr", "pesq", "stoi", "estoi") if perceptual and ds_index == 0 else ("si_snr",)
        measured[ds] = names
        settings[ds] = make_suite(names, sr, None).settings()
        for uid in ids:
            mix, srcs, noise = _read_back(root, layout, uid, sr)
            n_seg = n_segments_for(mix.size, SEGMENT_LENGTH, SEGMENT_HOP)
            cats, noise_on = label_segments(srcs, noise, SEGMENT_LENGTH, SEGMENT_HOP, n_seg, sr)
            u_rng = np.random.default_rng([seed, ds_index, int(hashlib.md5(uid.encode()).hexdigest()[:8], 16)])
            inputs = None  # the mixture's metrics: computed with the first model, then reused
            for m in models:
                m_rng = np.random.default_rng([seed, ds_index, int(hashlib.md5((uid + m["model"] + str(m["op"])).encode()).hexdigest()[:8], 16)])
                if m["family"] == "dsn":
                    widths = _choose_widths(cats, noise_on, m["lambda"], m["op"], m_rng)
                    quality_family = "slim"
                else:
                    widths = np.full(n_seg, m["width"])
                    quality_family = m["family"]
                q = np.array([_quality(w, quality_family, c, bool(nz)) for w, c, nz in zip(widths, cats, noise_on)])
                q = q + u_rng.normal(0, 0.6)  # utterance difficulty, shared by all models
                segs = [(s * SEGMENT_HOP, min(s * SEGMENT_HOP + SEGMENT_LENGTH, mix.size)) for s in range(n_seg)]
                est = _estimate(srcs, q, segs, m_rng)
                gate = _GATE_GMACS_PER_S if m["family"] == "dsn" else 0.0
                seg_macs = np.array([round((_FIXED_GMACS_PER_S + _WIDTH_GMACS_PER_S * w + gate) * SEGMENT_HOP / sr * 1e9)
                                     for w in widths], dtype=np.float64)
                macs = int(round(float(seg_macs.sum())))
                dur = mix.size / sr
                trace = SegmentTrace(SEGMENT_LENGTH, SEGMENT_HOP, np.searchsorted(WIDTHS, widths), WIDTHS)
                job = MetricJob(uid, est, srcs, mix, noise, SEGMENT_LENGTH, SEGMENT_HOP, n_seg, names, sr, None,
                                inputs=inputs)
                result = compute_metrics(job)
                inputs = result.inputs
                row = {"model": m["model"], "dataset": ds, "operating_point": m["op"], "utt_id": uid,
                       "duration_s": dur, "macs": macs, "gmacs_per_s": macs / dur / 1e9,
                       "mean_width": float(np.mean(widths)), "error": ""}
                utt_row, segments = utterance_rows(Separated(row, job, trace, True, seg_macs, mix.size), result, sr)
                utt_rows.append(utt_row)
                seg_rows += segments
    utt = frame(utt_rows, table_columns())
    seg = frame(seg_rows, SEGMENT_COLUMNS)
    entries = []
    for m in models:
        info = {k: v for k, v in m.items() if k not in ("model", "op")}
        params = {"static": int(1.0e6 + 3.0e6 * m.get("width", 1.0)), "slim": 4_000_000, "dsn": 4_020_000}[m["family"]]
        for ds in datasets:
            key = EntryKey.of(m["model"], ds, m["op"])
            cols = [c for name in measured[ds] for c in (name, f"{name}_input", f"{name}i")]
            entries.append(entry_summary(key, key.rows(utt), key.rows(seg), cols, n_total=n_utterances,
                                         family=m["family"], model_info=info, params=params))
    config = {"demo": {"n_utterances": n_utterances, "seconds": seconds, "seed": seed, "variants": variants,
                       "lambdas": list(lambdas), "betas": list(betas), "perceptual": perceptual}}
    summary = summary_document(
        created="1970-01-01T00:00:00+00:00", run_id="synthetic-demo", synthetic=True,
        note="Synthetic demo data from dsnbench.analysis.demo: simulated separators and costs, real metric code. Not a result.",
        models={m["model"]: {k: v for k, v in m.items() if k not in ("model", "op")} for m in models},
        config=config, config_hash=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16],
        git_commit="n/a", versions=versions(), device="cpu (simulated)", datasets=datasets,
        metric_names=measured[sets[0][0]], metric_settings=settings, entries=entries)
    write_tables(out, utt, seg, json_safe(summary))
    return out


def ensure_demo_run(path: str | Path | None = None, **kwargs) -> Path:
    """The demo run at ``path`` (default: ``$DSNBENCH_DEMO_RUN`` or a folder in the temp dir),
    written only if it is missing or was made with other arguments. Notebooks fall back to it."""
    import os
    import tempfile
    env = os.environ.get("DSNBENCH_DEMO_RUN")
    if path is None and env and not kwargs:
        # a demo run someone prepared (tests use a small one): taken as it is
        try:
            if json.loads((Path(env) / "summary.json").read_text()).get("synthetic"):
                return Path(env)
        except (OSError, json.JSONDecodeError):
            pass
    p = Path(path or env or Path(tempfile.gettempdir()) / "dsnbench-demo-run-v1")
    want = {"n_utterances": 4, "seconds": 2.0, "seed": 0, "variants": True, "lambdas": [0.05, 0.2],
            "betas": [0.0, 0.5, 1.0], "perceptual": True}
    want.update({k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
    summary_path = p / "summary.json"
    if summary_path.is_file():
        try:
            if json.loads(summary_path.read_text()).get("config", {}).get("demo") == want:
                return p
        except (OSError, json.JSONDecodeError):
            pass
    return write_demo_run(p, **kwargs)
