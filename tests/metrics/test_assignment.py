"""The Hungarian assignment for many sources equals the exhaustive search's optimum (issue 21:
ten sources made the permutation search factorial)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from dsnbench.metrics.functional import assignment_by_hungarian


def _exhaustive_key(score: np.ndarray) -> tuple[int, float]:
    n = score.shape[0]
    best = (-1, -np.inf)
    for perm in itertools.permutations(range(score.shape[1]), n):
        vals = score[np.arange(n), list(perm)]
        d = ~np.isnan(vals)
        best = max(best, (int(d.sum()), float(vals[d].mean()) if d.any() else -np.inf))
    return best


def _key(score: np.ndarray, perm: tuple[int, ...]) -> tuple[int, float]:
    vals = score[np.arange(score.shape[0]), list(perm)]
    d = ~np.isnan(vals)
    return int(d.sum()), float(vals[d].mean()) if d.any() else -np.inf


@pytest.mark.parametrize("seed", range(40))
def test_hungarian_reaches_the_exhaustive_optimum_with_nans(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    score = rng.normal(5, 10, size=(n, n + int(rng.integers(0, 2))))
    score[rng.random(score.shape) < 0.25] = np.nan
    perm = assignment_by_hungarian(score)
    assert len(set(perm)) == n
    got, best = _key(score, perm), _exhaustive_key(score)
    assert got[0] == best[0] and got[1] == pytest.approx(best[1], abs=1e-9)


def test_ten_sources_are_assigned_at_once_and_correctly():
    rng = np.random.default_rng(3)
    truth = rng.permutation(10)
    score = rng.normal(0, 1, size=(10, 10))
    score[np.arange(10), truth] += 30      # the right pairs stand out
    assert assignment_by_hungarian(score) == tuple(int(t) for t in truth)


def test_best_permutation_hands_many_sources_to_the_hungarian_method():
    from dsnbench.metrics.functional import EXHAUSTIVE_MAX_SOURCES, best_permutation
    rng = np.random.default_rng(5)
    n = EXHAUSTIVE_MAX_SOURCES + 4      # 12! permutations would take hours
    truth = rng.permutation(n)
    score = rng.normal(0, 1, size=(n, n))
    score[np.arange(n), truth] += 30
    assert best_permutation(score) == tuple(int(t) for t in truth)

