"""Every number of a report one click from the videos behind it.

`link_report` runs on an assembled report (`reports.build.assemble_report`) and:

- gives every table the short model names (`stepeval.generation.tags.display_names`; the full tag
  on hover, and in CSV/JSON/Markdown/LaTeX);
- links cells and chart points to gallery addresses (`reports.gallery.href`): a Table 2 count to
  exactly the items with that per-item label for that pair, dimension and domain; a leaderboard
  row to that model's videos; a Table 3 value, a per-video score mean and a motion point to that
  model's videos sorted by that metric, best and worst first; an item to its videos;
- adds the "Videos" section to the index page (the gallery, per model, the motion sweeps).

Links are found from each table's own data (`ReportTable.data`) and its printed labels, the way
`reports.build` made them; rows and columns marked as not this run's (published numbers) get none.
"""

from __future__ import annotations

import re

import pandas as pd

from reports import breakdowns
from reports.gallery import Gallery, href
from reports.judgments import dimension_name, domain_name
from reports.render.page import Block, Page, Section
from reports.tables import ReportTable
from reports.vbench_table import AGGREGATE_NAMES, MOTION_METRIC, motion_family
from reports.vbench_table import PREFIX as VBENCH_PREFIX
from stepeval.generation.tags import display_names
from stepeval.metrics.aggregate import BY_KEY, DIMENSION_KEYS

_WTL = re.compile(r"^(\d+)-(\d+)-(\d+)$")
OUTCOMES = ("win", "tie", "loss")


def _rows(table: ReportTable):
    """(row position, display row as {column: text}) of the rows that are this run's own."""
    columns = [str(c) for c in table.display.columns]
    for r, values in enumerate(table.display.to_numpy().tolist()):
        if r not in table.row_marks:
            yield r, dict(zip(columns, values))


def _cols(table: ReportTable, names) -> dict[str, int]:
    """Column name -> position, for the columns among `names` that are this run's own."""
    return {str(c): k for k, c in enumerate(table.display.columns) if str(c) in names and k not in table.column_marks}


def _wtl_link(text: str, base: list[tuple[str, object]], key: str, root: str) -> list[tuple[str, str | None]] | None:
    """A W-T-L cell as three links: wins, ties, losses, each to its own items (no link for a 0)."""
    m = _WTL.match(str(text).strip())
    if not m:
        return None
    pieces: list[tuple[str, str | None]] = []
    for k, (count, outcome) in enumerate(zip(m.groups(), OUTCOMES)):
        if k:
            pieces.append(("-", None))
        pieces.append((count, root + href([*base, (key, outcome)]) if int(count) else None))
    return pieces


def _label_map(values, namer) -> dict[str, str]:
    return {namer(v): v for v in pd.unique(pd.Series(list(values), dtype=object))}


# --------------------------------------------------------------------------- per table kind


def _table2(table: ReportTable, root: str, *, key: str, judge: str = "") -> None:
    """Rows dimension x domain + Total, one column per opponent (reports.pairwise.table2)."""
    data = table.data
    if data.empty or "focal" not in data.columns:
        return
    focal = str(data["focal"].iloc[0])
    dims = _label_map([d for d in data["dimension"] if d != "total"], dimension_name)
    doms = _label_map([d for d in data["domain"] if d != ""], domain_name)
    opponents = _cols(table, set(map(str, data["opponent"])))
    for r, row in _rows(table):
        label, dom = str(row.get("Dimension", "")), str(row.get("Domain", ""))
        if label == "Total":
            dim, domain = "*", ""
        elif label in dims and dom in doms:
            dim, domain = dims[label], doms[dom]
        else:
            continue
        for opp, c in opponents.items():
            base = [("a", focal), ("b", opp), ("dim", dim), ("domain", domain), ("judge", judge)]
            pieces = _wtl_link(table.display.iat[r, c], base, key, root)
            if pieces:
                table.links[(r, c)] = pieces


