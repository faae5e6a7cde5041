"""The generic registry (dsnbench/registry.py): lazy targets, did-you-mean, registration order."""
from __future__ import annotations

import pytest

from dsnbench.registry import Registry, UnknownNameError, call


def test_lazy_targets_order_and_removal():
    reg = Registry("thing")
    reg.register("zeta", "collections:OrderedDict", help="an ordered dict")
    reg.register("alpha", dict)

    @reg.register("mid")
    def make(**kw):
        return sorted(kw)

    assert reg.names() == ["alpha", "mid", "zeta"]          # listing: by name
    assert reg.in_order() == ["zeta", "alpha", "mid"]       # registration order
    assert isinstance(reg.entry("zeta").target, str)        # not imported until used
    assert reg.get("zeta").__name__ == "OrderedDict"
    assert call(reg, "mid", b=1, a=2) == ["a", "b"]
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alpha", list)
    with pytest.raises(UnknownNameError, match="did you mean 'alpha'"):
        reg.get("alpah")
    reg.unregister("alpha")
    assert "alpha" not in reg and reg.in_order() == ["zeta", "mid"]
    with pytest.raises(UnknownNameError):
        reg.unregister("alpha")
