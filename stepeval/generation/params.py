"""A generator's parameters, read from its factory's signature: names, types, defaults.

Configs are checked against them before anything is built, so `motion_score` on `static` or
`height: abc` is one message naming the key path, not a TypeError deep in a constructor. The same
description feeds `stepeval config schema`, so an editor completes each model's `params:`.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from stepeval.errors import UserError
from stepeval.generation import registry


@dataclass(frozen=True)
class Param:
    name: str
    annotation: Any  # typing.Any when the factory does not say
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


def factory_params(factory: Any) -> dict[str, Param] | None:
    """The keyword parameters a factory takes, following `**kwargs` that a class passes on to its
    base class (the baselines' `**size`); None when it takes any keyword."""
    out: dict[str, Param] = {}
    chain = [c.__init__ for c in inspect.getmro(factory) if "__init__" in vars(c)] if inspect.isclass(factory) else [factory]
    for fn in chain:
        if fn is object.__init__:
            return None  # **kwargs forwarded all the way up: nothing to check against
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # an annotation that does not resolve here: check names only
            hints = {}
        for p in sig.parameters.values():
            if p.name == "self" or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            out.setdefault(p.name, Param(p.name, hints.get(p.name, Any), p.default))
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            return out
    return None


def _type_problem(param: Param, value: Any) -> str | None:
    if param.annotation is Any:
        return None
    try:
        TypeAdapter(param.annotation).validate_python(value)
    except ValidationError as exc:
        return exc.errors()[0]["msg"]
    except Exception:  # a type pydantic cannot build a validator for: names only
        return None
    return None


def model_param_problems(name: str, params: dict[str, Any], sweep: dict[str, Any], prefix: str) -> list[str]:
    """Problems of one model entry, each `key.path: what is wrong`."""
    try:
        factory = registry.get_factory(name)
    except UserError as exc:
        return [f"{prefix}.name: {str(exc).splitlines()[0]}"]
    accepted = factory_params(factory)
    if accepted is None:
        return []
    problems = []
    values = [(f"{prefix}.params.{k}", k, v) for k, v in params.items()]
    for k, vals in sweep.items():
        for n, v in enumerate(vals if isinstance(vals, list) else [vals]):
            values.append((f"{prefix}.sweep.{k}[{n}]", k, v))
    for where, key, value in values:
        param = accepted.get(key)
        if param is None:
            where = where.rsplit("[", 1)[0] if ".sweep." in where else where  # once per swept key, not per value
            problems.append(f"{where}: model {name!r} has no parameter {key!r}; its parameters: {', '.join(sorted(accepted)) or '(none)'}")
            continue
        problem = _type_problem(param, value)
        if problem:
            problems.append(f"{where}: {problem} (got {value!r})")
    return list(dict.fromkeys(problems))


def check_model_params(models, *, where: str | Path) -> None:
    """Raise one UserError listing every unknown model, unknown parameter or mistyped value."""
    from stepeval.runs.schema import invalid

    problems = []
    for n, model in enumerate(models):
        problems += model_param_problems(model.name, dict(model.params), dict(model.sweep), f"models[{n}]")
    if problems:
        raise invalid(where, problems)


def params_json_schema(name: str) -> dict:
    """A JSON Schema of model `name`'s params (for `stepeval config schema`); {} when unknown."""
    try:
        accepted = factory_params(registry.get_factory(name))
    except UserError:
        return {}
    if accepted is None:
        return {"type": "object"}
    props = {}
    for p in accepted.values():
        try:
            prop = TypeAdapter(p.annotation).json_schema()
        except Exception:
            prop = {}
        if not p.required and isinstance(p.default, (int, float, str, bool)):
            prop["default"] = p.default
        props[p.name] = prop
    return {"type": "object", "properties": props, "additionalProperties": False}
