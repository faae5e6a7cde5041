"""Readers for the published corpus layouts (design section 4).

Each reader takes the corpus root and options, checks the layout, and returns a
:class:`~dsnbench.data.manifest.Manifest`. A wrong or partial layout raises
:class:`~dsnbench.data.manifest.DatasetError` with one line that says what is missing where.
Paths are never guessed: the root must be the folder the published layout starts at.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .manifest import DatasetError, Manifest, Utterance, audio_info

#: folders of each WHAM! task: (mixture folder, source folders, noise folder)
WHAM_TASKS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "sep_clean": ("mix_clean", ("s1", "s2"), None),
    "sep_noisy": ("mix_both", ("s1", "s2"), "noise"),
    "enh_single": ("mix_single", ("s1",), "noise"),
    "enh_both": ("mix_both", ("mix_clean",), "noise"),
}

#: published number of test utterances of WSJ0-2mix and WHAM!
WSJ0_TT_COUNT = 3000


def _check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise DatasetError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def split_dir(root: Path, sample_rate: int, mode: str, split: str) -> Path:
    """``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}``, checked option by option."""
    _check_choice("sample rate", sample_rate, (8000, 16000))
    _check_choice("mode", mode, ("min", "max"))
    _check_choice("split", split, ("tr", "cv", "tt"))
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root does not exist or is not a folder")
    d = root / f"wav{sample_rate // 1000}k" / mode / split
    if not d.is_dir():
        # name the deepest missing level, which is what users get wrong
        probe = root
        for part in (f"wav{sample_rate // 1000}k", mode, split):
            probe = probe / part
            if not probe.is_dir():
                present = sorted(p.name for p in probe.parent.iterdir() if p.is_dir()) if probe.parent.is_dir() else []
                raise DatasetError(f"{probe}: folder missing (found: {', '.join(present) or 'nothing'})")
    return d


def wav_files(folder: Path, root: Path, fail: Any, warnings: list[str]) -> dict[str, Path]:
    """The ``.wav`` files of one folder by id (the stem). Not regular files (a FIFO, a device,
    a folder named like a WAV) and a second file whose id differs only in its suffix's case
    (``a.wav`` beside ``a.WAV``) are problems for ``fail``; a symbolic link that leads out of
    ``root`` is read but noted in ``warnings``."""
    files: dict[str, Path] = {}
    root_real = Path(root).resolve()
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() != ".wav":
            continue
        if not p.is_file():
            kind = "a folder" if p.is_dir() else "not a regular file (a FIFO, socket or device)" \
                if p.exists() else "a broken symbolic link"
            fail(f"{p}: {kind}, not an audio file")
            continue
        if p.stem in files:
            fail(f"{p}: same id as {files[p.stem].name} (the names differ only in the suffix's case); "
                 "keep one of them")
            continue
        if p.is_symlink():
            target = p.resolve()
            if root_real != target and root_real not in target.parents:
                warnings.append(f"{p}: a symbolic link to {target}, outside the dataset root {root}")
        files[p.stem] = p
    return files


def collect(
    base: Path,
    mixture_folder: str,
    source_folders: Sequence[str],
    noise_folder: str | None,
    sample_rate: int | None,
    *,
    subtype: str | None,
    name: str,
    root: Path,
    expected_count: int | None = None,
    check_lengths: bool = True,
    problems: list[str] | None = None,
) -> Manifest:
    """Build a manifest from parallel folders of equally named WAV files, validating them.

    Checks: every folder exists and holds WAV files; ids identical across folders; one sample
    rate (the expected one, or when ``sample_rate`` is None the one of the first mixture); mono;
    equal lengths per id; sample format ``subtype`` (e.g. ``PCM_16`` for WSJ0-2mix, ``FLOAT``
    for WHAM!) where given, else one format across the whole set.

    Without ``problems`` the first problem raises :class:`DatasetError`. With a list, every
    problem is appended to it as one line naming the file, the utterances concerned are left
    out, and the manifest of the good ones is returned (``dsnbench validate`` uses this).
    A missing mixture folder always raises.
    """
    def fail(message: str) -> None:
        if problems is None:
            raise DatasetError(message)
        problems.append(message)

    folders = [mixture_folder, *source_folders] + ([noise_folder] if noise_folder else [])
    ids_per_folder: dict[str, dict[str, Path]] = {}
    warnings: list[str] = []
    for f in folders:
        d = base / f
        if not d.is_dir():
            if f == mixture_folder:
                raise DatasetError(f"{d}: folder missing")
            fail(f"{d}: folder missing")
            ids_per_folder[f] = {}
            continue
        files = wav_files(d, root, fail, warnings)
        if not files:
            if f == mixture_folder:
                raise DatasetError(f"{d}: no .wav files")
            fail(f"{d}: no .wav files")
        ids_per_folder[f] = files
    mix_ids = set(ids_per_folder[mixture_folder])
    bad_ids: set[str] = set()
    for f in folders[1:]:
        if not ids_per_folder[f]:
            bad_ids |= mix_ids
            continue
        ids = set(ids_per_folder[f])
        missing = sorted(mix_ids - ids)
        if missing and problems is None:
            raise DatasetError(f"{base / f / (missing[0] + '.wav')}: missing ({len(missing)} id(s) of {mixture_folder}/ absent from {f}/)")
        for uid in missing:
            fail(f"{base / f / (uid + '.wav')}: missing (the mixture {mixture_folder}/{uid}.wav has no {f}/ file)")
        bad_ids |= set(missing)
        extra = sorted(ids - mix_ids)
        if extra and problems is None:
            raise DatasetError(f"{base / f / (extra[0] + '.wav')}: no matching mixture in {mixture_folder}/ ({len(extra)} such id(s))")
        for uid in extra:
            fail(f"{base / f / (uid + '.wav')}: no matching mixture in {mixture_folder}/")
    if expected_count is not None and len(mix_ids) != expected_count:
        warnings.append(f"{base / mixture_folder}: {len(mix_ids)} mixtures, the published set has {expected_count}")
    utts = []
    seen_subtype: tuple[str, Path] | None = None
    for uid in sorted(mix_ids):
        if uid in bad_ids:
            continue
        lengths = {}
        ok = True
        for f in folders:
            p = ids_per_folder[f][uid]
            try:
                info = audio_info(p)
            except DatasetError as exc:
                fail(str(exc))
                ok = False
                continue
            if sample_rate is None:
                sample_rate = int(info.samplerate)
            if info.samplerate != sample_rate:
                fail(f"{p}: sample rate {info.samplerate} Hz, expected {sample_rate} Hz")
                ok = False
            if info.channels != 1:
                fail(f"{p}: {info.channels} channels, expected mono")
                ok = False
            if subtype is not None and info.subtype != subtype:
                fail(f"{p}: sample format {info.subtype}, the published layout has {subtype}")
                ok = False
            elif subtype is None:
                if seen_subtype is None:
                    seen_subtype = (info.subtype, p)
                elif info.subtype != seen_subtype[0]:
                    fail(f"{p}: sample format {info.subtype}, but {seen_subtype[1]} has {seen_subtype[0]}")
                    ok = False
            lengths[f] = info.frames
        if not ok:
            continue
        if check_lengths and len(set(lengths.values())) != 1:
            bad = next(f for f in folders if lengths[f] != lengths[mixture_folder])
            fail(f"{ids_per_folder[bad][uid]}: {lengths[bad]} samples, but {mixture_folder}/{uid}.wav has {lengths[mixture_folder]}")
            continue
        if lengths[mixture_folder] == 0:
            fail(f"{ids_per_folder[mixture_folder][uid]}: empty file")
            continue
        utts.append(Utterance(
            utt_id=uid,
            mixture=ids_per_folder[mixture_folder][uid],
            sources=tuple(ids_per_folder[f][uid] for f in source_folders),
            sample_rate=int(sample_rate),
            n_samples=lengths[mixture_folder],
            noise=ids_per_folder[noise_folder][uid] if noise_folder else None,
        ))
    m = Manifest(name=name, root=Path(root), utterances=utts, warnings=warnings)
    m.info["n_found"] = len(mix_ids)
    m.info["folder_counts"] = {f: len(ids_per_folder[f]) for f in folders}
    m.info["subtype"] = subtype if subtype is not None else (seen_subtype[0] if seen_subtype else None)
    m.info["n_sources"] = len(source_folders)
    m.info["folders"] = {"mixture": mixture_folder, "sources": list(source_folders), "noise": noise_folder}
    return m


def _attach_metadata(m: Manifest, csv_path: Path, id_column: str = "utt_id",
                     problems: list[str] | None = None) -> None:
    """Merge an optional per-utterance metadata CSV into ``Utterance.meta``.

    Every id the CSV lists must be in the manifest (a CSV row without audio is a problem);
    ids of the manifest the CSV does not list keep empty metadata.
    """
    import csv
    from dataclasses import replace

    try:
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise DatasetError(f"{csv_path}: cannot read metadata CSV ({exc})") from None
    if rows and id_column not in rows[0]:
        raise DatasetError(f"{csv_path}: metadata CSV has no {id_column!r} column (columns: {', '.join(rows[0])})")
    by_id = {r[id_column]: r for r in rows}
    have = {u.utt_id for u in m.utterances}
    for uid in sorted(set(by_id) - have):
        msg = f"{csv_path}: lists {uid!r}, which has no mixture file"
        if problems is None:
            raise DatasetError(msg)
        problems.append(msg)
    m.utterances = [
        replace(u, meta=tuple((k, _parse_cell(v)) for k, v in by_id[u.utt_id].items() if k != id_column))
        if u.utt_id in by_id else u
        for u in m.utterances
    ]
    try:  # relative to the root, so the info is the same wherever the data lives
        m.info["metadata_csv"] = Path(csv_path).resolve().relative_to(Path(m.root).resolve()).as_posix()
    except ValueError:
        m.info["metadata_csv"] = str(csv_path)


def _parse_cell(v: str | None) -> object:
    if v is None or v == "":
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _finish(m: Manifest, base: Path, problems: list[str] | None, **info: object) -> Manifest:
    """Common tail of the readers: record the options, attach a variant's metadata CSV."""
    m.info.update(info)
    csv_path = base / VARIANT_CSV
    if csv_path.is_file():
        _attach_metadata(m, csv_path, problems=problems)
    spec_path = base / VARIANT_JSON
    if spec_path.is_file():
        import json
        try:
            spec = json.loads(spec_path.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{spec_path}: cannot read variant description ({exc})") from None
        m.info["variant"] = spec
        m.info["overlap"] = spec.get("overlap")
        m.info["noise_activity"] = spec.get("noise_activity")
    return m


#: per-utterance metadata written next to the folders by ``dsnbench data variant``
VARIANT_CSV = "metadata.csv"
#: what a variant was built from and with (``dsnbench data variant``)
VARIANT_JSON = "variant.json"


def wsj0_2mix(root: str | Path, sample_rate: int = 8000, mode: str = "min", split: str = "tt",
              *, problems: list[str] | None = None, name: str = "wsj0-2mix",
              expected_count: int | None = WSJ0_TT_COUNT) -> Manifest:
    """WSJ0-2mix: ``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix,s1,s2}/<id>.wav``, 16-bit PCM.

    ``root`` is the ``2speakers`` folder made by the official generation scripts. A
    ``metadata.csv`` in the split folder (written by ``dsnbench data variant``) is merged into
    the utterances' metadata. ``problems``: see :func:`collect`.
    """
    base = split_dir(Path(root), sample_rate, mode, split)
    m = collect(base, "mix", ("s1", "s2"), None, sample_rate, subtype="PCM_16", name=name,
                root=Path(root), expected_count=expected_count if split == "tt" else None,
                problems=problems)
    return _finish(m, base, problems, sample_rate=sample_rate, mode=mode, split=split,
                   task="sep_clean", layout="wsj0-2mix", additive=True, wsj0_2mix_like=True)


def wham(root: str | Path, task: str = "sep_noisy", sample_rate: int = 8000, mode: str = "min",
         split: str = "tt", *, problems: list[str] | None = None, name: str = "wham",
         expected_count: int | None = WSJ0_TT_COUNT) -> Manifest:
    """WHAM!: ``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix_clean,mix_both,mix_single,s1,s2,noise}/``.

    Float32 WAV. ``task`` picks the mixture and targets: sep_clean (mix_clean -> s1, s2),
    sep_noisy (mix_both -> s1, s2), enh_single (mix_single -> s1), enh_both (mix_both -> mix_clean).
    ``root`` is the folder that holds ``wav8k``/``wav16k`` (``wham_mix`` of the WHAM! scripts).
    """
    _check_choice("WHAM! task", task, tuple(WHAM_TASKS))
    base = split_dir(Path(root), sample_rate, mode, split)
    mix_f, src_f, noise_f = WHAM_TASKS[task]
    m = collect(base, mix_f, src_f, noise_f, sample_rate, subtype="FLOAT", name=name,
                root=Path(root), expected_count=expected_count if split == "tt" else None,
                problems=problems)
    return _finish(m, base, problems, sample_rate=sample_rate, mode=mode, split=split, task=task,
                   layout="wham", additive=True, wsj0_2mix_like=task == "sep_clean")


#: folders of each WHAMR! task; the targets are always the anechoic sources
WHAMR_TASKS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "sep_clean": ("mix_clean_anechoic", ("s1_anechoic", "s2_anechoic"), None),
    "sep_noisy": ("mix_both_anechoic", ("s1_anechoic", "s2_anechoic"), "noise"),
    "sep_reverb": ("mix_clean_reverb", ("s1_anechoic", "s2_anechoic"), None),
    "sep_reverb_noisy": ("mix_both_reverb", ("s1_anechoic", "s2_anechoic"), "noise"),
}


