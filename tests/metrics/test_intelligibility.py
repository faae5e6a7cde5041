"""STOI/ESTOI (dsnbench/metrics/intelligibility.py): the reference-side cache."""
from __future__ import annotations

import numpy as np
import pytest


def test_stoi_reference_cache_gives_pystoi_values_and_keeps_its_budget(speech) -> None:
    """Reference-side work is cached per reference content: a second estimate against the same
    reference (a hit) gives exactly pystoi's values, a different reference with the same length
    is a miss, and the caches stay within their byte budgets."""
    import pystoi

    from dsnbench.metrics import intelligibility as intel
    a, b = speech
    rng = np.random.default_rng(3)
    cache = intel._ReferenceCache(compact_bytes=1 << 20, prepared_bytes=1 << 20)
    for ref in (a, b, a, b, a):
        est = ref + 0.3 * rng.standard_normal(ref.shape) * ref.std()
        prepared = cache.get(ref, 8000)
        s, e = intel.estimate_side(prepared, intel.at_stoi_rate(est, 8000))
        assert s == pytest.approx(pystoi.stoi(ref, est, 8000), abs=1e-9)
        assert e == pytest.approx(pystoi.stoi(ref, est, 8000, extended=True), abs=1e-9)
    assert len(cache.compact) == 2                        # a and b, each computed once
    assert cache.get(a, 8000) is cache.get(a, 8000)       # a hit returns the cached entry
    assert cache.get(a, 16000) is not cache.get(a, 8000)  # the rate is part of the key
    small = intel._ReferenceCache(compact_bytes=1, prepared_bytes=1)
    for ref in (a, b):
        small.get(ref, 8000)
    assert len(small.compact) == len(small.prepared) == 1  # over budget: only the newest stays
    assert cache.sizes[0] == sum(intel._nbytes(v) for v in cache.compact.values())
