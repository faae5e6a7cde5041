"""A run folder claimed for one configuration: its identity file (``run.json``), the store its
rows are committed to, and the utterances already committed there (the done-set a resumed run
skips)."""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..metrics import metric_columns
from ..results import PartStore, ResultsError, atomic_write_json, utterance_columns
from .config import RunConfig


def table_columns() -> list[str]:
    """The leading columns of a run's utterances.parquet: every registered metric's columns
    between the keys and the costs (design section 7)."""
    return utterance_columns(metric_columns())


#: the lock file a writing run holds (flock, exclusive) in its folder; the kernel drops the lock
#: when the process ends, however it ends, so a lock file left by a dead run is no obstacle
LOCK_FILE = ".lock"
#: the identity file that marks a folder as a run's own
RUN_FILE = "run.json"


class RunFolder:
    """The run folder's identity file (``run.json``): which config and which inputs it holds.

    Opening it for a config takes the folder's exclusive lock (another run writing into it is
    refused, naming its pid), then claims an empty or new folder, or checks that the folder
    holds a run of the same config on the same inputs (a resume). A folder that holds anything
    but no ``run.json`` is not the run's to write into and is refused untouched.
    ``inputs``: ``{"datasets": {name: content fingerprint}, "models": {name: weights
    fingerprint}}``, recorded on the first start and compared on every resume, so rows of
    audio regenerated, or weights replaced, under the same path are never mixed with new ones.
    :attr:`store` and :attr:`done` are its committed rows.
    """

    def __init__(self, path: Path, cfg: RunConfig, inputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = Path(path)
        self.cfg = cfg
        meta_file = self.path / RUN_FILE
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path}: exists and is not a folder; choose another --out")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the run folder ({exc.strerror})") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"{self.path}: run folder is not writable")
        if not meta_file.exists():
            refuse_foreign(self.path)   # before the lock file: a folder not ours gets nothing written
        self._lock_fd = take_lock(self.path / LOCK_FILE)
        try:
            self._claim(meta_file, inputs or {})
            self.store = PartStore(self.path, table_columns())
            self.done: set[tuple] = self.store.done_keys()
        except (OSError, ResultsError) as exc:
            self.release()
            raise UserError(f"{self.path}: cannot use the run folder ({exc})") from None
        except UserError:
            self.release()
            raise

    def _claim(self, meta_file: Path, inputs: dict[str, dict[str, Any]]) -> None:
        if meta_file.exists():
            try:
                held = json.loads(meta_file.read_text())
            except (json.JSONDecodeError, OSError) as exc:
                raise UserError(f"{meta_file}: unreadable ({exc}); remove the run folder or choose another --out") from None
            if not isinstance(held, dict) or held.get("config_hash") != self.cfg.hash():
                other = held.get("config_hash") if isinstance(held, dict) else None
                raise UserError(f"{self.path}: holds a run of another configuration (config_hash "
                                f"{other} vs {self.cfg.hash()}); choose another --out")
            check_inputs(self.path, held.get("inputs") or {}, inputs)
            self.created = held.get("created", "")
            return
        refuse_foreign(self.path)
        self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        try:
            atomic_write_json({"config_hash": self.cfg.hash(), "created": self.created,
                               "config": self.cfg.to_dict(), "inputs": inputs}, meta_file)
        except OSError as exc:
            raise UserError(f"{meta_file}: cannot write ({exc.strerror})") from None

    def release(self) -> None:
        """Give the folder's lock back (also done by the kernel when the process ends)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def refuse_foreign(path: Path) -> None:
    """A folder without ``run.json`` that holds anything (but a lock file) is not a run's to
    write into: a one-line UserError naming what it holds."""
    foreign = sorted(p.name for p in path.iterdir() if p.name != LOCK_FILE)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise UserError(f"{path}: holds {', '.join(foreign[:3])}{more} but no {RUN_FILE}, so it is not "
                        f"a run of dsnbench's to write into; a run writes only into an empty or new "
                        f"folder: choose another --out")


def take_lock(lock_file: Path) -> int:
    """Hold an exclusive flock on ``lock_file`` (created if missing, our pid written into it);
    a lock held by another live process is a UserError naming that process."""
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"{lock_file}: cannot open the run folder's lock ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)
        raise UserError(f"{lock_file.parent}: another dsnbench run (pid {holder}) is writing into this "
                        f"folder; wait for it to end or choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def check_inputs(path: Path, held: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> None:
    """Refuse a resume whose datasets or models differ in content from the run's first start
    (a name the run did not record, e.g. a folder written before fingerprints, is not compared)."""
    what = {"datasets": ("dataset", "its audio"), "models": ("model", "its weights")}
    for kind, (noun, thing) in what.items():
        before, after = held.get(kind) or {}, now.get(kind) or {}
        for name in sorted(set(before) & set(after)):
            if before[name] != after[name]:
                raise UserError(f"{path}: {noun} {name!r} has changed since this run began ({thing}: "
                                f"fingerprint {before[name]} then, {after[name]} now); resuming would mix "
                                f"rows of both: choose another --out")


def remove_if_unused(path: Path, *, existed: bool, had_run_json: bool) -> bool:
    """Undo the claim of a run that stopped before its first committed row: what the claim
    created (``run.json``, ``parts/``, the folder itself when it did not exist) is removed, so
    the folder can be reused with a corrected configuration. A folder that holds rows, or that
    held a run before, is left as it is. Returns whether anything was removed."""
    path = Path(path)
    if had_run_json or not (path / "run.json").is_file():
        return False
    parts = path / "parts"
    if any(parts.glob("utt-*.parquet")) or (path / "utterances.parquet").exists():
        return False
    shutil.rmtree(parts, ignore_errors=True)
    (path / "run.json").unlink(missing_ok=True)
    (path / LOCK_FILE).unlink(missing_ok=True)
    if not existed:
        try:
            path.rmdir()
        except OSError:  # something else was put there meanwhile: leave it
            pass
    return True
