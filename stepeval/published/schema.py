"""The reference-results format: published evaluation tables as data (docs/published-results.md).

A reference file (YAML or JSON) holds the tables one publication printed, with the numbers exactly
as printed, so stepeval can check the print against itself (`stepeval.published.checks`) and show
it beside a run's own measurements, always marked as published.

Why printed text rather than floats: whether a printed aggregate is consistent with its printed
parts depends on how many digits were printed ("80.10" is not "80.1"), and YAML would drop a
trailing zero of a float. A value may be written as a number when the table declares `decimals`;
written as text, its own digits count.

Names are owned elsewhere and validated here: VBench-I2V dimension keys and the aggregates come
from `stepeval.metrics.aggregate`, the human-evaluation dimensions from `stepeval.human.dimensions`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stepeval.human.dimensions import ALL_DIMENSION_NAMES
from stepeval.metrics.aggregate import DIMENSION_KEYS, Aggregates

FORMAT = "stepeval-published-results"
SCHEMA_VERSION = 1
#: The VBench-I2V aggregates a table may print, named as `Aggregates` names them.
AGGREGATE_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Aggregates))

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")
_WTL = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*-\s*(\d+)\s*$")

Scalar = int | float | bool | str
PrintedNumber = Annotated[str | int | float, Field(description="A number as printed: text keeps its digits ('80.10'); a bare number needs the table's `decimals`.")]


class _Strict(BaseModel):
    # A misspelt key would silently drop a printed number: refuse it.
    model_config = ConfigDict(extra="forbid")


@dataclasses.dataclass(frozen=True)
class Printed:
    """One printed number: its value, the digits after the point, and the text as printed."""

    value: float
    decimals: int
    text: str

    @property
    def half_unit(self) -> float:
        """Half a unit of the last printed digit: how far the unrounded value may lie from it."""
        return 0.5 * 10.0 ** (-self.decimals)


def printed(raw: str | int | float, default_decimals: int | None = None) -> Printed:
    """Read a printed number. Text keeps its own digits; an int has 0 decimals unless the table
    says otherwise; a float needs `default_decimals` (its text form is not what was printed)."""
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, str):
        text = raw.strip()
        if not _NUMBER.match(text):
            raise ValueError(f"{raw!r} is not a printed number (digits, optional sign and decimal point)")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
            raise ValueError(f"{raw!r} is not a number") from exc
        decimals = len(text.split(".", 1)[1]) if "." in text else 0
        return Printed(float(value), decimals, text)
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError(f"{raw!r} is not a printed number")
    if default_decimals is None:
        if isinstance(raw, int):
            return Printed(float(raw), 0, str(raw))
        raise ValueError(
            f"{raw!r} is written as a bare number, so its printed digits are unknown: quote it as printed "
            f"('{raw}') or set the table's `decimals`")
    text = f"{raw:.{default_decimals}f}"
    return Printed(float(Decimal(text)), default_decimals, text)


@dataclasses.dataclass(frozen=True)
class WTL:
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    def __str__(self) -> str:
        return f"{self.wins}-{self.ties}-{self.losses}"


def parse_wtl(text: str) -> WTL:
    m = _WTL.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a W-T-L cell (three counts such as '37-63-79')")
    return WTL(*(int(g) for g in m.groups()))


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{what} {value!r} must start with a letter or digit and hold only letters, digits, '.', '_' or '-'")
    return value


# --------------------------------------------------------------------------- provenance


class Source(_Strict):
    """Where the numbers were published."""

    title: str = Field(description="Title of the publication.")
    authors: str | None = Field(None, description="Authors or team, as credited.")
    publisher: str | None = Field(None, description="Organisation, venue or preprint server.")
    date: str | None = Field(None, description="Publication date, ISO 8601 (2025-03-14, or 2025-03, or 2025).")
    url: str | None = Field(None, description="Where it can be read (paper, repository, leaderboard page).")
    version: str | None = Field(None, description="Version of the publication the numbers were copied from (arXiv v2, a commit).")
    transcribed_by: str | None = Field(None, description="Who copied the numbers, and how (so a reader can check).")
    notes: str | None = None

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            raise ValueError(f"date {value!r} must be ISO 8601: YYYY, YYYY-MM or YYYY-MM-DD")
        return value


class TableSource(_Strict):
    """Where one table was printed within the publication."""

    table: str = Field(description="The table's name as printed ('Table 3').")
    section: str | None = Field(None, description="Section number or title.")
    page: int | str | None = Field(None, description="Page number (or range) in the version cited.")
    url: str | None = Field(None, description="A direct link, when the table has one (a leaderboard page).")
    caption: str | None = Field(None, description="The caption, as printed.")


class Definitions(_Strict):
    """The metric definitions the publication used, as far as it says."""

    suite: str = Field(description="Metric suite or protocol (VBench-I2V; pairwise human Win-Tie-Loss).")
    version: str | None = Field(None, description="Version of the suite or scoring code, when stated.")
    aggregation: str | None = Field(None, description="How aggregates were formed (a named formula or a sentence).")
    scale: float = Field(1.0, gt=0, description="Printed value = raw value x scale (VBench prints raw x 100).")
    notes: str | None = Field(None, description="What the publication leaves open or does differently.")


class Refusal(_Strict):
    """Items a model refused (a content filter) and that were therefore not judged."""

    count: int = Field(ge=1, description="How many prompts were refused.")
    domains: dict[str, int] | None = Field(None, description="Refusals per domain, when the publication says.")
    text: str | None = Field(None, description="The sentence that says so, as printed.")

    @model_validator(mode="after")
    def _domains_add_up(self) -> Refusal:
        if self.domains is not None and sum(self.domains.values()) != self.count:
            raise ValueError(f"refusals per domain add up to {sum(self.domains.values())}, not to count {self.count}")
        return self


class Excluded(_Strict):
    """An item left out of a table, with why."""

    item_id: str
    reason: str
    domain: str | None = None


class _Column(_Strict):
    id: str = Field(description="Stable id used to choose the column (`stepeval report --published NAME:ID`).")
    label: str = Field(description="The column's heading as printed.")
    model: str = Field(description="The model as the publication names it (anonymised names as printed).")
    generator: str | None = Field(None, description="stepeval's generator name for the model, when stepeval has it.")
    params: dict[str, Scalar] = Field(default_factory=dict, description="The model's settings as stepeval parameters (motion_score: 10).")
    category: str | None = Field(None, description="How the publication groups the model (open-source, commercial).")
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_name(value, "column id")


def _known_keys(value: dict, allowed, what: str, plural: str) -> dict:
    """`value` unchanged when every key is one of `allowed` (defined where the notion is owned)."""
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)}; the {plural} are {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------- VBench-I2V tables


class VBenchColumn(_Column):
    values: dict[str, PrintedNumber] = Field(description="VBench-I2V dimension key -> printed raw value (x the table's scale).")
    aggregates: dict[str, PrintedNumber] = Field(default_factory=dict, description="quality / i2v / total -> printed aggregate.")

    @field_validator("values")
    @classmethod
    def _dimension_keys(cls, value: dict) -> dict:
        return _known_keys(value, DIMENSION_KEYS, "VBench-I2V dimension", "dimensions")

    @field_validator("aggregates")
    @classmethod
    def _aggregate_keys(cls, value: dict) -> dict:
        return _known_keys(value, AGGREGATE_KEYS, "aggregate", "aggregates")


class VBenchTable(_Strict):
    """Per-model VBench-I2V dimensions and the printed Quality / I2V / Total."""

    kind: Literal["vbench_i2v"]
    id: str = Field(description="Stable id of the table within the file.")
    source: TableSource
    definitions: Definitions
    decimals: int | None = Field(None, ge=0, le=10, description="Digits after the point of values written as bare numbers.")
    columns: list[VBenchColumn] = Field(min_length=1)
    excluded: list[Excluded] = Field(default_factory=list, description="Items left out of the table.")

    @model_validator(mode="after")
    def _readable(self) -> VBenchTable:
        _unique_ids(self.columns, self.id)
        for column in self.columns:
            for where, raw in [*column.values.items(), *column.aggregates.items()]:
                try:
                    printed(raw, self.decimals)
                except ValueError as exc:
                    raise ValueError(f"column {column.id!r}, {where}: {exc}") from None
        return self

    def printed_values(self, column: VBenchColumn) -> dict[str, Printed]:
        return {k: printed(v, self.decimals) for k, v in column.values.items()}

    def printed_aggregates(self, column: VBenchColumn) -> dict[str, Printed]:
        return {k: printed(v, self.decimals) for k, v in column.aggregates.items()}


# --------------------------------------------------------------------------- pairwise W-T-L tables


class PairwiseColumn(_Column):
    cells: dict[str, dict[str, str]] = Field(description="dimension -> domain -> 'W-T-L' as printed, from the focal model's side.")
    total: str | None = Field(None, description="The printed total 'W-T-L' of the column, when printed.")
    refused: Refusal | None = Field(None, description="Prompts this opponent refused (not judged).")
    excluded: list[Excluded] = Field(default_factory=list, description="Other pairs left out of this column.")

    @field_validator("cells")
    @classmethod
    def _cells(cls, value: dict) -> dict:
        _known_keys(value, ALL_DIMENSION_NAMES, "dimension", "dimensions")
        for dim, per_domain in value.items():
            for domain, cell in per_domain.items():
                try:
                    parse_wtl(cell)
                except ValueError as exc:
                    raise ValueError(f"{dim}, {domain}: {exc}") from None
        return value

    @field_validator("total")
    @classmethod
    def _total(cls, value: str | None) -> str | None:
        if value is not None:
            parse_wtl(value)
        return value

    def cell(self, dimension: str, domain: str) -> WTL | None:
        text = self.cells.get(dimension, {}).get(domain)
        return None if text is None else parse_wtl(text)

    @property
    def printed_total(self) -> WTL | None:
        return None if self.total is None else parse_wtl(self.total)


class PairwiseTable(_Strict):
    """A focal model's Win-Tie-Loss against opponents, per dimension and domain (the Step-Video-TI2V
    report's Table 2 shape)."""

    kind: Literal["pairwise_wtl"]
    id: str
    source: TableSource
    definitions: Definitions
    focal: str = Field(description="The model every cell is counted from (W = the focal model won).")
    focal_generator: str | None = Field(None, description="stepeval's generator name for the focal model.")
    focal_params: dict[str, Scalar] = Field(default_factory=dict)
    dimensions: dict[str, str] = Field(description="Dimension name (stepeval.human.dimensions) -> the row label as printed; in printed order.")
    domains: dict[str, int] = Field(description="Domain -> pairs in that domain (its number of prompts); in printed order.")
    columns: list[PairwiseColumn] = Field(min_length=1)

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, value: dict) -> dict:
        return _known_keys(value, ALL_DIMENSION_NAMES, "dimension", "dimensions")

    @field_validator("domains")
    @classmethod
    def _sizes(cls, value: dict) -> dict:
        bad = [d for d, n in value.items() if int(n) < 1]
        if bad:
            raise ValueError(f"domain size(s) must be at least 1: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _cells_known(self) -> PairwiseTable:
        _unique_ids(self.columns, self.id)
        for column in self.columns:
            for dim, per_domain in column.cells.items():
                if dim not in self.dimensions:
                    raise ValueError(f"column {column.id!r} has cells for {dim!r}, which the table's `dimensions` do not list")
                unknown = sorted(set(per_domain) - set(self.domains))
                if unknown:
                    raise ValueError(f"column {column.id!r}, {dim}: unknown domain(s) {', '.join(unknown)}; the table's domains are "
                                     f"{', '.join(self.domains)}")
            if column.refused is not None and column.refused.domains:
                unknown = sorted(set(column.refused.domains) - set(self.domains))
                if unknown:
                    raise ValueError(f"column {column.id!r}: refusals in unknown domain(s) {', '.join(unknown)}")
        return self


Table = Annotated[VBenchTable | PairwiseTable, Field(discriminator="kind")]


def _unique_ids(columns: list[_Column], table: str) -> None:
    seen: set[str] = set()
    for c in columns:
        if c.id.lower() in seen:
            raise ValueError(f"table {table!r}: column id {c.id!r} appears twice (ids are compared case-insensitively)")
        seen.add(c.id.lower())


class PublishedResults(_Strict):
    """One publication's evaluation tables."""

    format: Literal["stepeval-published-results"] = Field(description="Marks the file as a stepeval reference-results file.")
    schema_version: Literal[1] = Field(description="Version of this format.")
    name: str = Field(description="Short name used on the command line (`--published NAME`).")
    source: Source
    tables: list[Table] = Field(min_length=1)
    notes: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "name")

    @model_validator(mode="after")
    def _unique_tables(self) -> PublishedResults:
        ids = [t.id for t in self.tables]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"table id(s) {', '.join(dupes)} appear more than once")
        return self

    def table(self, table_id: str) -> VBenchTable | PairwiseTable:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a reference-results file (for editors and other tools)."""
    schema = PublishedResults.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stepeval published results"
    return schema
