"""CSV, JSON, Markdown and LaTeX for one `ReportTable`, and the Markdown report document.

CSV and JSON carry the machine-readable `data`; Markdown and LaTeX the printed `display` (what a
paper shows), with the best cells in bold, the footnotes under the table and warnings above it.

Every string a user can influence (model tags, prompts, item ids, annotator names, warnings,
titles, captions, footnotes, category labels) is written through ONE escaping function per format:

- Markdown: `md_escape`. Text stays text under any CommonMark renderer with raw HTML enabled
  (markdown-it, GitHub): `& < >` become entities, the characters that open inline syntax
  (backslash, backtick, ``* _ [ ] | ~ #``) are backslash-escaped, a leading block marker (``- + =``,
  ``1.``) is escaped, and line breaks become spaces, so a string can neither make an element
  (script, img, link, code, heading, list) nor split a table cell.
- LaTeX: `latex_escape`. Each of ``\\ { } $ & # ^ _ ~ %`` (and ``< > | [ ] "``) is replaced by a
  command or an escaped character, and control characters (line breaks, form feed) by spaces, so no
  backslash of the input survives: ``\\input``, ``\\write18``, ``\\catcode`` print as text.
- CSV: `csv_cell`, applied by `csv_frame` to every text cell and column name. A text cell that a
  spreadsheet would read as a formula (it starts with ``= + - @``, a tab, CR or LF, or their
  full-width forms) gets a leading ``'``, the usual spreadsheet marker for "text". Numbers are left
  alone: numeric columns are not touched and a text cell that is exactly a number (``-0.5``) stays
  as written. The guard is idempotent. A program reading the CSV sees the ``'``; report.json and
  each table's JSON file keep every value exactly.
- JSON: `json.dumps` / pandas' encoder (always valid JSON, whatever the text). The report pages
  embed none; the gallery page holds its data as one JSON block written by
  `reports.gallery.inline_json` (``<``, ``>`` and ``&`` as JSON unicode escapes, so no string can
  end the block), read by its script as text.
- HTML: Jinja2 autoescape on every template (reports.render.html); no template marks user text
  safe, a table cell's links and short model names are built from escaped pieces
  (`reports.tables`), and the Content-Security-Policy allows only the report's own script.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from reports.tables import ReportTable

TABLE_FORMATS = ("csv", "json", "md", "latex")
SUFFIX = {"csv": ".csv", "json": ".json", "md": ".md", "latex": ".tex"}


def records_json(frame: pd.DataFrame) -> str:
    """The rows of `frame` as a JSON array of objects (NaN as null), by pandas' C encoder."""
    if frame.empty:
        return "[]"
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    return frame.to_json(orient="records", force_ascii=False, double_precision=10)


def table_json(table: ReportTable) -> str:
    """One table as JSON text: key, title, caption, flags, footnotes, columns and rows (data)."""
    head = {
        "key": table.key,
        "title": table.title,
        "caption": table.caption,
        "flags": list(table.flags),
        "footnotes": list(table.footnotes),
        "columns": [str(c) for c in table.data.columns],
    }
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": ' + records_json(table.data) + "}"


# --------------------------------------------------------------------------- Markdown


_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Characters that open inline syntax anywhere in a line: code spans, emphasis, links and images,
# table cells, strikethrough, a heading's closing sequence, hard breaks (a trailing backslash).
_MD_INLINE = set("\\`*_[]|~#")
_MD_BREAKS = re.compile(r"[\r\n\t\f\v]+")
# Block markers that only count at the start of a line (lists, setext underline, thematic break).
_MD_LEADING = re.compile(r"^(?:[-+=](?=[-+=\s]|$)|\d{1,9}(?=[.)](?:\s|$)))")


def md_escape(text: object) -> str:
    """`text` as literal Markdown text: the one escaping function of every Markdown output."""
    text = _MD_BREAKS.sub(" ", str(text)).strip()
    out = "".join(_MD_ENTITY.get(ch) or (f"\\{ch}" if ch in _MD_INLINE else ch) for ch in text)
    m = _MD_LEADING.match(out)
    if m:  # `1986. A year` would start an ordered list: escape the dot; `- x` a bullet list
        end = m.end()
        out = out[:end] + "\\" + out[end:] if m.group()[0].isdigit() else "\\" + out
    return out


def _numeric_column(rows: list[list[str]], column: int) -> bool:
    """Right-align numbers only: a column of labels or prompts reads from the left."""
    cells = [row[column].strip() for row in rows if row[column].strip() not in ("", "n/a", "-")]
    return bool(cells) and all(_PLAIN_NUMBER.fullmatch(c.rstrip("%")) for c in cells)


