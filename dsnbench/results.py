"""Run folders: results schema version 1 (design section 7), durable writing, reading.

A run folder holds ``summary.json``, ``utterances.parquet`` and ``segments.parquet``. While a
run is in progress, rows go to ``parts/`` in small chunks, each written to a temporary name,
flushed and renamed (an atomic step): a killed run leaves only whole chunks, and starting it
again skips the utterances whose chunk landed. :func:`finalize` merges the chunks into the two
tables, sorted, so an interrupted-and-resumed run ends with the same tables as one that was not.
"""
from __future__ import annotations

import json
import os
import tempfile
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import pandas as pd

SCHEMA_VERSION = 1

#: the key of one row's entry; operating_point is NaN for models without one
ENTRY_KEYS = ["model", "dataset", "operating_point"]

#: utterances.parquet: these columns, then every metric's columns (registration order, from
#: the metric registry: :func:`utterance_columns`), then the cost and bookkeeping columns
UTTERANCE_HEAD = ["model", "dataset", "operating_point", "utt_id", "duration_s"]
UTTERANCE_TAIL = ["macs", "gmacs_per_s", "mean_width", "permutation", "error"]
SEGMENT_COLUMNS = [
    "model", "dataset", "operating_point", "utt_id", "segment", "start_s", "end_s", "width",
    "macs", "category", "noise_active", "seg_si_snr",
]
#: decimals an operating point is compared to: 0.1 * 3 and 0.3 are one operating point
OP_DECIMALS = 12


def utterance_columns(metric_columns: Sequence[str]) -> list[str]:
    """The leading columns of utterances.parquet for these metric columns (design section 7)."""
    return UTTERANCE_HEAD + list(metric_columns) + UTTERANCE_TAIL


def op_key(value: Any) -> float | None:
    """The one normal form of an operating point: None for none (None or NaN), else the float
    rounded to :data:`OP_DECIMALS` places. Every comparison of operating points goes through it."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"operating point {value!r} is not a number or null") from None
    return None if math.isnan(f) else round(f, OP_DECIMALS)


class EntryKey(NamedTuple):
    """One entry of a run: (model, dataset, operating point), the operating point in
    :func:`op_key` form."""

    model: str
    dataset: str
    operating_point: float | None

    @classmethod
    def of(cls, model: Any, dataset: Any, operating_point: Any) -> "EntryKey":
        return cls(str(model), str(dataset), op_key(operating_point))

    def utterance(self, utt_id: str) -> tuple:
        """The key of one utterance of this entry, as :func:`committed_keys` holds them."""
        return (*self, utt_id)

    def rows(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows of a results table that belong to this entry."""
        if not len(df):
            return df
        ops = op_keys(df["operating_point"])
        same_op = ops.isna() if self.operating_point is None else ops == self.operating_point
        return df[(df["model"] == self.model) & (df["dataset"] == self.dataset) & same_op]


def op_keys(operating_points: pd.Series) -> pd.Series:
    """:func:`op_key` of a column of operating points (NaN where there is none)."""
    ops = operating_points.astype("float64")
    return ops.map({v: op_key(v) for v in pd.unique(ops.dropna())})


def committed_keys(run_dir: str | Path) -> set[tuple]:
    """(model, dataset, operating point, utt_id) of every utterance committed in a run folder's
    ``parts/`` (the done-set a resumed run skips); reads, never writes."""
    parts = Path(run_dir) / "parts"
    keys: set[tuple] = set()
    if not parts.is_dir():
        return keys
    for p in sorted(parts.glob("utt-*.parquet")):
        df = read_parquet(p, columns=ENTRY_KEYS + ["utt_id"])
        for row in df.itertuples(index=False):
            keys.add(EntryKey.of(row.model, row.dataset, row.operating_point).utterance(row.utt_id))
    return keys


class ResultsError(ValueError):
    """A run folder that cannot be read or written; one line naming the file."""


