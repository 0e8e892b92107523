"""Renderers: HTML pages (Jinja2 templates in reports/templates/, inline SVG charts, sortable
tables) and CSV / JSON / Markdown / LaTeX files for each table, each format with one escaping
function for user text (see reports.render.formats)."""

from reports.render.formats import (TABLE_FORMATS, csv_cell, csv_frame, latex_escape, markdown_report, md_escape,
                                    table_json, to_latex, to_markdown, write_table)
from reports.render.html import render_page
from reports.render.page import Block, Page, Section, slugify

__all__ = ["TABLE_FORMATS", "Block", "Page", "Section", "csv_cell", "csv_frame", "latex_escape", "markdown_report",
           "md_escape", "render_page", "slugify", "table_json", "to_latex", "to_markdown", "write_table"]
