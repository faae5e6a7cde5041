"""Turn a model spec (registry name, checkpoint path, ``adapter:path``) into a Separator."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ..models import MODELS, load_separator
from ..registry import UnknownNameError
from ..types import Separator
from .config import ModelSpec


def load_model(spec: ModelSpec | str, **options: Any) -> Separator:
    """Build the separator a spec names. Raises UserError with one line on failure.

    Resolution order: a registered name; ``prefix:rest`` where ``prefix`` is a registered
    adapter kind (e.g. ``asteroid:/path/model.pth``); an existing checkpoint file.
    """
    if isinstance(spec, str):
        spec = ModelSpec(name=spec)
    opts = dict(spec.options)
    opts.update(options)
    name = spec.name
    allocation = opts.pop("allocation", None)
    if allocation is not None:
        return _with_allocation(spec, allocation, opts)
    try:
        if name in MODELS:
            sep = MODELS.get(name)(**opts)
        elif ":" in name and name.split(":", 1)[0] in _adapter_kinds():
            kind, _, target = name.partition(":")
            sep = _adapters().get(kind)(target, **opts)
        elif Path(name).is_file():
            sep = load_separator(name, **opts)
        else:
            MODELS.entry(name)  # raises with did-you-mean
            raise AssertionError("unreachable")
    except UnknownNameError as exc:
        raise UserError(str(exc)) from None
    except UserError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, ImportError) as exc:
        raise UserError(f"model {name!r}: {exc}") from None
    if not isinstance(sep, Separator):
        raise UserError(f"model {name!r}: the factory returned {type(sep).__name__}, not a Separator")
    return sep


def _adapters():
    try:
        from ..models.adapters import ADAPTERS
    except ImportError:
        return None
    return ADAPTERS


def _adapter_kinds() -> list[str]:
    reg = _adapters()
    return reg.names() if reg is not None else []


#: per-segment width allocations a slimmable model can be run with (``allocation:`` of a model)
ALLOCATIONS = ("oracle",)


def _with_allocation(spec: ModelSpec, allocation: Any, opts: dict) -> Separator:
    """The model under a forced allocation (:mod:`dsnbench.run.allocation`); its operating
    points are the multipliers mu."""
    if allocation not in ALLOCATIONS:
        raise UserError(f"model {spec.name!r}: allocation {allocation!r} is not one of: {', '.join(ALLOCATIONS)}")
    from .allocation import OracleAllocation
    base = load_model(ModelSpec(name=spec.name, options=tuple(opts.items())))
    mus = None if spec.operating_points is None else [0.0 if m is None else m for m in spec.operating_points]
    try:
        return OracleAllocation(base, mus=mus, name=spec.result_name)
    except ValueError as exc:
        raise UserError(f"model {spec.name!r}: {exc}") from None
