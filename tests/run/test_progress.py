"""The progress bar of a run (dsnbench/run/progress.py)."""
from __future__ import annotations

from dsnbench.run.progress import NoBar, progress_bar


def test_no_bar_when_disabled_or_nothing_to_do(capsys):
    for bar in (progress_bar(10, False), progress_bar(0, True)):
        assert isinstance(bar, NoBar)
        bar.update(3)
        bar.close()
    bar = progress_bar(2, True)
    bar.update(2)
    bar.close()
    assert "2/2" in capsys.readouterr().err
