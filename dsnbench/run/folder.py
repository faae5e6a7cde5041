"""A run folder claimed for one configuration: its identity file (``run.json``), the store its
rows are committed to, and the utterances already committed there (the done-set a resumed run
skips)."""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from pathlib import Path

from ..errors import UserError
from ..metrics import metric_columns
from ..results import PartStore, ResultsError, atomic_write_json, utterance_columns
from .config import RunConfig


def table_columns() -> list[str]:
    """The leading columns of a run's utterances.parquet: every registered metric's columns
    between the keys and the costs (design section 7)."""
    return utterance_columns(metric_columns())


class RunFolder:
    """The run folder's identity file (``run.json``): which config it holds.

    Opening it for a config claims an empty or new folder, or checks that the folder holds a
    run of the same config (a resume); :attr:`store` and :attr:`done` are its committed rows.
    """

    def __init__(self, path: Path, cfg: RunConfig) -> None:
        self.path = Path(path)
        self.cfg = cfg
        meta_file = self.path / "run.json"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the run folder ({exc.strerror})") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"{self.path}: run folder is not writable")
        if meta_file.exists():
            try:
                held = json.loads(meta_file.read_text())
            except (json.JSONDecodeError, OSError) as exc:
                raise UserError(f"{meta_file}: unreadable ({exc}); remove the run folder or choose another --out") from None
            if held.get("config_hash") != cfg.hash():
                raise UserError(f"{self.path}: holds a run of another configuration (config_hash "
                                f"{held.get('config_hash')} vs {cfg.hash()}); choose another --out")
            self.created = held["created"]
        else:
            self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            try:
                atomic_write_json({"config_hash": cfg.hash(), "created": self.created,
                                   "config": cfg.to_dict()}, meta_file)
            except OSError as exc:
                raise UserError(f"{meta_file}: cannot write ({exc.strerror})") from None
        try:
            self.store = PartStore(self.path, table_columns())
            self.done: set[tuple] = self.store.done_keys()
        except (OSError, ResultsError) as exc:
            raise UserError(f"{self.path}: cannot use the run folder ({exc})") from None


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
    if not existed:
        try:
            path.rmdir()
        except OSError:  # something else was put there meanwhile: leave it
            pass
    return True
