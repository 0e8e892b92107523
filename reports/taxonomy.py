"""The fine-grained taxonomy of Step-Video-TI2V-Eval (Table 1 of the report) and label files.

Upstream publishes the categories and their counts but no per-item labels, so the schema is data
here and a user supplies the labels: a file mapping item ids to one or more categories.

Label file formats (categories by slug, e.g. ``sports``, or by name, e.g. ``Sports``, any case):

- CSV with columns ``item_id,category`` (one row per label; an item may have several rows);
- JSON or YAML mapping ``{"real/H/001": ["sports"], ...}`` (a single string is one label).

A category must exist in the item's domain (``real`` or ``anime``, from the item id or the
judgments); "I2V Subject" exists in both domains and resolves to the item's own.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from stepeval.errors import UserError


@dataclass(frozen=True)
class Category:
    domain: str  # "real" or "anime"
    group: str
    name: str
    count: int  # items in the report's Table 1

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def _cats(domain: str, group: str, entries: list[tuple[str, int]]) -> list[Category]:
    return [Category(domain, group, name, n) for name, n in entries]


SCHEMA: tuple[Category, ...] = tuple(
    _cats("real", "I2V", [("I2V Subject", 62), ("I2V Background", 14), ("Camera Motion", 11)])
    + _cats("real", "Dynamic and Artistic Elements", [
        ("Surreal imagery", 21), ("Musical performance", 14), ("Artistic photography", 10), ("Sports", 39),
        ("Calligraphy and Painting", 7)])
    + _cats("anime", "I2V", [("I2V Subject", 19), ("I2V Background", 25), ("Action", 13)])
    + _cats("anime", "Anime Style", [
        ("3D anime", 3), ("Flat design", 5), ("Illustrated characters", 3), ("Abstract backgrounds", 3),
        ("Children's drawings", 5), ("Storybook illustrations", 14), ("Mechanical", 3), ("Graphic design", 3),
        ("Modern aesthetics", 6), ("Line art", 2), ("Pixel art", 2), ("Colored sketch", 1)])
    + _cats("anime", "Color Aesthetic", [
        ("High saturation", 4), ("High contrast", 3), ("Ink neon", 4), ("Black background & colored lines", 2)])
)
DOMAINS = ("real", "anime")


def schema_frame() -> pd.DataFrame:
    """The taxonomy as a table: domain, group, category, slug, count."""
    return pd.DataFrame([{"domain": c.domain, "group": c.group, "category": c.name, "slug": c.slug, "count": c.count}
                         for c in SCHEMA])


def _lookup(domain: str, label: str) -> Category | None:
    key = re.sub(r"[^a-z0-9]+", "-", str(label).strip().lower()).strip("-")
    candidates = [c for c in SCHEMA if c.slug == key and (domain not in DOMAINS or c.domain == domain)]
    if len(candidates) > 1:  # unknown domain and a name both domains use: keep one per name
        candidates = candidates[:1]
    return candidates[0] if candidates else None


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the label file ({exc.strerror})", path=path, hint="check the path and its permissions") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"the label file is not UTF-8 text ({exc.reason} at byte {exc.start})", path=path, hint="save it as UTF-8") from exc
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"item_id", "category"} <= set(reader.fieldnames):
            raise UserError("the label CSV needs the columns item_id,category", path=path,
                            hint="one row per (item, category), e.g. real/H/001,Sports")
        return [(r["item_id"].strip(), r["category"]) for r in reader if (r.get("item_id") or "").strip()]
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"the label file is not valid {suffix.lstrip('.').upper() or 'YAML'} ({exc})", path=path,
                        hint="write the labels as CSV (item_id,category), JSON or YAML, in UTF-8") from exc
    if not isinstance(data, dict):
        raise UserError("the label file must map item ids to categories", path=path,
                        hint='e.g. {"real/H/001": ["Sports"]}')
    pairs = []
    for item, labels in data.items():
        for label in [labels] if isinstance(labels, str) else (labels or []):
            pairs.append((str(item), str(label)))
    return pairs


def load_labels(path: str | Path, domains: dict[str, str] | None = None) -> pd.DataFrame:
    """Read a label file: one row per (item_id, category) with domain, group, category and slug.

    `domains` maps item ids to their domain when the id does not start with it. An unknown
    category is a `UserError` listing the first offenders and where to find the names.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("label file not found", path=path, hint="pass a CSV (item_id,category), JSON or YAML file")
    domains = domains or {}
    rows, unknown, unknown_domains = [], [], set()
    for item, label in _read_pairs(path):
        domain = domains.get(item) or item.split("/", 1)[0]
        cat = _lookup(domain, label)
        if cat is None:
            unknown.append(f"{item}: {label!r}")
            unknown_domains.add(domain)
            continue
        rows.append({"item_id": item, "domain": cat.domain, "group": cat.group, "category": cat.name, "slug": cat.slug})
    if unknown:
        raise UserError(
            f"{len(unknown)} unknown categor{'y' if len(unknown) == 1 else 'ies'} ({'; '.join(unknown[:3])})",
            path=path,
            # The names themselves: a printed DataFrame elides the category column in a terminal.
            hint="use a category of the report's Table 1 ("
                 + "; ".join(f"{d}: {', '.join(c.name for c in SCHEMA if c.domain == d)}"
                             for d in (sorted(unknown_domains & set(DOMAINS)) or DOMAINS)) + ")",
        )
    if not rows:
        raise UserError("the label file holds no labels", path=path)
    return pd.DataFrame(rows).drop_duplicates(["item_id", "slug"]).reset_index(drop=True)