def whamr(root: str | Path, task: str = "sep_reverb_noisy", sample_rate: int = 8000,
          mode: str = "min", split: str = "tt", *, problems: list[str] | None = None) -> Manifest:
    """WHAMR!: ``<root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/`` with ``mix_{clean,both,single}_{anechoic,reverb}``,
    ``s{1,2}_{anechoic,reverb}`` and ``noise`` (float32 WAV, as the WHAMR! scripts write them).

    Targets are the anechoic sources for every task: sep_clean (mix_clean_anechoic), sep_noisy
    (mix_both_anechoic), sep_reverb (mix_clean_reverb), sep_reverb_noisy (mix_both_reverb).
    Reverberant mixtures are not the sum of their targets, so the mixture-consistency check
    of ``dsnbench validate`` is skipped for them.
    """
    _check_choice("WHAMR! task", task, tuple(WHAMR_TASKS))
    base = split_dir(Path(root), sample_rate, mode, split)
    mix_f, src_f, noise_f = WHAMR_TASKS[task]
    m = collect(base, mix_f, src_f, noise_f, sample_rate, subtype="FLOAT", name="whamr",
                root=Path(root), expected_count=WSJ0_TT_COUNT if split == "tt" else None,
                problems=problems)
    return _finish(m, base, problems, sample_rate=sample_rate, mode=mode, split=split, task=task,
                   layout="whamr", additive="reverb" not in task, wsj0_2mix_like=task == "sep_clean")