def to_markdown(table: ReportTable, *, heading: int = 3) -> str:
    lines = [f"{'#' * heading} {md_escape(table.title)}", ""]
    for flag in table.flags:
        lines += [f"> **Warning:** {md_escape(flag)}", ""]
    if table.caption:
        lines += [md_escape(table.caption), ""]
    columns = table.columns
    if not columns:
        return "\n".join(lines + ["(empty)", ""])
    rows = list(table.rows())
    lines.append("| " + " | ".join(md_escape(c) for c in columns) + " |")
    lines.append("|" + "|".join(" ---: " if _numeric_column(rows, i) else " --- " for i in range(len(columns))) + "|")
    for r, row in enumerate(rows):
        cells = [(f"**{md_escape(v)}**" if (r, c) in table.bold and v.strip() else md_escape(v)) for c, v in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    if table.footnotes:
        lines.append("")
        lines += [f"- {md_escape(n)}" for n in table.footnotes]
    lines.append("")
    return "\n".join(lines)


def markdown_report(title: str, generated_at: str, warnings: Iterable[str],
                    pages: Iterable[tuple[str, Iterable[ReportTable]]]) -> str:
    """report.md: the title, the warnings, then each page's title and tables."""
    parts = [f"# {md_escape(title)}", "", f"Generated {md_escape(generated_at)}.", ""]
    parts += [f"> **Warning:** {md_escape(w)}\n" for w in warnings]
    for page_title, tables in pages:
        parts.append(f"## {md_escape(page_title)}\n")
        parts += [to_markdown(t) for t in tables]
    return "\n".join(parts)


# --------------------------------------------------------------------------- LaTeX

_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    '"': "''",
    # `\\` at the end of a row or note would read a following `[` as its optional length.
    "[": "{[}", "]": "{]}", "|": r"\textbar{}",
}
# Line breaks (a blank line ends a \caption's argument with an error), form feed (active: \par),
# DEL (invalid) and the other control characters become spaces.
_LATEX_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def latex_escape(text: object) -> str:
    """`text` as literal LaTeX text: the one escaping function of every LaTeX output. No backslash
    of the input survives, so `\\input`, `\\write18` or `\\catcode` print as text."""
    return "".join(_LATEX.get(ch, ch) for ch in _LATEX_CONTROL.sub(" ", str(text)))


def to_latex(table: ReportTable) -> str:
    """A booktabs table (needs \\usepackage{booktabs}); the first two columns left, the rest right."""
    columns = table.columns
    align = "".join("l" if i < 2 else "r" for i in range(len(columns))) or "l"
    lines = [
        "% generated by stepeval reports; needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
        f"\\caption{{{latex_escape(table.title)}}}",
        f"\\label{{tab:{table.key}}}",
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(latex_escape(c) for c in columns) + " \\\\",
        "\\midrule",
    ]
    rows = table.rows()
    for r, row in enumerate(rows):
        if table.footer_rows and r == len(rows) - table.footer_rows:
            lines.append("\\midrule")
        cells = [(f"\\textbf{{{latex_escape(v)}}}" if (r, c) in table.bold and v else latex_escape(v)) for c, v in enumerate(row)]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    notes = [*table.flags, *table.footnotes]
    if notes:
        lines.append("\\par\\smallskip\\footnotesize")
        lines += [latex_escape(n) + "\\\\" for n in notes]
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- CSV

# What makes Excel, LibreOffice or Google Sheets evaluate a cell as a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as written: text that would start a formula gets a leading
    `'`; numbers, text that is exactly a number, and anything not text pass unchanged (idempotent)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as written to CSV: `csv_cell` on every column name and every text cell."""
    out = frame.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
                or pd.api.types.is_datetime64_any_dtype(column)):
            out.isetitem(i, column.map(csv_cell).astype(object))
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out


# --------------------------------------------------------------------------- files


def write_table(table: ReportTable, folder: Path, formats: tuple[str, ...]) -> list[Path]:
    paths = []
    if any(f in TABLE_FORMATS for f in formats):
        folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        if fmt not in TABLE_FORMATS:
            continue
        path = folder / f"{table.key}{SUFFIX[fmt]}"
        if fmt == "csv":
            csv_frame(table.data).to_csv(path, index=False)
        elif fmt == "json":
            path.write_text(table_json(table), encoding="utf-8")
        elif fmt == "md":
            path.write_text(to_markdown(table), encoding="utf-8")
        else:
            path.write_text(to_latex(table), encoding="utf-8")
        paths.append(path)
    return paths