def _stats(table: ReportTable, root: str, focal: str) -> None:
    """Win-rate rows (reports.statistics.cell_statistics): one per cell and per total."""
    data = table.data
    cols = _cols(table, {"W-T-L", "All votes W-T-L"})
    if data.empty or "opponent" not in data.columns or len(data) != len(table.display):
        return
    records = data.to_dict("records")
    for r, _ in _rows(table):
        x = records[r]
        dim = "*" if x["dimension"] == "*" else x["dimension"]
        domain = "" if x["domain"] == "*" else x["domain"]
        base = [("a", focal), ("b", x["opponent"]), ("dim", dim), ("domain", domain)]
        for name, c in cols.items():
            pieces = _wtl_link(table.display.iat[r, c], base, "vote" if name.startswith("All votes") else "outcome", root)
            if pieces:
                table.links[(r, c)] = pieces


def _by_group(table: ReportTable, root: str, focal: str, by: str) -> None:
    """Per-item W-T-L by domain, aspect or category (reports.breakdowns.pairwise_breakdown)."""
    data = table.data
    cols = _cols(table, {"W-T-L"})
    if data.empty or not cols or len(data) != len(table.display):
        return
    records = data.to_dict("records")
    c = cols["W-T-L"]
    for r, _ in _rows(table):
        x = records[r]
        base = [("a", focal), ("b", x["opponent"]), ("dim", x["dimension"]), (by, x["group"])]
        pieces = _wtl_link(table.display.iat[r, c], base, "outcome", root)
        if pieces:
            table.links[(r, c)] = pieces


def _model_column(table: ReportTable, root: str, column: str, models: set[str]) -> None:
    """A column naming a model: the cell opens that model's videos."""
    cols = _cols(table, {column})
    if not cols:
        return
    c = cols[column]
    for r, row in _rows(table):
        tag = str(row[column])
        if tag in models:
            table.links[(r, c)] = root + href([("model", tag)])


def _matrix(table: ReportTable, root: str, models: set[str]) -> None:
    """Row model against column model (win fraction, battles): the pair's judged items."""
    cols = _cols(table, models)
    for r, row in _rows(table):
        a = str(row.get("Model", ""))
        if a not in models:
            continue
        for b, c in cols.items():
            if b != a and str(table.display.iat[r, c]) not in ("", "n/a", "0"):
                table.links[(r, c)] = root + href([("a", a), ("b", b), ("dim", "*")])
        table.links[(r, 0)] = root + href([("model", a)])


def _table3(table: ReportTable, root: str, models: set[str]) -> None:
    """VBench-I2V dimension rows x model columns: that model's videos by that dimension."""
    keys = {BY_KEY[k].name: k for k in DIMENSION_KEYS}
    aggregates = set(AGGREGATE_NAMES.values())
    cols = _cols(table, models)
    for r, row in _rows(table):
        name = str(row.get("Dimension", ""))
        for tag, c in cols.items():
            if str(table.display.iat[r, c]) in ("", "n/a"):
                continue
            if name in keys:
                table.links[(r, c)] = root + href([("model", tag), ("sort", VBENCH_PREFIX + keys[name]), ("order", "ends")])
            elif name in aggregates:
                table.links[(r, c)] = root + href([("model", tag)])


def _sweep(table: ReportTable, root: str, families: set[str]) -> None:
    """Motion-sweep rows (family, requested): the strip of that family, and the model's videos by
    each dimension and by measured motion."""
    data = table.data
    if data.empty or len(data) != len(table.display):
        return
    records = data.to_dict("records")
    dim_cols = _cols(table, {BY_KEY[k].name for k in DIMENSION_KEYS})
    by_name = {BY_KEY[k].name: k for k in DIMENSION_KEYS}
    cols = _cols(table, {"Family", "Requested motion", "Measured motion"})
    for r, _ in _rows(table):
        x = records[r]
        tag = str(x["model_tag"])
        if "Family" in cols and x["family"] in families:
            table.links[(r, cols["Family"])] = root + href([("family", x["family"])])
        if "Requested motion" in cols:
            table.links[(r, cols["Requested motion"])] = root + href([("model", tag)])
        if "Measured motion" in cols and str(table.display.iat[r, cols["Measured motion"]]) != "n/a":
            table.links[(r, cols["Measured motion"])] = root + href([("model", tag), ("sort", MOTION_METRIC), ("order", "ends")])
        for name, c in dim_cols.items():
            if str(table.display.iat[r, c]) != "n/a":
                table.links[(r, c)] = root + href([("model", tag), ("sort", VBENCH_PREFIX + by_name[name]), ("order", "ends")])


