"""Model specs to separators (dsnbench/run/loading.py): unknown names get a did-you-mean."""
from __future__ import annotations

import pytest

from tests.helpers import cli as _cli


@pytest.mark.parametrize("args, needle", [
    (["run", "--model", "oracle-mixtur", "--dataset", "wsj0-2mix", "--root", "."], "did you mean 'oracle-mixture'"),
    (["run", "--model", "oracle-mixture", "--dataset", "wsj-2mix", "--root", "."], "did you mean 'wsj0-2mix'"),
])
def test_unknown_names_get_did_you_mean(dsnbench_exe, args, needle, tmp_path):
    res = _cli(dsnbench_exe, *args, "--out", tmp_path / "r")
    assert res.returncode == 2
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1