#: Libri2Mix split folder names, with the WSJ0-2mix split names accepted for test and dev
LIBRIMIX_SPLITS = ("train-100", "train-360", "dev", "test")
LIBRIMIX_SPLIT_ALIASES = {"tt": "test", "cv": "dev"}
#: published number of Libri2Mix test (and dev) mixtures
LIBRIMIX_TEST_COUNT = 3000


def libri2mix(root: str | Path, task: str = "sep_clean", sample_rate: int = 8000,
              mode: str = "min", split: str = "test", *,
              problems: list[str] | None = None) -> Manifest:
    """Libri2Mix: ``<root>/Libri2Mix/wav{8k,16k}/{min,max}/{train-100,train-360,dev,test}/``
    with ``mix_clean``, ``mix_both``, ``mix_single``, ``s1``, ``s2``, ``noise`` (16-bit PCM, as
    the LibriMix scripts write them) and ``<root>/Libri2Mix/wav*/<mode>/metadata/*.csv``.

    ``root`` is the LibriMix storage folder, the one that *contains* ``Libri2Mix/``. Tasks as for
    WHAM!: sep_clean, sep_noisy, enh_single, enh_both (a clean-only generation has no
    mix_both/mix_single/noise, so only sep_clean works there). ``split`` takes the Libri2Mix
    names; ``tt`` and ``cv`` are accepted for ``test`` and ``dev``. The published mixture
    metadata CSV (``metadata/mixture_<split>_<mix folder>.csv``), when present, must list the
    same ids; its columns other than paths go into the utterances' metadata.
    """
    _check_choice("Libri2Mix task", task, tuple(WHAM_TASKS))
    split = LIBRIMIX_SPLIT_ALIASES.get(split, split)
    _check_choice("Libri2Mix split", split, LIBRIMIX_SPLITS)
    _check_choice("sample rate", sample_rate, (8000, 16000))
    _check_choice("mode", mode, ("min", "max"))
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root does not exist or is not a folder")
    lm = root / "Libri2Mix"
    if not lm.is_dir():
        hint = ""
        # the folder that holds Libri2Mix/: on the path above --root, or one level below it
        above = [p for p in (root, *root.parents) if p.name == "Libri2Mix"]
        below = sorted(p.parent for p in root.glob("*/Libri2Mix") if p.is_dir())
        if above:
            hint = f"; --root is the folder that contains Libri2Mix/, here {above[0].parent}"
        elif (root / f"wav{sample_rate // 1000}k").is_dir():
            hint = f"; --root is the folder that contains Libri2Mix/, here {root.parent}"
        elif below:
            hint = f"; --root is the folder that contains Libri2Mix/, here {below[0]}"
        raise DatasetError(f"{lm}: folder missing{hint}")
    mode_dir = lm / f"wav{sample_rate // 1000}k" / mode
    base = mode_dir / split
    probe = lm
    for part in (f"wav{sample_rate // 1000}k", mode, split):
        probe = probe / part
        if not probe.is_dir():
            present = sorted(p.name for p in probe.parent.iterdir() if p.is_dir())
            raise DatasetError(f"{probe}: folder missing (found: {', '.join(present) or 'nothing'})")
    mix_f, src_f, noise_f = WHAM_TASKS[task]
    m = collect(base, mix_f, src_f, noise_f, sample_rate, subtype="PCM_16", name="libri2mix",
                root=root, expected_count=LIBRIMIX_TEST_COUNT if split in ("test", "dev") else None,
                problems=problems)
    csv_path = mode_dir / "metadata" / f"mixture_{split}_{'mix_both' if task == 'enh_both' else mix_f}.csv"
    if csv_path.is_file():
        _attach_metadata(m, csv_path, id_column="mixture_ID", problems=problems)
        m.utterances = [_drop_path_meta(u) for u in m.utterances]
    return _finish(m, base, problems, sample_rate=sample_rate, mode=mode, split=split, task=task,
                   layout="libri2mix", additive=True, wsj0_2mix_like=task == "sep_clean")


