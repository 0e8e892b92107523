"""Finding generators by name.

Generators plug in through the `stepeval.generators` entry-point group (name = model name, value =
a factory: a class or function taking the model's parameters as keyword arguments), so a user's own
package adds a model with three lines in its pyproject.toml and stepeval never imports it by name:

    [project.entry-points."stepeval.generators"]
    my-model = "my_package.generator:MyGenerator"

`register()` adds one in-process (notebooks, tests) and wins over an entry point of the same name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from stepeval.errors import UserError
from stepeval.generation.protocol import Capabilities, Generator, check_instance, declared_capabilities

GROUP = "stepeval.generators"

_registered: dict[str, Callable[..., Generator]] = {}


def register(name: str, factory: Callable[..., Generator]) -> None:
    _registered[name] = factory


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    # Scanning every installed distribution's metadata takes tens of milliseconds; the installed set
    # does not change while a process runs.
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Every known generator name, sorted."""
    return sorted(set(_entry_points()) | set(_registered))


def get_factory(name: str) -> Callable[..., Generator]:
    if name in _registered:
        return _registered[name]
    eps = _entry_points()
    if name not in eps:
        known = available()
        raise UserError(
            f"unknown model {name!r}; known models: {', '.join(known) if known else '(none installed)'}",
            hint=f"pick one of those, or install the package that provides {name!r} "
            f"(it must declare it in the {GROUP!r} entry-point group)",
        )
    try:
        return eps[name].load()
    except ImportError as exc:
        raise UserError(
            f"model {name!r} is installed but cannot be imported ({exc})",
            hint="install its optional dependencies (e.g. `pip install -e .[diffusers]` for the diffusers adapters)",
        ) from exc


def capabilities(name: str) -> Capabilities:
    """What model `name` declares on its class, without building it (listings, the runner)."""
    return declared_capabilities(get_factory(name), name)


def request_params(name: str) -> frozenset[str]:
    """The parameters of model `name` that may change per request without reloading its weights."""
    return capabilities(name).request_params


def create(name: str, params: dict[str, Any] | None = None) -> Generator:
    """Build a generator from its parameters; a parameter it does not take is a clear error, and so is
    a generator that does not declare its capabilities on its class."""
    factory = get_factory(name)
    declared = declared_capabilities(factory, name)
    params = dict(params or {})
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        sig = None
    if sig is not None and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        accepted = [p for p in sig.parameters if p not in ("self",)]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise UserError(
                f"model {name!r} has no parameter(s) {', '.join(unknown)}",
                hint=f"its parameters are: {', '.join(accepted) if accepted else '(none)'}",
            )
    try:
        generator = factory(**params)
    except (TypeError, ValueError) as exc:
        raise UserError(f"bad parameters for model {name!r}: {exc}", hint="check the --set values or the config's params") from exc
    check_instance(generator, declared, name)
    return generator