def new_file_mode() -> int:
    """The mode an ordinary new file gets here: 0o666 less the process's umask (a temporary
    file from ``mkstemp`` is 0o600 whatever the umask, which would make results private)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one; the
    file gets the mode the umask gives a new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    import io
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(obj: Any, path: Path) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n").encode())


def json_safe(obj: Any) -> Any:
    """A JSON-like structure with NaN and infinities replaced by None (strict JSON has neither)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _json_default(o: Any) -> Any:
    import numpy as np
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class PartStore:
    """The ``parts/`` folder of a run in progress: chunks of utterance and segment rows.

    A chunk is committed by renaming its utterance file into place last; a segment file whose
    utterance file is missing is an unfinished chunk and is removed on open. ``columns`` are the
    utterance table's leading columns (:func:`utterance_columns`; default: the head and tail
    columns only, the metric columns then follow the head in the rows' order).
    """

    def __init__(self, run_dir: Path, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else None
        self.run_dir = Path(run_dir)
        self.dir = Path(run_dir) / "parts"
        self.dir.mkdir(parents=True, exist_ok=True)
        for seg in self.dir.glob("seg-*.parquet"):
            if not (self.dir / seg.name.replace("seg-", "utt-", 1)).exists():
                seg.unlink()
        for tmp in self.dir.glob(".*.tmp"):
            tmp.unlink()
        self._next = 1 + max([int(p.stem.split("-")[1]) for p in self.dir.glob("utt-*.parquet")], default=-1)

    def utterance_files(self) -> list[Path]:
        return sorted(self.dir.glob("utt-*.parquet"))

    def done_keys(self) -> set[tuple]:
        """(model, dataset, operating_point, utt_id) of every committed utterance row."""
        return committed_keys(self.run_dir)

    def _utterance_columns(self, rows: list[dict]) -> list[str]:
        if self.columns is not None:
            return self.columns
        seen = [c for r in rows for c in r if c not in UTTERANCE_HEAD and c not in UTTERANCE_TAIL]
        return utterance_columns(list(dict.fromkeys(seen)))

    def commit(self, utt_rows: list[dict], seg_rows: list[dict]) -> None:
        if not utt_rows:
            return
        idx = self._next
        self._next += 1
        atomic_write_parquet(frame(seg_rows, SEGMENT_COLUMNS), self.dir / f"seg-{idx:06d}.parquet")
        atomic_write_parquet(frame(utt_rows, self._utterance_columns(utt_rows)), self.dir / f"utt-{idx:06d}.parquet")

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        utt = [read_parquet(p) for p in self.utterance_files()]
        seg = [read_parquet(p.with_name(p.name.replace("utt-", "seg-", 1))) for p in self.utterance_files()]
        u = pd.concat(utt, ignore_index=True) if utt else frame([], self._utterance_columns([]))
        s = pd.concat([x for x in seg if len(x)], ignore_index=True) if any(len(x) for x in seg) else frame([], SEGMENT_COLUMNS)
        return u, s


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows as a DataFrame with ``columns`` first (missing ones filled with NaN), extra after."""
    df = pd.DataFrame(rows)
    for c in columns:
        if c not in df.columns:
            df[c] = pd.Series(dtype="float64") if len(df) == 0 else float("nan")
    extra = [c for c in df.columns if c not in columns]
    df = df[columns + extra]
    if "operating_point" in df.columns:
        df["operating_point"] = pd.to_numeric(df["operating_point"], errors="coerce").astype("float64")
    return df


def sort_utterances(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(ENTRY_KEYS + ["utt_id"], na_position="first", kind="mergesort").reset_index(drop=True)


def sort_segments(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(ENTRY_KEYS + ["utt_id", "segment"], na_position="first", kind="mergesort").reset_index(drop=True)


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as exc:
        raise ResultsError(f"{path}: cannot read table ({type(exc).__name__}: {exc})") from None


@dataclass
class RunTables:
    """A finished run folder, read back."""

    path: Path
    summary: dict
    utterances: pd.DataFrame
    segments: pd.DataFrame

    def entries(self) -> list[dict]:
        return list(self.summary.get("entries", []))


def upgrade_summary(summary: dict, path: Path) -> dict:
    """Bring an older summary to the current schema (version 1 is the first: nothing to do)."""
    v = summary.get("schema_version")
    if v == SCHEMA_VERSION:
        return summary
    raise ResultsError(f"{path}: schema_version {v!r} is not one this dsnbench reads (it reads {SCHEMA_VERSION})")


def read_summary(path: str | Path) -> dict:
    """Read ``summary.json`` from a run folder or the file itself."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
    if not p.is_file():
        raise ResultsError(f"{p}: no summary.json (is this a finished run folder?)")
    try:
        summary = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}: not valid JSON ({exc})") from None
    return upgrade_summary(summary, p)


def read_run(path: str | Path) -> RunTables:
    """Read a finished run folder (summary.json, utterances.parquet, segments.parquet)."""
    p = Path(path)
    if not p.is_dir():
        raise ResultsError(f"{p}: not a run folder")
    summary = read_summary(p)
    utt = read_parquet(p / "utterances.parquet") if (p / "utterances.parquet").exists() else None
    seg = read_parquet(p / "segments.parquet") if (p / "segments.parquet").exists() else None
    if utt is None or seg is None:
        missing = "utterances.parquet" if utt is None else "segments.parquet"
        raise ResultsError(f"{p / missing}: missing from the run folder")
    return RunTables(p, summary, utt, seg)


def write_tables(run_dir: Path, utterances: pd.DataFrame, segments: pd.DataFrame, summary: dict) -> None:
    """Write the final tables and summary (each atomically; summary last, as the marker)."""
    run_dir = Path(run_dir)
    atomic_write_parquet(sort_utterances(utterances), run_dir / "utterances.parquet")
    atomic_write_parquet(sort_segments(segments), run_dir / "segments.parquet")
    atomic_write_json(summary, run_dir / "summary.json")


def iter_entry_frames(df: pd.DataFrame) -> Iterable[tuple[tuple, pd.DataFrame]]:
    """Group a table by (model, dataset, operating_point), NaN operating points included."""
    key = df["operating_point"].fillna(-1e300)
    for (m, d, _), g in df.groupby([df["model"], df["dataset"], key], sort=True):
        op = g["operating_point"].iloc[0]
        yield (m, d, None if pd.isna(op) else float(op)), g
