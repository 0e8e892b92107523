"""`ReportTable`: one table of a report, as data (CSV, JSON) and as printed (HTML, Markdown, LaTeX).

Builders are pure functions from DataFrames to DataFrames; `ReportTable` only adds what every
renderer needs around a table (title, footnotes, the cells to print in bold, loud warnings), so the
five output formats show the same thing.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import pandas as pd
from markupsafe import Markup, escape

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
    # Columns / rows that are not this run's measurements (e.g. "published" numbers shown beside
    # them): position -> mark. HTML gives their cells the mark as a CSS class and a badge, so they
    # can never be read as measured; `data` (CSV, JSON) holds measurements only.
    column_marks: dict[int, str] = field(default_factory=dict)
    row_marks: dict[int, str] = field(default_factory=dict)
    # HTML only. A cell's link to the videos behind it, relative to the page that shows the table:
    # one address for the whole cell, or (text, address or None) pieces spelling the cell (W-T-L).
    links: dict[tuple[int, int], str | list[tuple[str, str | None]]] = field(default_factory=dict)
    # HTML only: full model tag -> the short name shown, the full tag on hover; CSV and JSON keep
    # the full tags (in `data`), as do Markdown and LaTeX.
    names: dict[str, str] = field(default_factory=dict)

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

    def add_column(self, name: str, values: list[str], *, mark: str = "") -> None:
        """Append a display column (one string per row), marked as not measured when `mark` is set."""
        if len(values) != len(self.display):
            raise ValueError(f"{len(values)} values for {len(self.display)} rows")
        self.display[name] = pd.Series(values, index=self.display.index, dtype=object)
        if mark:
            self.column_marks[len(self.display.columns) - 1] = mark
        self._rows = self._text_cols = None

    def add_row(self, values: dict[str, str], *, mark: str = "") -> None:
        """Append a display row (missing columns print empty) after the body, before any footer rows."""
        row = pd.DataFrame([{c: values.get(str(c), "") for c in self.display.columns}], dtype=object)
        at = len(self.display) - self.footer_rows
        self.display = pd.concat([self.display.iloc[:at], row, self.display.iloc[at:]], ignore_index=True)
        # Rows below the new one move down by one.
        self.row_marks = {(r + 1 if r >= at else r): m for r, m in self.row_marks.items()}
        self.bold = {((r + 1 if r >= at else r), c) for r, c in self.bold}
        self.links = {((r + 1 if r >= at else r), c): h for (r, c), h in self.links.items()}
        if mark:
            self.row_marks[at] = mark
        self._rows = self._text_cols = None

    def header_cells(self) -> list[tuple[str, str, str]]:
        """(heading, CSS class, mark) per column for the HTML template."""
        text_cols = self.text_columns
        out = []
        for c, name in enumerate(self.columns):
            mark = self.column_marks.get(c, "")
            cls = " ".join(x for x in ("text" if c in text_cols else "", f"mark-{mark}" if mark else "") if x)
            out.append((_html_text(name, self.names, heading=True), cls, mark))
        return out

    def html_rows(self) -> list[list[tuple[str, str]]]:
        """Rows of (text, CSS class) for the HTML template: best cells, text columns, long text,
        marked (not measured) columns and rows."""
        text_cols = self.text_columns
        out = []
        for r, row in enumerate(self.rows()):
            cells = []
            # A marked row's badge goes beside its label (the cell naming the mark), else first.
            badge_col = next((c for c, v in enumerate(row) if f"[{self.row_marks[r]}" in v), 0) if r in self.row_marks else -1
            for c, v in enumerate(row):
                cls = []
                if (r, c) in self.bold:
                    cls.append("best")
                if c in text_cols:
                    cls.append("text")
                if len(v) > 40:
                    cls.append("wrap-text")
                mark = self.column_marks.get(c) or self.row_marks.get(r)
                if mark:
                    cls.append(f"mark-{mark}")
                if c == badge_col:
                    cls.append("mark-first")
                cells.append((_html_text(v, self.names, self.links.get((r, c))), " ".join(cls)))
            out.append(cells)
        return out

    @property
    def empty(self) -> bool:
        return self.display.empty


_TAG_EDGE = r"\w@=,.\-"  # characters a model tag is made of: a match must not be part of a longer one


@functools.lru_cache(maxsize=32)
def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern:
    """Whole tags (longest first), not parts of a longer tag."""
    return re.compile(f"(?<![{_TAG_EDGE}])(" + "|".join(map(re.escape, tags)) + f")(?![{_TAG_EDGE}])")


def _html_text(text: str, names: dict[str, str], link: str | list[tuple[str, str | None]] | None = None, *,
               heading: bool = False) -> Markup:
    """A cell's text as HTML: full model tags shortened to their names (the full text on hover),
    and its link(s) to the videos. A heading that names a model may wrap after its `@` and commas,
    so a long setting does not widen the table. Every piece of text goes through `escape`; the
    only markup is the report's own."""
    short = text
    if names and any(k in text for k in names):
        changed = {k: v for k, v in names.items() if k != v}
        if changed:
            short = _tag_pattern(tuple(sorted(changed, key=len, reverse=True))).sub(lambda m: changed[m.group(1)], text)
    # Plain concatenation of escaped pieces (Markup.format is several times slower, and a report
    # has tens of thousands of linked cells).
    if isinstance(link, str):
        html = f'<a class="to-videos" href="{escape(link)}">{escape(short)}</a>'
    elif link:
        html = "".join(f'<a class="to-videos" href="{escape(h)}">{escape(t)}</a>' if h else str(escape(t)) for t, h in link)
    else:
        html = str(escape(short))
    if heading and text in names:
        html = "<wbr>".join(str(escape(part)) for part in re.split(r"(?<=[@,])", short))
        return Markup(f'<span class="model-name" title="{escape(text)}">{html}</span>')
    return Markup(f'<span title="{escape(text)}">{html}</span>' if short != text else html)


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
