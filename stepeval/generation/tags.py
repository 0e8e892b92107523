"""Model specs and tags: a generator name plus its settings, and sweeps over settings.

A tag names a generator with its settings, `name@k=v,k2=v2` with keys sorted and values as the user
wrote them (docs/data-contracts.md): `stepvideo-ti2v@motion_score=5`. It is a folder name under
`videos/`, so it must pass `stepeval.runs.check_model_tag`.

`--set k=v1,v2` sweeps: each --set adds one axis, and the specs are the cartesian product of the
axes (two values of motion_score x two of cfg = four tags).

This module is the one place that builds and reads tags (`model_tag` / `parse_tag`) and says what
a model *family* is (`tag_family`): with respect to a swept parameter P, the generator name plus
every parameter except P. A motion_score x cfg sweep therefore has one family per cfg value, and a
requested-vs-measured correlation is computed within a family, never across cfg settings.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
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
    if isinstance(value, str) and "," in value:
        # `k=a,b` would read back as two parameters: the tag could not be parsed into its settings.
        raise UserError(
            f"parameter value {value!r} cannot be part of a model tag (it holds a comma)",
            hint="give the model an explicit `tag:` in the config (or --tag)",
        )
    if isinstance(value, (int, float, str)):
        return str(value)
    raise UserError(
        f"parameter value {value!r} cannot be part of a model tag",
        hint="give the model an explicit `tag:` in the config (or --tag) when a parameter is a list or mapping",
    )


# Python writes small and large floats without a dot (1e-05); PyYAML's YAML 1.1 resolver reads
# those as text, so a float put into a tag would not come back as a float.
_EXPONENT_FLOAT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")


def parse_value(text: str) -> Any:
    """A --set value as YAML reads a scalar: 5 -> int, 0.5 -> float, 1e-5 -> float, true -> bool,
    else the text."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(text.strip()):
        return float(text)
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


def _split_tag(tag: str) -> tuple[str, dict[str, str]]:
    """(name, {key: value as written}). A tag whose part after the first "@" is not `k=v,...`
    with distinct keys (a hand-picked `--tag mymodel@v2`) is all name, so `model_tag` gives it back."""
    tag = str(tag)
    name, at, rest = tag.partition("@")
    if not at:
        return tag, {}
    written: dict[str, str] = {}
    for piece in rest.split(","):
        key, eq, value = piece.partition("=")
        if not eq or not key or key in written:
            return tag, {}
        written[key] = value
    return name, written


def parse_tag(tag: str) -> tuple[str, dict[str, Any]]:
    """`name@k=v,k2=v2` -> (name, {k: v, ...}), values read like `parse_value`; the inverse of
    `model_tag`. A tag without parameters (or not of that form) is (tag, {})."""
    name, written = _split_tag(tag)
    return name, {k: parse_value(v) for k, v in written.items()}


def tag_family(tag: str, varied: str | Iterable[str]) -> str:
    """The family of `tag` with respect to the swept parameter(s) `varied`: the name plus every
    other parameter, as written (`m@cfg=3,motion_score=5` -> `m@cfg=3` for motion_score).

    Tags of one family differ only in `varied`, so a statistic over the sweep (requested vs
    measured) never mixes settings of another axis."""
    skip = {varied} if isinstance(varied, str) else set(varied)
    name, written = _split_tag(tag)
    rest = [f"{k}={v}" for k, v in written.items() if k not in skip]
    return f"{name}@{','.join(rest)}" if rest else name


def requested_value(tag: str, param: str) -> float | None:
    """The number a tag sets `param` to (`m@cfg=7.5,motion_score=10`, "motion_score" -> 10.0);
    None when the tag does not set it or sets it to something that is not a number."""
    value = parse_tag(tag)[1].get(param)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def display_names(tags: Iterable[str]) -> dict[str, str]:
    """A short name per tag, for tables and galleries where the full tag would not fit: the
    generator name plus only the settings that tell it apart from the other tags of that name
    (`static@height=144,num_frames=25,width=256` alone -> `static`; a motion sweep keeps
    `m@motion_score=5`). Every name is unique among `tags`; a tag that cannot be shortened
    uniquely keeps its full spelling. The full tag stays the identity everywhere else."""
    tags = list(dict.fromkeys(str(t) for t in tags))
    split = {t: _split_tag(t) for t in tags}
    by_name: dict[str, list[str]] = {}
    for t, (name, _) in split.items():
        by_name.setdefault(name, []).append(t)
    out: dict[str, str] = {}
    for name, group in by_name.items():
        keys = list(dict.fromkeys(k for t in group for k in split[t][1]))
        varying = [k for k in keys if len({split[t][1].get(k) for t in group}) > 1]
        for t in group:
            written = split[t][1]
            rest = [f"{k}={written[k]}" for k in varying if k in written]
            out[t] = f"{name}@{','.join(rest)}" if rest else name
    counts: dict[str, int] = {}
    for short in out.values():
        counts[short] = counts.get(short, 0) + 1
    # A short name that is another tag's full spelling, or shared, would name the wrong model.
    return {t: (s if counts[s] == 1 and (s == t or s not in out) else t) for t, s in out.items()}


#: Tag parameters that request a motion level: Step-Video's `motion_score`, and the short `motion`
#: of hand-written tags (`stepvideo-ti2v@motion=5`).
MOTION_PARAMS = ("motion_score", "motion")


def motion_request(tag: str) -> tuple[str, float] | None:
    """(parameter, requested level) of the first of MOTION_PARAMS the tag sets to a number, else None
    (`camera@motion=pan_left` names a camera move, not a level)."""
    for param in MOTION_PARAMS:
        value = requested_value(tag, param)
        if value is not None:
            return param, value
    return None


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
    specs = []
    for combo in combos:
        written = dict(zip(axes, combo))
        swept = {k: parse_value(v) for k, v in written.items()}
        params = {**(base_params or {}), **swept}
        if tag and len(combos) > 1:
            # A named sweep: the name stands for the fixed settings (a weights path cannot be part of
            # a folder name), the swept values still tell the videos apart: name@motion_score=5.
            spec_tag = model_tag(tag, swept, written)
        else:
            spec_tag = tag or model_tag(name, params, written)
        specs.append(ModelSpec(name, params, spec_tag))
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
