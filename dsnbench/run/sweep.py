"""Sweeps: experiment files that declare grids, expanded into plain model and dataset lists.

A study is a grid: DSNs at several lambdas, each at several gate operating points, static and
slimmable baselines, on several datasets. An experiment file declares the grid compactly; this
module expands it into the plain ``models:`` / ``datasets:`` lists that
:func:`dsnbench.run.config.build_config` understands, so a sweep file and the same experiment
written out by hand give the same :class:`~dsnbench.run.config.RunConfig` and the same config
hash. The run
then evaluates every (model, dataset, operating point) entry: models x datasets, each model at
each of its operating points.

Sweep syntax (all optional; plain experiment files are left as they are):

``{range: [start, stop, step]}``
    Anywhere a list of numbers is expected (``operating_points``, the values of a ``sweep``),
    the numbers ``start, start + step, ...`` up to and including ``stop`` (when it falls on the
    grid), rounded to 10 decimals so ``0.1 * 3`` is ``0.3``. Lists may mix numbers and ranges:
    ``operating_points: [0.0, {range: [1, 4, 1]}]``.

``sweep: {key: values, ...}`` inside a model or dataset item
    The item is repeated once per combination of the values (the Cartesian product, the first
    key varying slowest). Each key is a variable: where a string of the item mentions
    ``{key}`` (Python format syntax, e.g. ``{lam}`` or ``{lam:g}``) it is substituted, and a
    value that is exactly ``"{key}"`` takes the variable's own type (a number stays a number);
    a key the item never mentions is set as a field of the item (``sweep: {task: [sep_clean,
    sep_noisy]}`` sets ``task``). ``values`` is a list, a ``{range: ...}`` or a single value.

``glob: PATTERN`` in a model item
    One model per checkpoint file matching the pattern (sorted; relative to the working
    directory, like every checkpoint path), with the item's other fields; ``{stem}``,
    ``{parent}`` and ``{path}`` of the file can be used in its strings (e.g. ``label:
    "dsn-{parent}"``). A pattern that matches nothing is an error, never an empty sweep.

Example (``experiments/sweeps/mini-sweep.yaml``)::

    models:
      - oracle-mixture
      - {glob: "runs/train/dsn-*/best.safetensors", label: "{parent}",
         operating_points: {range: [0.0, 2.0, 0.5]}}
      - {name: supernet, width: "{w}", label: "slim-{w}", sweep: {w: [0.25, 0.5, 1.0]}}
    datasets:
      - mini-2mix
      - {name: mini-wham, sweep: {task: [sep_clean, sep_noisy]}}

Two items that expand to the same result name are an error naming both. ``dsnbench run
EXPERIMENT --dry-run`` lists the expanded entries with the number of utterances each
(:func:`dsnbench.run.plan.plan_entries`) and does no evaluation.
"""
from __future__ import annotations

import glob as _glob
import itertools
import math
import string
from pathlib import Path
from typing import Any, Iterable

from ..errors import UserError

#: most values a single range may produce (a typo like step 1e-9 must not hang the planner)
MAX_RANGE_VALUES = 100_000
#: most items one sweep may expand into
MAX_SWEEP_ITEMS = 100_000
#: most (model, operating point) or dataset items a whole document may expand into; counted as
#: the expansion goes, so a grid of 10^10 entries is refused before it fills the memory
MAX_ITEMS = 200_000


# ---------------------------------------------------------------------------------------------
# values: lists and ranges
# ---------------------------------------------------------------------------------------------

