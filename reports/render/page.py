"""The shape of an HTML page: sections made of blocks (a table, a chart, a note, links)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from reports.render.charts import Chart
from reports.tables import ReportTable


@dataclass
class Block:
    kind: str  # table | chart | note | warning | empty | links
    table: ReportTable | None = None
    chart: Chart | None = None
    text: str = ""
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (href, label, detail)


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    badge: str = ""  # e.g. "auto": metric-derived, not human
    blocks: list[Block] = field(default_factory=list)

    def table(self, table: ReportTable) -> Section:
        self.blocks.append(Block("table", table=table))
        return self

    def chart(self, chart: Chart | None) -> Section:
        if chart is not None:
            self.blocks.append(Block("chart", chart=chart))
        return self

    def note(self, text: str) -> Section:
        self.blocks.append(Block("note", text=text))
        return self

    def empty(self, text: str) -> Section:
        self.blocks.append(Block("empty", text=text))
        return self

    def warning(self, text: str) -> Section:
        self.blocks.append(Block("warning", text=text))
        return self

    @property
    def tables(self) -> list[ReportTable]:
        return [b.table for b in self.blocks if b.kind == "table" and b.table is not None]


@dataclass
class Page:
    path: str  # relative to the report folder: index.html, comparisons/<slug>.html
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value) shown in the header

    @property
    def root(self) -> str:
        """Relative prefix from this page back to the report folder."""
        return "../" * self.path.count("/")

    @property
    def tables(self) -> list[ReportTable]:
        return [t for s in self.sections for t in s.tables]


def slugify(text: str, *, max_len: int = 48) -> str:
    """A file-name-safe, unique slug for any string (model tags may hold characters URLs dislike)."""
    base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:max_len] or "x"
    return f"{base}-{hashlib.sha1(str(text).encode('utf-8')).hexdigest()[:6]}"
