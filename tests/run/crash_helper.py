"""A metric job that kills its own worker process on one utterance (for tests/run/test_pool.py):
importable by the forkserver's workers, unlike a function defined inside a test."""
from __future__ import annotations

import os
import signal

from dsnbench.run.jobs import compute_metrics


def compute_or_crash(job, crash_on: str):
    """``compute_metrics(job)``, except on ``crash_on``, where the process dies of SIGSEGV (as
    it did inside the pesq library on long utterances)."""
    if job.utt_id == crash_on:
        os.kill(os.getpid(), signal.SIGSEGV)
    return compute_metrics(job)