def _motion(table: ReportTable, root: str, families: set[str]) -> None:
    """Requested vs measured motion per model tag."""
    data = table.data
    if data.empty or len(data) != len(table.display):
        return
    records = data.to_dict("records")
    cols = _cols(table, {"Family", "Model tag", "Measured mean", "Videos"})
    for r, _ in _rows(table):
        x = records[r]
        tag = str(x["model_tag"])
        if "Family" in cols and x["family"] in families:
            table.links[(r, cols["Family"])] = root + href([("family", x["family"])])
        for name in ("Model tag", "Videos"):
            if name in cols:
                table.links[(r, cols[name])] = root + href([("model", tag)])
        if "Measured mean" in cols and str(table.display.iat[r, cols["Measured mean"]]) != "n/a":
            table.links[(r, cols["Measured mean"])] = root + href([("model", tag), ("sort", MOTION_METRIC), ("order", "ends")])


def _scores(table: ReportTable, root: str, models: list[str], by: str | None) -> None:
    """Per-video score means (by group, or overall): that model's videos in that group, by that metric."""
    data = table.data
    if data.empty:
        return
    if by is None:
        wide = data.pivot_table(index="metric", columns="model_tag", values="mean", aggfunc="first", sort=False).reset_index()
        wide.insert(0, "group", "")
    else:
        wide = breakdowns.score_breakdown_wide(data, models)
    if len(wide) != len(table.display):
        return
    cols = _cols(table, set(models))
    metrics, groups = wide["metric"].tolist(), wide["group"].tolist()
    for r, _ in _rows(table):
        metric, group = str(metrics[r]), str(groups[r])
        for tag, c in cols.items():
            if str(table.display.iat[r, c]) in ("", "n/a"):
                continue
            params = [("model", tag)]
            if by is not None and group != "(none)":
                params.append((by, group))
            table.links[(r, c)] = root + href([*params, ("sort", metric), ("order", "ends")])


def _items(table: ReportTable, root: str, pair: tuple[str, str] | None) -> None:
    """A table of items: the item cell (and the cells of its row) open its videos."""
    cols = _cols(table, {"Item"})
    if not cols:
        return
    c = cols["Item"]
    extra = [("a", pair[0]), ("b", pair[1])] if pair else []
    # The item and its outcome or video-count cells; not the prompt (long text to read, not a target).
    linked = [k for k, name in enumerate(map(str, table.display.columns))
              if k == c or name not in ("Domain", "Aspect", "Prompt")]
    for r, row in _rows(table):
        link = root + href([("item", str(row["Item"])), *extra])
        for k in linked:
            if str(table.display.iat[r, k]):
                table.links.setdefault((r, k), link)


# --------------------------------------------------------------------------- the pass


def _page_focal(page: Page, default: str | None) -> tuple[str | None, str | None]:
    """(focal, opponent) of a comparison page from its W-T-L table's data; the report's focal on the index."""
    for t in page.tables:
        if t.key.endswith("-cells") and "focal" in t.data.columns and len(t.data):
            return str(t.data["focal"].iloc[0]), str(t.data["opponent"].iloc[0])
    return default, None


