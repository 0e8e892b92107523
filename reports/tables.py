"""`ReportTable`: one table of a report, as data (CSV, JSON) and as printed (HTML, Markdown, LaTeX).

Builders are pure functions from DataFrames to DataFrames; `ReportTable` only adds what every
renderer needs around a table (title, footnotes, the cells to print in bold, loud warnings), so the
five output formats show the same thing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

_NUMERIC = re.compile(r"^[<>]?[-+]?\d[\d.,]*(e[-+]?\d+)?( \[[-+\d., ]+\])?$|^\d+-\d+-\d+( \(.*\))?$")


@dataclass
class ReportTable:
    key: str  # file stem, unique within one report (letters, digits, '-', '_')
    title: str
    data: pd.DataFrame  # machine-readable values, written to CSV and JSON
    display: pd.DataFrame | None = None  # strings as printed; None = `data` formatted
    caption: str = ""
    footnotes: list[str] = field(default_factory=list)
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column) positions in `display`
    flags: list[str] = field(default_factory=list)  # problems a reader must not miss
    footer_rows: int = 0  # the last rows (totals) stay at the bottom when the HTML table is sorted

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.key):
            raise ValueError(f"table key {self.key!r} is not a safe file stem")
        if self.display is None:
            self.display = format_frame(self.data)
        # Object dtype: renderers walk every cell, which is slow on Arrow-backed string columns.
        self.display = self.display.astype(object)
        self._rows: list[list[str]] | None = None
        self._text_cols: set[int] | None = None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.display.columns]

    def rows(self) -> list[list[str]]:
        if self._rows is None:
            self._rows = [[cell_text(v) for v in row] for row in self.display.to_numpy().tolist()]
        return self._rows

    @property
    def text_columns(self) -> set[int]:
        """Positions of columns holding text (left-aligned) rather than numbers or counts."""
        if self._text_cols is not None:
            return self._text_cols
        out = {0}
        rows = self.rows()
        for c in range(1, len(self.display.columns)):
            if any(row[c] and row[c] != "n/a" and not _NUMERIC.match(row[c]) for row in rows):
                out.add(c)
        self._text_cols = out
        return out

    def html_rows(self) -> list[list[tuple[str, str]]]:
        """Rows of (text, CSS class) for the HTML template: best cells, text columns, long text."""
        text_cols = self.text_columns
        out = []
        for r, row in enumerate(self.rows()):
            cells = []
            for c, v in enumerate(row):
                cls = []
                if (r, c) in self.bold:
                    cls.append("best")
                if c in text_cols:
                    cls.append("text")
                if len(v) > 40:
                    cls.append("wrap-text")
                cells.append((v, " ".join(cls)))
            out.append(cells)
        return out

    @property
    def empty(self) -> bool:
        return self.display.empty


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}"
    return str(value)


def format_frame(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Strings for printing: floats rounded to `digits` decimals, NaN as n/a."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].map(lambda v: "n/a" if pd.isna(v) else f"{v:.{digits}f}")
        else:
            out[column] = out[column].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return out


def fmt_interval(estimate: float, low: float, high: float, digits: int = 3) -> str:
    if any(pd.isna(v) for v in (estimate, low, high)):
        return "n/a" if pd.isna(estimate) else f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def fmt_p(p: float) -> str:
    if pd.isna(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