def expand_range(spec: Any, where: str) -> list[float] | list[int]:
    """The values of ``[start, stop, step]``: inclusive of ``stop`` when it is on the grid;
    integers when all three are integers, else floats rounded to 10 decimals."""
    if not isinstance(spec, (list, tuple)) or len(spec) != 3:
        raise UserError(f"{where}: range needs [start, stop, step], got {spec!r}")
    try:
        start, stop, step = (float(v) for v in spec)
    except (TypeError, ValueError):
        raise UserError(f"{where}: range values must be numbers, got {spec!r}") from None
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise UserError(f"{where}: range values must be finite, got {spec!r}")
    if step == 0:
        raise UserError(f"{where}: range step must not be 0")
    span = stop - start
    if span != 0 and (span > 0) != (step > 0):
        raise UserError(f"{where}: range step {step:g} never reaches stop {stop:g} from {start:g}")
    count = int(math.floor(span / step + 1e-9)) + 1
    if count > MAX_RANGE_VALUES:
        raise UserError(f"{where}: range {spec!r} has {count} values (at most {MAX_RANGE_VALUES})")
    values = [_tidy(round(start + i * step, 10)) for i in range(count)]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
        return [int(v) for v in values]  # an integer range stays integer (labels read "ov50")
    return values


def _tidy(x: float) -> float:
    return 0.0 if x == 0 else x  # no -0.0 in labels


def expand_values(value: Any, where: str) -> list[Any]:
    """A list of values from a list (items may be ranges), a ``{range: ...}`` or one value."""
    if isinstance(value, dict):
        if set(value) == {"range"}:
            return expand_range(value["range"], where)
        raise UserError(f"{where}: a value list is a list or {{range: [start, stop, step]}}, got keys "
                        f"{sorted(value)}")
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for i, v in enumerate(value):
            if isinstance(v, dict):
                out.extend(expand_values(v, f"{where}[{i}]"))
            else:
                out.append(v)
        return out
    return [value]


# ---------------------------------------------------------------------------------------------
# items: sweep products, templates, globs
# ---------------------------------------------------------------------------------------------

class _Formatter(string.Formatter):
    """str.format that accepts only known variables and says which one is unknown."""

    def __init__(self, variables: dict[str, Any], where: str) -> None:
        self.variables = variables
        self.where = where

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or key not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none"
            raise UserError(f"{self.where}: unknown sweep variable {{{key}}} (known: {known})")
        return self.variables[key]


