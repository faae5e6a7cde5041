"""Engine options and the engine registry (dsnbench/run/engines.py)."""
from __future__ import annotations

import pytest

from dsnbench.errors import UserError
from dsnbench.run.engines import EngineOptions, engine_options


def test_engine_options_from_file_and_cli():
    import argparse
    ns = lambda **kw: argparse.Namespace(**{**dict(engine=None, scheduler=None, unit_size=None, workers=None), **kw})
    doc = {"engine": "dask", "unit_size": 4, "workers": 3, "models": ["m"]}
    assert engine_options(doc, ns()) == EngineOptions("dask", None, 3, 4)
    assert doc == {"workers": 3, "models": ["m"]}  # engine keys never reach the config (or its hash)
    assert engine_options({}, ns()).name == "local"  # the default for a plain run
    assert engine_options({}, ns(scheduler="tcp://h:8786")) == EngineOptions("dask", "tcp://h:8786", None, None)
    assert engine_options({"engine": "dask"}, ns(engine="local")).name == "local"  # the CLI wins
    with pytest.raises(UserError, match="--scheduler needs the dask engine"):
        engine_options({}, ns(engine="local", scheduler="tcp://h:8786"))
    with pytest.raises(UserError, match="engine must be one of local, dask"):
        engine_options({"engine": "spark"}, ns())
    with pytest.raises(UserError, match="unit_size must be a positive integer"):
        engine_options({"unit_size": 0}, ns())
    with pytest.raises(UserError, match="unit_size must be a positive integer"):
        engine_options({"unit_size": 4}, ns(unit_size=0))  # --unit-size 0 is not "unset"


def test_engines_are_registered_and_dispatched_by_name(tmp_path, monkeypatch):
    from dsnbench.run import engines
    assert engines.ENGINES.in_order() == ["local", "dask"]
    with pytest.raises(UserError, match="engine must be one of local, dask"):
        engine_options({"engine": "spark"})
    calls = []
    engines.ENGINES.register("recording", lambda cfg, out, options, **kw: calls.append((cfg, out, options, kw)) or {})
    try:
        assert engine_options({"engine": "recording"}).name == "recording"
        engines.run_experiment_with("cfg", tmp_path, EngineOptions("recording"), progress=False)
    finally:
        engines.ENGINES.unregister("recording")
    assert calls == [("cfg", tmp_path, EngineOptions("recording"), {"progress": False})]
