"""One progress bar over a run's utterances (tqdm on stderr), or none."""
from __future__ import annotations

import sys
from typing import Any


class NoBar:
    """The progress bar of a run without one."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool) -> Any:
    """A bar of ``total`` utterances, or a :class:`NoBar` when disabled or there is nothing to do."""
    if not enabled or total == 0:
        return NoBar()
    from tqdm import tqdm
    return tqdm(total=total, unit="utt", desc="dsnbench run", file=sys.stderr, dynamic_ncols=True)