def videos_section(g: Gallery) -> Section:
    """The index page's way into the gallery."""
    shown = "prompt" if g.text_only else "input image, prompt"
    sec = Section("videos", "Videos", intro=(
        f"Every item's {shown} and every model's video side by side, playing in step, with the per-video "
        "metrics and, where people judged a pair, their labels. Numbers in the tables link to the videos behind them."))
    n_items, n_models = len(g.items), len(g.models)
    links = [(href(), "All items", f"{n_items} item(s) x {n_models} model(s)")]
    if g.has_human:
        links.append((href([("sort", "disagree")]), "Where the metrics and the people disagree most", ""))
    for f in g.families:
        links.append((href([("family", f["family"])]), f"Motion sweep strips: {f['family']}",
                      f"{f['param']} " + ", ".join(f"{v:g}" for v in f["requested"])))
    for tag in g.models:
        have = sum(1 for (t, _), v in g.videos.items() if t == tag and v["status"] == "ok")
        links.append((href([("model", tag)]), g.names.get(tag, tag), f"{have} video(s)"))
    sec.blocks.append(Block("links", links=links))
    return sec


def link_report(report, g: Gallery, focal: str | None) -> None:
    """Names and links on every table and chart of `report`, and the index page's Videos section."""
    names = display_names(g.models)
    models = set(g.models)
    families = {f["family"] for f in g.families}
    # A point of the requested-vs-measured chart (family, requested level) stands for one model tag.
    points = {(fam[0], float(fam[1])): tag for tag in g.models if (fam := motion_family(tag)) is not None}
    for page in report.pages:
        root = page.root
        page_focal, opponent = _page_focal(page, focal)
        for table in page.tables:
            table.names = names
            key = table.key
            base = key[len("auto-"):] if key.startswith("auto-") else key
            cmp = key.startswith("cmp-")
            if base == "table2" or (cmp and key.endswith("-cells")):
                _table2(table, root, key="outcome", judge="auto" if key.startswith("auto-") else "")
            elif base == "table2-votes":
                _table2(table, root, key="vote")
            elif base == "table2-stats" or (cmp and key.endswith("-stats")):
                if page_focal:
                    _stats(table, root, page_focal)
            elif base == "leaderboard":
                _model_column(table, root, "Model", models)
            elif base in ("win-fraction", "battles"):
                _matrix(table, root, models)
            elif key == "vbench":
                _table3(table, root, models)
            elif key == "motion-sweep":
                _sweep(table, root, families)
            elif key == "motion":
                _motion(table, root, families)
            elif key == "models":
                _model_column(table, root, "Model tag", models)
            elif key == "scores-overall":
                _scores(table, root, g.models, None)
            elif key.startswith("scores-by-"):
                _scores(table, root, g.models, key[len("scores-by-"):])
            elif key == "run-items":
                _items(table, root, None)
            elif cmp and key.endswith("-items"):
                _items(table, root, (page_focal, opponent) if page_focal and opponent else None)
            elif "pairwise-by-" in key and page_focal:
                _by_group(table, root, page_focal, key.rsplit("-by-", 1)[1])
        for section in page.sections:
            for block in section.blocks:
                if block.kind == "chart" and block.chart is not None:
                    _chart(block.chart, root, names, points, models)
    index = report.index
    at = next((k + 1 for k, s in enumerate(index.sections) if s.id == "overview"), 0)
    index.sections.insert(at, videos_section(g))


def _chart(chart, root: str, names: dict[str, str], points: dict[tuple[str, float], str], models: set[str]) -> None:
    for e in chart.elements:
        if chart.kind == "line" and chart.key == "motion" and len(e.ref) == 2 and (e.ref[0], float(e.ref[1])) in points:
            tag = points[(e.ref[0], float(e.ref[1]))]
            e.href = root + href([("model", tag), ("sort", MOTION_METRIC), ("order", "ends")])
        elif chart.kind == "forest" and len(e.ref) == 1 and e.ref[0] in models:
            e.href = root + href([("model", e.ref[0])])
        if e.tag == "text" and e.text in names and names[e.text] != e.text:
            e.title = e.title or e.text
            e.text = names[e.text]
