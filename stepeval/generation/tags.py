"""Model specs and tags: a generator name plus its settings, and sweeps over settings.

A tag names a generator with its settings, `name@k=v,k2=v2` with keys sorted and values as the user
wrote them (docs/data-contracts.md): `stepvideo-ti2v@motion_score=5`. It is a folder name under
`videos/`, so it must pass `stepeval.runs.check_model_tag`.

`--set k=v1,v2` sweeps: each --set adds one axis, and the specs are the cartesian product of the
axes (two values of motion_score x two of cfg = four tags).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import yaml

from stepeval.errors import UserError
from stepeval.runs import check_model_tag


@dataclass(frozen=True)
class ModelSpec:
    """One model setting of a run: the generator's registry name, its parameters, and its tag."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    tag: str = ""

    def __post_init__(self) -> None:
        if not self.tag:
            object.__setattr__(self, "tag", model_tag(self.name, self.params))
        check_model_tag(self.tag)

    def to_dict(self) -> dict:
        return {"name": self.name, "params": dict(self.params), "tag": self.tag}


def format_value(value: Any) -> str:
    """A parameter value as written in a tag: YAML's spelling for scalars (5, 0.5, true, text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise UserError(
        f"parameter value {value!r} cannot be part of a model tag",
        hint="give the model an explicit `tag:` in the config (or --tag) when a parameter is a list or mapping",
    )


def parse_value(text: str) -> Any:
    """A --set value as YAML reads a scalar: 5 -> int, 0.5 -> float, true -> bool, else the text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, str)) and value is not None else text


def model_tag(name: str, params: dict[str, Any], written: dict[str, str] | None = None) -> str:
    """`name` or `name@k=v,...` (keys sorted; `written` keeps the user's spelling of values)."""
    if not params:
        return check_model_tag(name)
    written = written or {}
    parts = [f"{k}={written.get(k, format_value(v))}" for k, v in sorted(params.items())]
    tag = f"{name}@{','.join(parts)}"
    try:
        return check_model_tag(tag)
    except UserError:
        raise UserError(
            f"the settings of model {name!r} do not make a valid tag ({tag!r}): a value holds a character "
            "a folder name cannot (a path, a space)",
            hint="name the setting yourself: --tag NAME on the command line, or `tag: NAME` in the config's model entry",
        ) from None


def parse_set(option: str) -> tuple[str, list[str]]:
    """`k=v1,v2` -> ("k", ["v1", "v2"]); values stay as written (they go into tags)."""
    if "=" not in option:
        raise UserError(f"bad --set {option!r}: expected KEY=VALUE or KEY=V1,V2,...", hint="e.g. --set motion_score=2,5,10")
    key, _, values = option.partition("=")
    key = key.strip()
    if not key.isidentifier():
        raise UserError(f"bad --set {option!r}: {key!r} is not a parameter name", hint="parameter names are like motion_score or cfg")
    items = [v.strip() for v in values.split(",")]
    if not values.strip() or any(not v for v in items):
        raise UserError(f"bad --set {option!r}: empty value", hint="e.g. --set motion_score=2,5,10 (no empty items)")
    if len(set(items)) != len(items):
        raise UserError(f"bad --set {option!r}: a value is repeated", hint="list each value once")
    return key, items


def expand_sweeps(name: str, sets: list[str], base_params: dict[str, Any] | None = None, tag: str | None = None) -> list[ModelSpec]:
    """One ModelSpec per combination of the --set axes (the cartesian product, in the order given)."""
    axes: dict[str, list[str]] = {}
    for option in sets:
        key, values = parse_set(option)
        if key in axes:
            raise UserError(f"--set {key} given twice", hint=f"list all values in one: --set {key}=A,B")
        axes[key] = values
    combos = list(itertools.product(*axes.values())) or [()]
    if tag and len(combos) > 1:
        raise UserError("--tag names one model setting, but --set makes several", hint="drop --tag; sweeps get one tag per value")
    specs = []
    for combo in combos:
        written = dict(zip(axes, combo))
        params = {**(base_params or {}), **{k: parse_value(v) for k, v in written.items()}}
        specs.append(ModelSpec(name, params, tag or model_tag(name, params, written)))
    return specs


def specs_from_config(models: Any, *, where: str = "config") -> list[ModelSpec]:
    """The `models:` list of a YAML config: [{name, params?, tag?, sweep?}] or bare names.

    `sweep: {k: [v1, v2]}` expands like --set k=v1,v2."""
    if not isinstance(models, list) or not models:
        raise UserError("`models` must be a non-empty list of {name, params, tag}", path=where, hint="e.g. models: [{name: static}]")
    specs: list[ModelSpec] = []
    for n, entry in enumerate(models):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or "name" not in entry:
            raise UserError(f"models[{n}] has no `name`", path=where, hint="each model entry needs name: REGISTRY_NAME")
        unknown = set(entry) - {"name", "params", "tag", "sweep"}
        if unknown:
            raise UserError(f"models[{n}] has unknown key(s) {', '.join(sorted(unknown))}", path=where, hint="use name, params, tag, sweep")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise UserError(f"models[{n}].params must be a mapping", path=where)
        sweep = entry.get("sweep") or {}
        sets = [f"{k}={','.join(format_value(v) for v in (vals if isinstance(vals, list) else [vals]))}" for k, vals in sweep.items()]
        specs.extend(expand_sweeps(str(entry["name"]), sets, params, entry.get("tag")))
    tags = [s.tag for s in specs]
    dupes = sorted({t for t in tags if tags.count(t) > 1})
    if dupes:
        raise UserError(f"two model entries have the same tag: {', '.join(dupes)}", path=where, hint="give one of them its own `tag:`")
    return specs