def _mentions(value: Any) -> set[str]:
    """Variable names a value's strings mention as ``{name}`` (recursively)."""
    if isinstance(value, str):
        try:
            return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(value)
                    if f}
        except ValueError:
            return set()
    if isinstance(value, dict):
        return set().union(*(_mentions(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_mentions(v) for v in value)) if value else set()
    return set()


def _substitute(value: Any, variables: dict[str, Any], where: str) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{") and stripped.endswith("}") and stripped[1:-1] in variables:
            return variables[stripped[1:-1]]  # keeps the variable's type
        if "{" not in value:
            return value
        try:
            return _Formatter(variables, where).format(value)
        except (ValueError, IndexError) as exc:
            raise UserError(f"{where}: cannot fill {value!r} ({exc})") from None
    if isinstance(value, dict):
        return {k: _substitute(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables, where) for v in value]
    return value


def _expand_sweep(item: dict, where: str) -> list[dict]:
    """The item once per combination of its ``sweep:`` values (the item itself when it has none)."""
    if "sweep" not in item:
        return [item]
    grid = item["sweep"]
    rest = {k: v for k, v in item.items() if k != "sweep"}
    if not isinstance(grid, dict) or not grid:
        raise UserError(f"{where}: sweep is a mapping of variable: values, got {grid!r}")
    names = [str(k) for k in grid]
    values = [expand_values(grid[k], f"{where}.sweep.{k}") for k in grid]
    for n, vals in zip(names, values):
        if not vals:
            raise UserError(f"{where}: sweep variable {n!r} has no values")
    n_items = math.prod(len(v) for v in values)
    if n_items > MAX_SWEEP_ITEMS:
        raise UserError(f"{where}: the sweep makes {n_items} items (at most {MAX_SWEEP_ITEMS})")
    mentioned = _mentions(rest)
    out = []
    for combo in itertools.product(*values):
        variables = dict(zip(names, combo))
        new = _substitute(rest, variables, where)
        for n in names:
            if n not in mentioned:
                if n in new:
                    raise UserError(f"{where}: sweep variable {n!r} is also a field of the item; "
                                    f"write {n}: \"{{{n}}}\" to use the swept value")
                new[n] = variables[n]
        out.append(new)
    return out


def _expand_glob(item: dict, where: str) -> list[dict]:
    if "glob" not in item:
        return [item]
    if "name" in item:
        raise UserError(f"{where}: give either 'glob' or 'name', not both")
    pattern = str(item["glob"])
    files = sorted(p for p in _glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not files:
        raise UserError(f"{where}: glob {pattern!r} matches no file (relative to {Path.cwd()})")
    rest = {k: v for k, v in item.items() if k != "glob"}
    out = []
    for f in files:
        p = Path(f)
        variables = {"stem": p.stem, "parent": p.parent.name, "path": f}
        new = _substitute(rest, variables, where)
        new["name"] = f
        out.append(new)
    return out


def _expand_items(items: Any, kind: str, where: str) -> list[Any]:
    if items is None:
        return []
    if isinstance(items, (str, dict)):
        items = [items]
    if not isinstance(items, list):
        raise UserError(f"{where}: {kind} is a list, got {type(items).__name__}")
    out: list[Any] = []
    count = 0
    for i, item in enumerate(items):
        at = f"{where}: {kind}[{i}]"
        if not isinstance(item, dict):
            out.append(item)
            count += 1
            continue
        for swept in _expand_sweep(dict(item), at):
            expanded = _expand_glob(swept, at) if kind == "models" else [swept]
            if kind == "datasets" and "glob" in swept:
                raise UserError(f"{at}: 'glob' selects checkpoint files; a dataset is named by 'name'")
            for e in expanded:
                if "operating_points" in e and e["operating_points"] is not None:
                    e["operating_points"] = expand_values(e["operating_points"], f"{at}.operating_points")
                out.append(e)
                count += len(e.get("operating_points") or [None])
                if count > MAX_ITEMS:
                    raise UserError(f"{at}: the {kind} expand to more than {MAX_ITEMS} "
                                    f"{'(model, operating point) pairs' if kind == 'models' else 'items'}; "
                                    "refusing (split the study into several runs)")
    return out


def is_sweep(doc: dict) -> bool:
    """True when the document uses any sweep syntax (sweep, glob or range)."""
    def has(value: Any) -> bool:
        if isinstance(value, dict):
            return bool({"sweep", "glob", "range"} & set(value)) or any(has(v) for v in value.values())
        if isinstance(value, list):
            return any(has(v) for v in value)
        return False
    return has(doc.get("models")) or has(doc.get("datasets"))


def expand_document(doc: dict, where: str = "config") -> dict:
    """A copy of ``doc`` with every sweep, glob and range expanded into plain lists.

    Raises UserError (one line naming the item) for a malformed sweep, an unknown variable, a
    glob that matches nothing, or two items that expand to the same result name.
    """
    out = dict(doc)
    if "models" in out:
        swept = is_sweep({"models": out["models"]})
        out["models"] = _expand_items(out["models"], "models", where)
        _check_unique(out["models"], "model", where, swept)
    if "datasets" in out:
        out["datasets"] = _expand_items(out["datasets"], "datasets", where)
    n_models = sum(len(m.get("operating_points") or [None]) if isinstance(m, dict) else 1
                   for m in out.get("models") or [])
    n_entries = n_models * len(out.get("datasets") or [])
    if n_entries > MAX_ITEMS:
        raise UserError(f"{where}: {n_entries} (model, dataset, operating point) entries, more than "
                        f"{MAX_ITEMS}; refusing (split the study into several runs)")
    return out


def _check_unique(items: Iterable[Any], kind: str, where: str, swept: bool) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item if isinstance(item, str) else (item.get("label") or item.get("name"))
        if isinstance(item, dict) and not item.get("label") and item.get("allocation"):
            name = f"{name}+{item['allocation']}"  # the results name an allocated model gets (run/config.py)
        name = str(name)
        if name in seen:
            if swept:
                raise UserError(f"{where}: {kind} {name!r} appears twice after expansion (items {seen[name]} "
                                f"and {i}); give each a distinct 'label', e.g. label: \"{name}-{{var}}\"")
            raise UserError(f"{where}: {kind} {name!r} is listed twice (items {seen[name]} and {i}); "
                            f"give one a 'label'")
        seen[name] = i