def _drop_path_meta(u: Utterance) -> Utterance:
    from dataclasses import replace
    return replace(u, meta=tuple((k, v) for k, v in u.meta if not k.endswith("_path")))


def folder(root: str | Path, sample_rate: int | None = None, mode: str = "min", split: str = "tt",
           task: str | None = None, *, problems: list[str] | None = None) -> Manifest:
    """Any other data: ``<root>/mix/``, ``<root>/s1/``, ``<root>/s2/`` (``s3/``... if present)
    and optionally ``<root>/noise/``, equally named mono WAV files, plus an optional
    ``<root>/metadata.csv`` with an ``utt_id`` column (the other columns become metadata).

    Any one sample rate (``sample_rate`` checks it when given) and any one sample format.
    The generic layout has no splits, modes or tasks: ``mode``/``split`` other than the defaults
    and any ``task`` are errors rather than silently ignored.
    """
    if mode != "min" or split != "tt":
        raise DatasetError(f"the folder layout has no modes or splits (got mode {mode!r}, split {split!r}); "
                           "point --root at the folder that holds mix/, s1/, s2/")
    if task is not None:
        raise DatasetError(f"the folder layout has no tasks (got {task!r}): mix/ is separated into s1/, s2/...")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset root does not exist or is not a folder")
    sources = []
    k = 1
    while (root / f"s{k}").is_dir():
        sources.append(f"s{k}")
        k += 1
    if len(sources) < 1:
        raise DatasetError(f"{root / 's1'}: folder missing (the folder layout needs mix/, s1/, s2/[, noise/])")
    noise_f = "noise" if (root / "noise").is_dir() else None
    m = collect(root, "mix", tuple(sources), noise_f, sample_rate, subtype=None, name="folder",
                root=root, problems=problems)
    return _finish(m, root, problems, sample_rate=m.utterances[0].sample_rate if m.utterances else sample_rate,
                   mode=None, split=None, task="sep_noisy" if noise_f else "sep_clean", layout="folder",
                   additive=True, wsj0_2mix_like=len(sources) == 2 and noise_f is None)


