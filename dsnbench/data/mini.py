"""Builder of the bundled mini benchmark (``scripts/build_mini.py`` calls :func:`build_mini`).

From ``../shared/data``: LibriSpeech **test-other** speakers only (10 speakers, 5 F / 5 M) and
the real Speech Commands background noise. Deterministic: mixture ``i`` draws from its own
generator ``default_rng([SEED, i])``, so building the first k mixtures gives the same bytes
as building all of them.

* ``mini-2mix``: WSJ0-2mix layout (``wav8k/min/tt/{mix,s1,s2}``, 16-bit PCM), mixed the
  WSJ0-2mix way (:func:`dsnbench.data.mixing.mix_wsj0_2mix`): two different speakers,
  both utterances from their start, cut to a target length drawn in [3.0, 3.4] s and
  truncated to the shorter (min), active-level normalised, relative gain 0-5 dB, s1 louder.
* ``mini-wham``: the same mixtures plus a random excerpt of a real noise recording at WHAM!
  levels (:func:`dsnbench.data.mixing.add_noise_wham`), WHAM! layout (float32, the six
  folders ``mix_clean, mix_both, mix_single, s1, s2, noise``).

Each split folder also gets a ``metadata.csv`` (source utterances, speakers, genders, gains,
noise file and excerpt, SNR), which the readers merge into the utterances' metadata.
"""
from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from .librispeech import TEST_SUBSET, list_noise, list_utterances, mixture_id, read_audio, shared_data_dir
from .mixing import add_noise_wham, mix_wsj0_2mix
from .manifest import DatasetError
from .wavio import write_wav

SEED = 20250706
N_MIXTURES = 40
#: mixtures of the larger sets (mini-2mix-large, mini-wham-large), built on first use
N_LARGE = 200
#: bump when a change of the recipe changes the bytes of a build (invalidates cached builds)
RECIPE = 2
SAMPLE_RATE = 8000
LENGTH_RANGE_S = (3.0, 3.4)

TWO_MIX_FOLDERS = ("mix", "s1", "s2")
WHAM_FOLDERS = ("mix_clean", "mix_both", "mix_single", "s1", "s2", "noise")


def _genders(data_dir: Path) -> dict[str, str]:
    path = data_dir / "librispeech" / TEST_SUBSET / "SPEAKERS.TXT"
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.startswith(";") or "|" not in line:
                continue
            parts = [p.strip() for p in line.split("|")]
            out[parts[0]] = parts[1]
    return out


