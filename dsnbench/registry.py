"""One small generic registry with lazy ``"module:attr"`` targets and did-you-mean errors.

Used for models, datasets and metrics. A target is either an object or a string
``"package.module:attribute"`` imported on first use, so listing names never imports torch
models or heavy toolkits.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


class UnknownNameError(KeyError):
    """An unknown registry name; ``str()`` is a one-line message with suggestions."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


@dataclass
class Entry:
    name: str
    target: Any
    help: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
            self.target = obj
        return self.target


class Registry:
    """A named collection of lazily imported objects."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, target: Any = None, *, help: str = "", **meta: Any) -> Any:
        """Register ``target`` under ``name``; usable as a decorator when target is omitted."""
        if target is None:
            def deco(obj: Any) -> Any:
                self.register(name, obj, help=help, **meta)
                return obj
            return deco
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, target, help, dict(meta))
        return target

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def get(self, name: str) -> Any:
        return self.entry(name).load()

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def in_order(self) -> list[str]:
        """Names in the order they were registered (metric columns keep this order)."""
        return list(self._entries)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register a temporary entry clean up with this)."""
        self.entry(name)  # did-you-mean on a typo
        del self._entries[name]


def lazy_attributes(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``package.<module>`` on first use
    of a name ``exports`` maps to that module (a package's public names, without the import
    cost of every module behind them)."""
    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)
    return getattr_


def call(registry: Registry, name: str, **kwargs: Any) -> Any:
    """Look ``name`` up and call it with ``kwargs`` (factories)."""
    factory: Callable[..., Any] = registry.get(name)
    return factory(**kwargs)
