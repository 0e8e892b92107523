"""Published numbers in a report: chosen columns of reference results (`stepeval.published`) shown
beside the run's own, and the checks of every print shown.

Published values are shown, never used: they are added to a table's printed `display` as columns
or rows marked ``published`` (a CSS class and a badge in HTML, "[published]" in every heading), after
the measured table and its bold "best" cells are complete, so they can enter no statistic, no
ranking and no best-of-row. The tables' `data` (CSV, JSON) stay measurements only; the published
values are in their own table (`published-values`) and the checks in `published-checks` and in
report.json's ``meta.published``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reports.judgments import dimension_name, domain_name
from reports.render.page import Section
from reports.tables import ReportTable
from stepeval.errors import UserError
from stepeval.metrics.aggregate import BY_KEY, DIMENSION_KEYS
from stepeval.published import Chosen, PairwiseTable, PublishedResults, VBenchTable, parse_selector, resolve
from stepeval.published.checks import Check, check_reference, summary
from stepeval.published.schema import AGGREGATE_KEYS
from stepeval.published.store import Entry, Selector, load

MARK = "published"
AGGREGATE_NAMES = {"quality": "Quality Score", "i2v": "I2V Score", "total": "Total Score"}


@dataclass
class PublishedView:
    """What a report shows of published results."""

    chosen: list[Chosen] = field(default_factory=list)  # columns shown beside the run's (--published)
    compare: list[Selector] = field(default_factory=list)  # columns compared with the run (--compare-published)
    paths: list[str] = field(default_factory=list)
    references: dict[str, tuple[PublishedResults, Entry]] = field(default_factory=dict)
    checks: dict[str, list[Check]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.references

    def of_kind(self, kind: type) -> list[Chosen]:
        return [c for c in self.chosen if isinstance(c.table, kind)]

    def column_findings(self, chosen: Chosen) -> list[Check]:
        return [c for c in self.checks.get(chosen.reference.name, [])
                if c.table == chosen.table.id and c.column == chosen.column_id and c.is_finding]

    def meta(self) -> dict:
        return {
            "references": [{"name": n, "title": r.source.title, "date": r.source.date, "url": r.source.url,
                            "file": str(e.path), "shipped": e.shipped} for n, (r, e) in self.references.items()],
            "shown": [{"reference": c.reference.name, "table": c.table.id, "column": c.column_id} for c in self.chosen],
            "compared": [str(s) for s in self.compare],
            "checks": {n: {"summary": summary(cs), "findings": [c.to_dict() for c in cs if c.is_finding]}
                       for n, cs in self.checks.items()},
        }


def prepare(published: Sequence[str] = (), compare: Sequence[str] = (), paths: Sequence[str | Path] = ()) -> PublishedView:
    """Resolve the selectors (UserError for an unknown reference or column) and check every
    reference involved."""
    view = PublishedView(paths=[str(p) for p in paths])
    if not published and not compare:
        return view
    view.chosen = resolve(list(published), view.paths)
    view.compare = [parse_selector(s, allow_model=True) for s in compare]
    for sel in view.compare:
        if sel.column is None:
            raise UserError(f"--compare-published needs a column: {sel.name}:COLUMN",
                            hint="`stepeval published list` shows each reference's columns")
    names = list(dict.fromkeys([c.reference.name for c in view.chosen] + [s.name for s in view.compare]))
    for name in names:
        view.references[name] = load(name, view.paths)
        view.checks[name] = check_reference(view.references[name][0])
    return view


def _header(chosen: Chosen, taken: set[str]) -> str:
    name = f"{chosen.column.label} [{MARK}]"
    if name in taken:
        name = f"{chosen.column.label} [{MARK}: {chosen.reference.name}]"
    return name


def _source_note(header: str, chosen: Chosen) -> str:
    src = chosen.reference.source
    when = f", {src.date}" if src.date else ""
    return (f"{header}: as printed in {src.title}{when}, {chosen.table.source.table} (reference {chosen.reference.name!r}); "
            f"not measured in this run, not ranked, not part of any statistic.")


def _finding_notes(table: ReportTable, header: str, found: list[Check]) -> None:
    """The print's disagreements with itself, under the table that shows the column: each one when
    few, else how many (the checks table has them all)."""
    bad = [f for f in found if f.verdict == "disagreement"]
    if len(bad) <= 2:
        table.footnotes += [f"{header}: the print disagrees with itself: {f.message}" for f in bad]
    else:
        table.footnotes.append(f"{header}: the print disagrees with itself in {len(bad)} places (largest: "
                               f"{max(bad, key=lambda f: f.magnitude).message}); every one is listed under "
                               "'Published results and their checks'.")


# --------------------------------------------------------------------------- Table 3


def add_to_table3(table: ReportTable, view: PublishedView) -> None:
    """Published VBench-I2V columns beside the measured ones (rows: the nine dimensions, then
    Quality, I2V and Total, as `reports.vbench_table.table3` orders them)."""
    keys = [*DIMENSION_KEYS, *AGGREGATE_KEYS]
    if len(table.display) != len(keys):  # pragma: no cover - table3's shape is fixed
        raise ValueError("Table 3 has an unexpected shape")
    order = {k: i for i, k in enumerate(keys)}
    for chosen in view.of_kind(VBenchTable):
        t: VBenchTable = chosen.table  # type: ignore[assignment]
        col = chosen.column
        printed = {**t.printed_values(col), **t.printed_aggregates(col)}
        scale = t.definitions.scale
        cells = []
        for k in sorted(keys, key=order.get):
            p = printed.get(k)
            if p is None:
                cells.append("n/a")
            else:
                cells.append(p.text if scale == 100 else f"{p.value / scale * 100:.2f}")
        header = _header(chosen, set(table.columns))
        table.add_column(header, cells, mark=MARK)
        table.footnotes.append(_source_note(header, chosen))
        _finding_notes(table, header, view.column_findings(chosen))


# --------------------------------------------------------------------------- Table 2


def add_to_table2(table: ReportTable, dimensions: Sequence[str], domains: Sequence[str], view: PublishedView) -> None:
    """Published W-T-L columns next to the run's: rows dimension x domain in the run's order, then
    the printed total."""
    rows = [(d, m) for d in dimensions for m in domains]
    for chosen in view.of_kind(PairwiseTable):
        t: PairwiseTable = chosen.table  # type: ignore[assignment]
        col = chosen.column
        cells = [(str(c) if (c := col.cell(d, m)) is not None else "n/a") for d, m in rows]
        cells.append(col.total if col.total is not None else "n/a")
        if len(cells) != len(table.display):  # pragma: no cover - table2's shape is fixed
            raise ValueError("Table 2 has an unexpected shape")
        header = _header(chosen, set(table.columns))
        table.add_column(header, cells, mark=MARK)
        note = _source_note(header, chosen) + f" W-T-L from {t.focal}'s side."
        missing = [f"{dimension_name(d)} / {domain_name(m)}" for d, per in col.cells.items() for m in per if (d, m) not in rows]
        if missing:
            note += f" Not shown (the run has no such row): {', '.join(missing)}; the printed total includes them."
        if col.refused:
            note += f" {col.refused.text or f'{col.refused.count} prompts were refused.'}"
        table.footnotes.append(note)
        _finding_notes(table, header, view.column_findings(chosen))


# --------------------------------------------------------------------------- leaderboard


def add_to_leaderboard(table: ReportTable, view: PublishedView) -> None:
    """One unranked row per published W-T-L column: its model's printed battles against the
    publication's focal model and its observed score (ties half), from the printed cells."""
    for chosen in view.of_kind(PairwiseTable):
        t: PairwiseTable = chosen.table  # type: ignore[assignment]
        col = chosen.column
        cells = [col.cell(d, m) for d in col.cells for m in col.cells[d]]
        n = sum(c.n for c in cells)
        if n == 0:
            continue
        score = sum(c.losses + c.ties / 2 for c in cells) / n
        label = f"{col.label} vs {t.focal} [{MARK}]"
        values = {c: "n/a" for c in table.columns}
        values.update({"Rank": "-", "Model": label, "Battles": str(n), "Observed score": f"{score:.3f}"})
        table.add_row(values, mark=MARK)
        table.footnotes.append(
            f"{label}: {chosen.reference.source.title}, {t.source.table}: {col.label}'s share of its printed judgments "
            f"against {t.focal} (ties half), summed over the printed cells; no rating (a single printed pair cannot be "
            f"placed on this run's scale), not ranked.")