def plan(data_dir: Path, n: int = N_MIXTURES) -> list[tuple[tuple[Path, float], tuple[Path, float]]]:
    """The ((s1 utterance, start s), (s2 utterance, start s)) of each mixture: distinct speaker
    pairs in a seeded order, each utterance used once while its speaker has unused ones.

    The r-th reuse of an utterance (only beyond the bundled 40 mixtures, which use none) starts
    r excerpt lengths (3.4 s) into it, wrapping over the whole excerpts it holds, so a larger
    build draws fresh speech for as long as the speaker has any."""
    import soundfile as sf
    speakers = list_utterances(TEST_SUBSET, data_dir)
    rng = np.random.default_rng(SEED)
    names = sorted(speakers)
    pairs = list(itertools.combinations(names, 2))
    order = rng.permutation(len(pairs))
    queues = {s: [speakers[s][k] for k in rng.permutation(len(speakers[s]))] for s in names}
    used = {s: 0 for s in names}
    pieces: dict[Path, int] = {}

    def take(s: str) -> tuple[Path, float]:
        path = queues[s][used[s] % len(queues[s])]
        reuse = used[s] // len(queues[s])
        used[s] += 1
        if reuse == 0:
            return path, 0.0
        if path not in pieces:
            pieces[path] = max(1, int(sf.info(str(path)).duration // LENGTH_RANGE_S[1]))
        return path, (reuse % pieces[path]) * LENGTH_RANGE_S[1]

    out = []
    for k in range(n):
        a, b = pairs[order[k % len(pairs)]]
        if rng.random() < 0.5:
            a, b = b, a
        out.append((take(a), take(b)))
    return out


def build_mini(out_dir: Path, data_dir: Path | None = None, n: int = N_MIXTURES,
               limit: int | None = None) -> list[dict]:
    """Write ``<out_dir>/mini-2mix`` and ``<out_dir>/mini-wham``; return the metadata rows.

    ``limit`` builds only the first ``limit`` of the ``n`` planned mixtures (same bytes).
    """
    data_dir = Path(data_dir) if data_dir is not None else shared_data_dir()
    out_dir = Path(out_dir)
    genders = _genders(data_dir)
    noise_files = list_noise(data_dir)
    base2 = out_dir / "mini-2mix" / "wav8k" / "min" / "tt"
    basew = out_dir / "mini-wham" / "wav8k" / "min" / "tt"
    for f in TWO_MIX_FOLDERS:
        (base2 / f).mkdir(parents=True, exist_ok=True)
    for f in WHAM_FOLDERS:
        (basew / f).mkdir(parents=True, exist_ok=True)
    rows, seen = [], set()
    for i, ((pa, oa), (pb, ob)) in enumerate(plan(data_dir, n)[: limit if limit is not None else n]):
        rng = np.random.default_rng([SEED, i])
        target = int(round(rng.uniform(*LENGTH_RANGE_S) * SAMPLE_RATE))
        sa, sb = int(round(oa * SAMPLE_RATE)), int(round(ob * SAMPLE_RATE))
        a = read_audio(pa, SAMPLE_RATE)[sa:sa + target]
        b = read_audio(pb, SAMPLE_RATE)[sb:sb + target]
        m = mix_wsj0_2mix(a, b, rng, SAMPLE_RATE, "min")
        # an excerpt from inside a reused utterance is named <utterance>+<start s>
        uid = mixture_id(pa.stem + (f"+{oa:.1f}" if oa else ""), pb.stem + (f"+{ob:.1f}" if ob else ""),
                         m.level_db)
        if uid in seen:
            raise ValueError(f"mixture id {uid} planned twice")
        seen.add(uid)
        for folder, x in zip(TWO_MIX_FOLDERS, (m.mix, m.s1, m.s2)):
            write_wav(base2 / folder / f"{uid}.wav", x, SAMPLE_RATE, "PCM_16")
        nf = noise_files[int(rng.integers(len(noise_files)))]
        noise_full = read_audio(nf, SAMPLE_RATE)
        start = int(rng.integers(0, noise_full.shape[0] - m.s1.shape[0] + 1))
        w = add_noise_wham(m, noise_full[start: start + m.s1.shape[0]], rng, SAMPLE_RATE)
        for folder, x in zip(WHAM_FOLDERS, (w.mix, w.mix_both, w.mix_single, w.s1, w.s2, w.noise)):
            write_wav(basew / folder / f"{uid}.wav", x, SAMPLE_RATE, "FLOAT")
        rows.append({
            "utt_id": uid,
            "s1_utterance": pa.stem, "s1_start_s": oa, "s1_speaker": pa.stem.split("-")[0],
            "s1_gender": genders.get(pa.stem.split("-")[0], ""),
            "s2_utterance": pb.stem, "s2_start_s": ob, "s2_speaker": pb.stem.split("-")[0],
            "s2_gender": genders.get(pb.stem.split("-")[0], ""),
            "relative_gain_db": round(2 * m.level_db, 5),
            "n_samples": int(m.s1.shape[0]),
            "noise_file": nf.name, "noise_start_s": round(start / SAMPLE_RATE, 4),
            "snr_db": w.snr_db, "wham_scale": round(w.scale / m.scale, 6),
        })
    two_cols = ["utt_id", "s1_utterance", "s1_start_s", "s1_speaker", "s1_gender", "s2_utterance",
                "s2_start_s", "s2_speaker", "s2_gender", "relative_gain_db", "n_samples"]
    _write_csv(base2 / "metadata.csv", [{k: r[k] for k in two_cols} for r in rows])
    _write_csv(basew / "metadata.csv", rows)
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def large_root() -> Path:
    """Default home of the larger build: ``$DSNBENCH_CACHE`` or ``~/.cache/dsnbench``."""
    env = os.environ.get("DSNBENCH_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "dsnbench"
    return base / f"mini-large-{N_LARGE}"


def ensure_large(root: Path | None = None, data_dir: Path | None = None, n: int = N_LARGE) -> Path:
    """The folder holding ``mini-2mix/`` and ``mini-wham/`` of the ``n``-mixture build, built
    from ``../shared/data`` on first use (the first 40 mixtures are the bundled ones).

    The build goes to a temporary sibling and is renamed into place, so an interrupted or
    concurrent build never leaves a half-written set behind. A folder that holds another
    build, or no build stamp, is refused rather than overwritten."""
    root = Path(root) if root is not None else large_root()
    stamp = {"n": n, "seed": SEED, "recipe": RECIPE}
    marker = root / "BUILD.json"
    if marker.is_file():
        found = json.loads(marker.read_text())
        if found != stamp:
            raise DatasetError(f"{marker}: a different build ({found}, this version makes {stamp}); "
                               f"remove {root} to rebuild")
        return root
    if root.exists():
        raise DatasetError(f"{root}: exists but holds no {marker.name}; not a mini-large build (remove it or "
                           "choose another --root)")
    data_dir = Path(data_dir) if data_dir is not None else shared_data_dir()
    if not (data_dir / "librispeech" / TEST_SUBSET).is_dir():
        raise DatasetError(f"{data_dir / 'librispeech' / TEST_SUBSET}: missing; the large mini sets are built "
                           "from the shared LibriSpeech test-other data on first use (set DSNBENCH_SHARED_DATA)")
    print(f"building the {n}-mixture mini sets into {root} (once)", file=sys.stderr, flush=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    build_mini(tmp, data_dir, n=n)
    bundled_readme = Path(__file__).resolve().parents[1] / "assets" / "mini" / "README.md"
    if bundled_readme.is_file():   # the attribution travels with the audio
        shutil.copyfile(bundled_readme, tmp / "README.md")
    (tmp / marker.name).write_text(json.dumps(stamp) + "\n")
    try:
        os.replace(tmp, root)
    except OSError:                # another process finished first: keep its (identical) build
        shutil.rmtree(tmp, ignore_errors=True)
        if not marker.is_file():
            raise
    return root
