"""The registry of entry sources: each lists the ranked entries it brings for a run (`Context`).

A source is a function `(Context) -> list[Forecaster]`; the built-in ones (trained architectures and their seed
ensembles, the naive baselines and ridge, the classical models, Chronos-2 zero-shot) are registered in
models/forecasters/__init__.py. Adding a model to every ranking is one file with a Forecaster and one line:

    register("drift", lambda ctx: [Drift()])
"""

from __future__ import annotations

from collections.abc import Callable

from models.forecasters.base import Context, Forecaster

Source = Callable[[Context], list[Forecaster]]

_SOURCES: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    """Add (or replace) the source called `name`; entries are listed in registration order."""
    _SOURCES[name] = source


def unregister(name: str) -> None:
    _SOURCES.pop(name, None)


def sources() -> dict[str, Source]:
    return dict(_SOURCES)


def entries(ctx: Context, only: list[str] | None = None) -> list[Forecaster]:
    """Every registered source's entries for `ctx` (or those of the sources in `only`), in order; two entries
    with one name are refused (the ranking, the figures and the forecast address entries by name)."""
    found: list[Forecaster] = []
    for name, source in _SOURCES.items():
        if only is None or name in only:
            found += source(ctx)
    seen: set[str] = set()
    for entry in found:
        if entry.name in seen:
            raise ValueError(f"two ranked entries are called {entry.name!r}; give one of them another name")
        seen.add(entry.name)
    return found
