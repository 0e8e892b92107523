"""HTML pages from `Page` objects, through the Jinja2 templates in reports/templates/.

Autoescape is on for every template and every string, so prompts, model tags and annotator names
are always text. The only markup inserted unescaped is the report's own CSS and script, read from
the package; the page's Content-Security-Policy allows exactly that script (by its hash), so even a
string that somehow escaped the escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from reports.render.formats import SUFFIX
from reports.render.page import Page
from stepeval import __version__

FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "md": "Markdown", "latex": "LaTeX"}


TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@lru_cache(maxsize=8)
def _asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # all templates, whatever their suffix
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def render_page(page: Page, *, template: str, run_name: str, generated_at: str, stats_note: str,
                table_formats: tuple[str, ...]) -> str:
    script = _asset("sortable.js")
    formats = [(f, SUFFIX[f], FORMAT_LABELS[f]) for f in table_formats if f in FORMAT_LABELS]
    return environment().get_template(template).render(
        page=page,
        css=Markup(_asset("style.css")),
        script=Markup(script),
        script_hash=script_hash(script),
        version=__version__,
        run_name=run_name,
        generated_at=generated_at,
        stats_note=stats_note,
        formats=formats,
    )