# --------------------------------------------------------------------------- the section


def _values_frame(view: PublishedView) -> pd.DataFrame:
    rows = []
    for c in view.chosen:
        base = {"reference": c.reference.name, "table": c.table.id, "column": c.column_id, "model": c.column.model}
        if isinstance(c.table, VBenchTable):
            scale = c.table.definitions.scale
            for k, p in {**c.table.printed_values(c.column), **c.table.printed_aggregates(c.column)}.items():
                rows.append({**base, "key": k, "domain": "", "printed": p.text, "value": p.value / scale})
        else:
            for d, per in c.column.cells.items():
                for m, text in per.items():
                    rows.append({**base, "key": d, "domain": m, "printed": text, "value": math.nan})
            if c.column.total is not None:
                rows.append({**base, "key": "total", "domain": "", "printed": c.column.total, "value": math.nan})
    return pd.DataFrame(rows, columns=["reference", "table", "column", "model", "key", "domain", "printed", "value"])


def _check_display(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame({
        "Reference": [c.reference for c in checks], "Table": [c.table for c in checks], "Column": [c.column for c in checks],
        "Checked": [c.quantity for c in checks], "Printed": [c.printed for c in checks],
        "From its printed parts": [c.recomputed for c in checks],
        "Difference": ["n/a" if math.isnan(c.difference) else f"{c.difference:+.4g}" for c in checks],
        "Rounding explains up to": ["n/a" if math.isnan(c.allowance) else f"{c.allowance:.4g}" for c in checks],
        "Verdict": [c.verdict for c in checks], "Detail": [c.message + (f" {c.note}" if c.note else "") for c in checks],
    }, columns=["Reference", "Table", "Column", "Checked", "Printed", "From its printed parts", "Difference",
                "Rounding explains up to", "Verdict", "Detail"])


def section(view: PublishedView) -> Section | None:
    """Sources of the published numbers shown, and every check of their prints."""
    if view.empty:
        return None
    sec = Section("published", "Published results and their checks", badge=MARK, intro=(
        "Numbers as printed in publications, shown beside this run's where chosen (--published) and never mixed into its "
        "statistics or rankings. Every printed aggregate is recomputed from its own printed parts: a difference is "
        "display rounding when the rounding of the printed inputs, carried through the formula, explains it, else a "
        "real disagreement (docs/published-results.md)."))
    src_rows = []
    for name, (ref, entry) in view.references.items():
        src_rows.append({"reference": name, "title": ref.source.title, "authors": ref.source.authors or "",
                         "date": ref.source.date or "", "url": ref.source.url or "",
                         "tables": ", ".join(f"{t.id} ({t.source.table})" for t in ref.tables),
                         "file": str(entry.path) + (" (shipped)" if entry.shipped else "")})
    src = pd.DataFrame(src_rows)
    sec.table(ReportTable("published-sources", "Published references", src,
                          src.rename(columns=str.capitalize).rename(columns={"Url": "URL"})))
    checks = [c for cs in view.checks.values() for c in cs]
    counts = summary(checks)
    shown = [c for c in checks if c.is_finding]
    data = pd.DataFrame([c.to_dict() for c in checks])
    table = ReportTable("published-checks", "Checks of the printed numbers against their own printed parts", data,
                        _check_display(shown), caption=(
                            f"{len(checks)} checks: {counts['match']} match, {counts['rounding']} display rounding, "
                            f"{counts['disagreement']} real disagreement(s), {counts['unchecked']} unchecked. Shown: every "
                            "check that is not a match (all of them in the CSV/JSON). Difference = printed - recomputed, "
                            "in printed units (x100 for VBench, pairs for W-T-L)."))
    if not shown:
        table.footnotes.append("Every printed aggregate matches its printed parts.")
    sec.table(table)
    if view.chosen:
        values = _values_frame(view)
        sec.table(ReportTable("published-values", "Published values shown in this report", values,
                              values.drop(columns=["value"]).rename(columns=str.capitalize),
                              caption="The published columns chosen for this report, as printed (VBench values: "
                                      "`value` is the raw value, printed / scale)."))
    return sec


def vbench_dimension_name(key: str) -> str:
    return BY_KEY[key].name if key in BY_KEY else AGGREGATE_NAMES.get(key, key)