def mini_root() -> Path:
    """Folder of the bundled mini benchmark inside the installed package."""
    from importlib.resources import files
    return Path(str(files("dsnbench") / "assets" / "mini"))


def _mini_checks(sample_rate: int, mode: str, split: str) -> None:
    if (sample_rate, mode, split) != (8000, "min", "tt"):
        raise DatasetError(f"the bundled mini benchmark exists only at 8000 Hz, mode min, split tt "
                           f"(got {sample_rate} Hz, {mode}, {split})")


def mini_2mix(sample_rate: int = 8000, mode: str = "min", split: str = "tt", *,
              problems: list[str] | None = None) -> Manifest:
    """The bundled clean mini benchmark (LibriSpeech test-other speakers, WSJ0-2mix layout and
    mixing, 8 kHz, min). Needs no ``--root``; see ``dsnbench/assets/mini/README.md``."""
    _mini_checks(sample_rate, mode, split)
    root = mini_root() / "mini-2mix"
    if not root.is_dir():
        raise DatasetError(f"{root}: the bundled mini benchmark is missing from this installation "
                           "(rebuild it with scripts/build_mini.py)")
    return wsj0_2mix(root, sample_rate, mode, split, problems=problems, name="mini-2mix",
                     expected_count=None)


def mini_wham(task: str = "sep_noisy", sample_rate: int = 8000, mode: str = "min", split: str = "tt",
              *, problems: list[str] | None = None) -> Manifest:
    """The bundled noisy mini benchmark: the mini-2mix mixtures plus real noise (Speech
    Commands background noise) at WHAM! levels, WHAM! layout (float32, six folders)."""
    _mini_checks(sample_rate, mode, split)
    root = mini_root() / "mini-wham"
    if not root.is_dir():
        raise DatasetError(f"{root}: the bundled mini benchmark is missing from this installation "
                           "(rebuild it with scripts/build_mini.py)")
    return wham(root, task, sample_rate, mode, split, problems=problems, name="mini-wham",
                expected_count=None)


def mini_2mix_large(sample_rate: int = 8000, mode: str = "min", split: str = "tt", *,
                    root: str | Path | None = None, problems: list[str] | None = None) -> Manifest:
    """The 200-mixture build of the mini-2mix recipe (its first 40 are mini-2mix), made from
    ``../shared/data`` on first use into ``root`` (default ``~/.cache/dsnbench/mini-large-200``,
    or under ``$DSNBENCH_CACHE``). For claims the 40 bundled mixtures cannot resolve."""
    from .mini import ensure_large
    _mini_checks(sample_rate, mode, split)
    base = ensure_large(None if root is None else Path(root))
    return wsj0_2mix(base / "mini-2mix", sample_rate, mode, split, problems=problems, name="mini-2mix-large",
                     expected_count=None)


def mini_wham_large(task: str = "sep_noisy", sample_rate: int = 8000, mode: str = "min", split: str = "tt",
                    *, root: str | Path | None = None, problems: list[str] | None = None) -> Manifest:
    """mini-2mix-large plus real noise at WHAM! levels (WHAM! layout); see :func:`mini_2mix_large`."""
    from .mini import ensure_large
    _mini_checks(sample_rate, mode, split)
    base = ensure_large(None if root is None else Path(root))
    return wham(base / "mini-wham", task, sample_rate, mode, split, problems=problems, name="mini-wham-large",
                expected_count=None)
