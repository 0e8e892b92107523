"""Assemble a report from its inputs and write it: `build_report(run_dir, out_dir, ...)`.

`assemble_report` turns `ReportInputs` into pages of `ReportTable`s and charts (pure: tables in,
tables out); `write_report` renders them (HTML, CSV, JSON, Markdown, LaTeX) into a new folder and
swaps it into place, so an interrupted build never leaves a half-written report behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reports import auto_judgments as auto_mod
from reports import breakdowns, leaderboard, pairwise, statistics, vbench_t2v_table, vbench_table
from reports import gallery as gallery_mod
from reports import links as links_mod
from reports import published as published_mod
from reports import metric_agreement, published_compare
from reports.inputs import ReportInputs, load_inputs
from reports.judgments import dimension_name, domain_name, empty_judgments, ordered_dimensions, prepare_judgments
from reports.render import charts
from reports.render.formats import TABLE_FORMATS, markdown_report, table_json, write_table
from reports.render.html import render_page
from reports.render.page import Block, Page, Section, slugify
from reports.tables import ReportTable, fmt_interval, fmt_p, format_frame
from stepeval import __version__
from stepeval.benchmark.items import T2V
from stepeval.errors import UserError
from stepeval.human.dimensions import dimension_label

FORMATS = ("html", "csv", "json", "md", "latex")
MARKER = ".stepeval-report"
VOTE_WORDS = {1: "Win", 0: "Tie", -1: "Loss"}


@dataclass
class ReportOptions:
    n_bootstrap: int = 2000
    seed: int = 0
    confidence: float = 0.95
    focal: str | None = None
    auto: bool = True
    auto_margin: float = auto_mod.DEFAULT_MARGIN
    # Published results (docs/published-results.md); empty = the run config's report.* keys.
    published: tuple[str, ...] = ()
    published_paths: tuple[str, ...] = ()
    compare_published: tuple[str, ...] = ()
    # Table 2's opponents in this order (empty = the run config's report.table2_columns, else run order).
    table2_columns: tuple[str, ...] = ()


@dataclass
class Report:
    run_name: str
    generated_at: str
    index: Page
    comparisons: list[Page]
    warnings: list[str]
    meta: dict
    gallery: gallery_mod.Gallery | None = None  # the videos behind the numbers (written with the HTML)

    @property
    def pages(self) -> list[Page]:
        return [self.index, *self.comparisons]

    @property
    def tables(self) -> list[ReportTable]:
        seen: dict[str, ReportTable] = {}
        for page in self.pages:
            for t in page.tables:
                seen.setdefault(t.key, t)
        return list(seen.values())


@dataclass
class ReportPaths:
    out_dir: Path
    index: Path | None
    pages: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    json: Path | None = None
    markdown: Path | None = None
    warnings: list[str] = field(default_factory=list)
    gallery: Path | None = None
    media: dict = field(default_factory=dict)  # mode, files, encoded, cached (reports.gallery.GalleryOutput)

    @property
    def files(self) -> list[Path]:
        return [p for p in [self.index, *self.pages, self.gallery, *self.tables, self.json, self.markdown] if p is not None]


# --------------------------------------------------------------------------- small display helpers


def _wtl(w, t, l) -> str:
    return f"{int(w)}-{int(t)}-{int(l)}"


def _dim_label(d: str) -> str:
    return "All dimensions" if d == "*" else dimension_name(d)


def _dom_label(d: str) -> str:
    return "All" if d == "*" else domain_name(d)


def _stats_display(stats: pd.DataFrame, *, with_opponent: bool, confidence: float) -> pd.DataFrame:
    pct = f"{confidence:.0%}"
    rows = []
    for r in stats.itertuples(index=False):
        row = {}
        if with_opponent:
            row["Opponent"] = r.opponent
        row.update({
            "Dimension": _dim_label(r.dimension), "Domain": _dom_label(r.domain), "W-T-L": _wtl(r.wins, r.ties, r.losses),
            "N": str(int(r.n)),
            f"W/(W+L) [{pct} Wilson]": fmt_interval(r.win_rate, r.win_rate_low, r.win_rate_high),
            f"(W+T/2)/N [{pct} Wilson]": fmt_interval(r.tie_half, r.tie_half_low, r.tie_half_high),
            f"(W+T/2)/N [{pct} bootstrap]": fmt_interval(r.tie_half, r.boot_low, r.boot_high),
            "Sign test p": fmt_p(r.sign_test_p),
            "All votes W-T-L": _wtl(r.votes_wins, r.votes_ties, r.votes_losses),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def _stats_note(options: ReportOptions) -> str:
    return (f"Wilson {options.confidence:.0%} intervals and two-sided exact sign tests (ties dropped) on per-item "
            f"majority labels; percentile bootstrap intervals from {options.n_bootstrap} resamples of items with all "
            f"their annotators (seed {options.seed}); Bradley-Terry with ties as half wins, Elo scale 400/ln 10.")


def _consistency_flags(pw: pairwise.PairwiseTable, label: str = "") -> list[str]:
    flags = []
    for r in pw.inconsistent.itertuples(index=False):
        flags.append(
            f"Consistency check failed{label}: {pw.focal} vs {r.opponent}, {dimension_name(r.dimension)}, "
            f"{domain_name(r.domain)}: the cell adds up to {r.cell_total} but {r.pairs_judged} pairs were judged "
            f"in that domain ({r.pairs_judged - r.cell_total} item(s) lack a judgment on this dimension)."
        )
    cons = pw.consistency
    for r in cons[cons["impossible"].astype(bool)].itertuples(index=False) if "impossible" in cons.columns else ():
        limits = [f"{int(v)} {what}" for v, what in ((r.pairs_expected, "pair(s) have both videos"),
                                                      (r.domain_size, "item(s) are in the domain")) if pd.notna(v)]
        flags.append(
            f"Consistency check failed{label}: {pw.focal} vs {r.opponent}, {dimension_name(r.dimension)}, "
            f"{domain_name(r.domain)}: the cell counts {r.cell_total} pairs but only {' and '.join(limits)}."
        )
    return flags


def _footnotes(pw: pairwise.PairwiseTable) -> list[str]:
    return [f"vs {opp}: {note}" for opp in pw.opponents for note in pw.footnotes.get(opp, [])]


_orientation = pairwise.orientation


def _pick_focal(options: ReportOptions, inputs: ReportInputs, judged: list[str]) -> str | None:
    wanted = options.focal or (inputs.config.report.focal if inputs.config is not None else None)
    if wanted:
        if judged and wanted not in judged:
            raise UserError(
                f"focal model {wanted!r} has no judgments in this run",
                hint=f"choose one of: {', '.join(judged)}",
            )
        return wanted
    # Studies that all share one model A (one study, or the report's "ours against each engine"):
    # read them from that model's side, as they were set up. Gold items (a model against itself)
    # say nothing about the set-up.
    j = inputs.judgments
    compared = j[j["model_a"] != j["model_b"]] if len(j) else j
    model_a = list(dict.fromkeys(compared["model_a"])) if len(compared) else []
    if len(model_a) == 1 and (not judged or model_a[0] in judged):
        return model_a[0]
    for m in inputs.models:
        if m in judged:
            return m
    return judged[0] if judged else None


def _column_order(opponents: list[str], options: ReportOptions, inputs: ReportInputs, focal: str,
                  warnings: list[str]) -> list[str]:
    """Table 2's opponents: the order the user gave (option, else run config), then any other
    judged opponent in the run's model order; never alphabetical, nothing silently dropped."""
    cfg = inputs.config.report if inputs.config is not None else None
    wanted = [w for v in (options.table2_columns or (cfg.table2_columns if cfg else ())) for w in str(v).split(",") if w.strip()]
    wanted = list(dict.fromkeys(w.strip() for w in wanted))
    missing = [w for w in wanted if w not in opponents]
    if missing:
        warnings.append(f"Table 2 columns asked for but not shown (no usable judgments against {focal}): {', '.join(missing)}.")
    return [w for w in wanted if w in opponents] + [o for o in opponents if o not in wanted]


def _published_view(options: ReportOptions, inputs: ReportInputs) -> published_mod.PublishedView:
    """Published columns to show and compare: the options', else the run config's (report.*)."""
    cfg = inputs.config.report if inputs.config is not None else None
    return published_mod.prepare(
        options.published or (cfg.published if cfg else ()),
        options.compare_published or (cfg.compare_published if cfg else ()),
        [*(cfg.published_paths if cfg else ()), *options.published_paths])


# --------------------------------------------------------------------------- sections


def _overview(inputs: ReportInputs, warnings: list[str]) -> Section:
    gen = inputs.generations
    latest = gen.drop_duplicates(subset=[c for c in ("model_tag", "item_id", "sample") if c in gen.columns], keep="last") if len(gen) else gen
    sc = vbench_table.latest_scores(inputs.scores)
    per_video = sc[(sc["item_id"] != vbench_table.MODEL_ITEM) & (sc["status"] == "ok")]
    rows = []
    no_scores = []
    for m in inputs.models:
        g = latest[latest["model_tag"] == m] if len(latest) else latest
        status = g["status"].value_counts() if len(g) and "status" in g.columns else pd.Series(dtype=int)
        s = per_video[per_video["model_tag"] == m]
        any_scores = bool(len(sc[sc["model_tag"] == m]))
        if not any_scores:
            no_scores.append(m)
        j = inputs.judgments
        battles = int(((j["model_a"] == m) | (j["model_b"] == m)).sum()) if len(j) else 0
        secs = pd.to_numeric(g["seconds"], errors="coerce").mean() if len(g) and "seconds" in g.columns else np.nan
        rows.append({
            "model_tag": m, "videos_ok": int(status.get("ok", 0)), "failed": int(status.get("failed", 0)),
            "refused": int(status.get("refused", 0)), "mean_seconds": secs,
            "scored_videos": int(s["item_id"].nunique()), "metrics": int(s["metric"].nunique()),
            "human_judgments": battles,
        })
    data = pd.DataFrame(rows, columns=["model_tag", "videos_ok", "failed", "refused", "mean_seconds", "scored_videos",
                                       "metrics", "human_judgments"])
    display = format_frame(data, digits=1).rename(columns={
        "model_tag": "Model tag", "videos_ok": "Videos ok", "failed": "Failed", "refused": "Refused",
        "mean_seconds": "Mean s/video", "scored_videos": "Scored videos", "metrics": "Metrics",
        "human_judgments": "Human judgments"})
    table = ReportTable("models", "Models in this run", data, display,
                        caption="Videos per model tag from generations.parquet; scores from scores.parquet.")
    for m in no_scores:
        msg = f"Model {m} has no scores: its VBench-I2V column shows n/a (score it with `stepeval score`)."
        table.footnotes.append(msg)
        warnings.append(msg)
    sec = Section("overview", "Overview", intro=(
        "What the run holds. Human results come from blinded pairwise judgments; automatic results from "
        "VBench-I2V and the optical-flow motion score. Metric-derived pairwise judgments are marked AUTO and "
        "never mixed with human ones."))
    return sec.table(table)


def _table2_tables(pw: pairwise.PairwiseTable, stats: pd.DataFrame, options: ReportOptions, prefix: str,
                   title_prefix: str = "") -> list[ReportTable]:
    display, data = pairwise.table2(pw)
    vdisplay, vdata = pairwise.table2(pw, all_votes=True)
    flags = _consistency_flags(pw)
    notes = _footnotes(pw)
    majority_note = ("Cells are W-T-L from the focal model's side, one label per item: the label most annotators gave; "
                     "when labels tie for the most votes, the item counts as a Tie.")
    t2 = ReportTable(f"{prefix}table2", f"{title_prefix}Table 2: {pw.focal} against each opponent (per item)", data, display,
                     caption=majority_note, footnotes=notes, flags=flags, footer_rows=1)
    t2v = ReportTable(f"{prefix}table2-votes", f"{title_prefix}Table 2, all votes: {pw.focal} against each opponent", vdata,
                      vdisplay, caption="Every annotator's judgment counted (W-T-L from the focal model's side).",
                      footnotes=notes, footer_rows=1)
    st = ReportTable(f"{prefix}table2-stats", f"{title_prefix}Win rates, intervals and tests: {pw.focal}", stats,
                     _stats_display(stats, with_opponent=True, confidence=options.confidence),
                     caption=("Win rate W/(W+L) (ties dropped) and (W+T/2)/N with Wilson intervals and the two-sided exact "
                              "sign test on per-item counts; the bootstrap interval resamples items with all their "
                              "annotators (and dimensions, for the totals). Rows 'All' sum the domains or dimensions: "
                              "their Wilson intervals and p-values treat those judgments as independent, the bootstrap "
                              "interval does not."))
    cons = pw.consistency.copy()
    cdisp = pd.DataFrame({
        "Opponent": cons["opponent"], "Dimension": cons["dimension"].map(dimension_name), "Domain": cons["domain"].map(domain_name),
        "Cell total": cons["cell_total"].astype(str), "Pairs judged": cons["pairs_judged"].astype(str),
        "Pairs with both videos": cons["pairs_expected"].map(lambda v: "n/a" if pd.isna(v) else str(int(v))),
        "Domain size": cons["domain_size"].map(lambda v: "n/a" if pd.isna(v) else str(int(v))),
        "Not judged yet": cons["unjudged"].map(lambda v: "n/a" if pd.isna(v) else str(int(v))),
        "Check": [("IMPOSSIBLE" if bad else "ok" if ok else "MISMATCH") for ok, bad in zip(cons["ok"], cons["impossible"])],
    })
    ct = ReportTable(f"{prefix}consistency", f"{title_prefix}Consistency check: cells against pairs judged", cons, cdisp,
                     caption=("Every cell of a domain must add up to the pairs judged in that domain (MISMATCH otherwise), "
                              "and can count no more pairs than have both videos or than the domain holds (IMPOSSIBLE "
                              "otherwise). Pairs with both videos that no cell counts yet are listed as not judged yet."),
                     flags=flags)
    return [t2, t2v, st, ct]


def _bars_for(pw: pairwise.PairwiseTable, key: str, title: str) -> charts.Chart:
    rows = []
    for opp in pw.opponents:
        for dim in pw.dimensions:
            c = pw.counts[(pw.counts["opponent"] == opp) & (pw.counts["dimension"] == dim)]
            label = f"{opp} · {dimension_label(dim, short=True)}" if len(pw.opponents) > 1 else dimension_name(dim)
            rows.append((label, int(c["wins"].sum()), int(c["ties"].sum()), int(c["losses"].sum())))
    return charts.stacked_bars(key, title, rows, caption=f"Per-item W-T-L from {pw.focal}'s side, both domains.")


def _leaderboard_tables(lb: leaderboard.Leaderboard, prefix: str, title_prefix: str, confidence: float
                        ) -> tuple[list[ReportTable], list[charts.Chart], list[str]]:
    tables: list[ReportTable] = []
    chart_list: list[charts.Chart] = []
    notes = [f"{scope}: {why}" for scope, why in lb.notes.items()]
    r = lb.ratings
    if r.empty:
        return tables, chart_list, notes
    scopes = [s for s in [leaderboard.OVERALL, *ordered_dimensions(set(r["scope"]) - {leaderboard.OVERALL})] if s in set(r["scope"])]
    base = r[r["scope"] == scopes[0]].sort_values("rank")
    pct = f"{confidence:.0%}"
    rows = []
    for m in base["model"]:
        row = {"Rank": "", "Model": m}
        for s in scopes:
            x = r[(r["scope"] == s) & (r["model"] == m)]
            name = "Overall" if s == leaderboard.OVERALL else dimension_label(s, short=True)
            row[name] = "n/a" if x.empty else fmt_interval(x["elo"].iloc[0], x["elo_low"].iloc[0], x["elo_high"].iloc[0], 0)
        x = base[base["model"] == m].iloc[0]
        row["Rank"] = str(int(x["rank"]))
        row["Battles"] = str(int(x["battles"]))
        row["Observed score"] = f"{x['score']:.3f}"
        rows.append(row)
    display = pd.DataFrame(rows)
    tables.append(ReportTable(
        f"{prefix}leaderboard", f"{title_prefix}Leaderboard: Bradley-Terry ratings (Elo scale)", r, display,
        caption=(f"Elo rating [{pct} interval] overall and per dimension: Bradley-Terry strengths fitted to every "
                 f"judgment (ties as half wins), shown on the Elo scale "
                 f"(1000 = average model; +400 = 10:1 odds), with {pct} percentile bootstrap intervals from "
                 f"{lb.n_resamples} resamples of items (seed {lb.seed}). Observed score: share of battles won, ties half."),
        footnotes=notes))
    for s in scopes:
        x = r[r["scope"] == s].sort_values("rank")
        name = "overall" if s == leaderboard.OVERALL else dimension_name(s)
        chart_list.append(charts.forest(
            f"{prefix}elo-{slugify(s)}", f"Elo rating, {name}",
            [(m, e, lo, hi) for m, e, lo, hi in zip(x["model"], x["elo"], x["elo_low"], x["elo_high"])],
            axis_label=f"Elo (Bradley-Terry), {pct} bootstrap interval", reference=1000.0))
    if leaderboard.OVERALL in lb.win_fraction:
        wf, bc = lb.win_fraction[leaderboard.OVERALL], lb.battles[leaderboard.OVERALL]
        tables.append(ReportTable(f"{prefix}win-fraction", f"{title_prefix}Win fraction (row model against column model)",
                                  leaderboard.matrix_frame(wf), format_frame(leaderboard.matrix_frame(wf)).rename(columns={"model": "Model"}),
                                  caption="Share of battles the row model won against the column model, ties half; n/a = never compared."))
        bcf = leaderboard.matrix_frame(bc, digits=None)
        tables.append(ReportTable(f"{prefix}battles", f"{title_prefix}Battle counts", bcf,
                                  bcf.astype(str).rename(columns={"model": "Model"}),
                                  caption="Judgments per model pair, all dimensions and annotators."))
        chart_list.append(charts.heatmap(f"{prefix}heatmap", "Win fraction, all dimensions", list(wf.models),
                                         wf.values.tolist(), bc.values.tolist(),
                                         caption="Row model's share of battles won against the column model (ties half)."))
    return tables, chart_list, notes


def _agreement_table(votes: pd.DataFrame, by: tuple[str, ...], key: str, title: str, options: ReportOptions,
                     *, intervals: bool = True) -> ReportTable:
    ag = statistics.agreement(votes, by, n_resamples=options.n_bootstrap if intervals else 0,
                              confidence=options.confidence, seed=options.seed)
    pct = f"{options.confidence:.0%}"
    disp = pd.DataFrame()
    for col in by:
        disp[{"opponent": "Opponent", "dimension": "Dimension", "pair": "Pair"}.get(col, col)] = (
            ag[col].map(dimension_name) if col == "dimension" else ag[col])
    disp["Annotators"] = ag["annotators"].astype(str)
    disp["Items"] = ag["items"].astype(str)
    disp["Items judged twice or more"] = ag["items_multi"].astype(str)
    disp[f"Krippendorff's alpha (ordinal) [{pct}]"] = [fmt_interval(a, lo, hi) for a, lo, hi in zip(ag["alpha"], ag["alpha_low"], ag["alpha_high"])]
    disp["Cohen's kappa"] = ag["kappa"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}")
    disp["Note"] = ag["note"]
    return ReportTable(key, title, ag, disp, caption=(
        "Agreement on model-relative labels (which model was better, whatever side it was shown on), ordered "
        "loss < tie < win. Alpha >= 0.8 is reliable, >= 0.667 tentative (Krippendorff). Cohen's kappa is shown "
        "when exactly two annotators judged."))


def _annotator_tables(judgments: pd.DataFrame, options: ReportOptions) -> list[ReportTable]:
    pct = f"{options.confidence:.0%}"
    gold = statistics.gold_table(judgments, confidence=options.confidence)
    gdisp = pd.DataFrame({"Annotator": gold["annotator"], "Gold judgments": gold["gold_judgments"].astype(str),
                          "Correct (Tie)": gold["correct"].astype(str),
                          f"Accuracy [{pct} Wilson]": [fmt_interval(a, lo, hi) for a, lo, hi in zip(gold["accuracy"], gold["low"], gold["high"])]})
    out = [ReportTable("gold", "Gold items: accuracy per annotator", gold, gdisp, caption=(
        "A gold item shows the same video on both sides; the right answer on every dimension is Tie."))]
    if gold.empty:
        out[0].footnotes.append("No gold items were judged in this study.")
    pb = statistics.position_bias_table(judgments, confidence=options.confidence)
    pdisp = pd.DataFrame({"Annotator": pb["annotator"], "Left": pb["left"].astype(str), "Tie": pb["ties"].astype(str),
                          "Right": pb["right"].astype(str),
                          f"Left share of decisive [{pct} Wilson]": [fmt_interval(a, lo, hi) for a, lo, hi in zip(pb["fraction_left"], pb["low"], pb["high"])],
                          "Sign test p": pb["p_value"].map(fmt_p)})
    out.append(ReportTable("position-bias", "Left/right position bias", pb, pdisp, caption=(
        "Screen side chosen among decisive judgments; with the randomised swap it should be near 0.5. "
        "A small p-value flags an annotator who favours a side.")))
    ann = statistics.annotator_summary(judgments)
    adisp = format_frame(ann, digits=2).rename(columns={"annotator": "Annotator", "judgments": "Judgments", "items": "Items",
                                                         "median_seconds": "Median seconds", "cannot_judge_share": "Cannot-judge share"})
    out.append(ReportTable("annotators", "Annotators", ann, adisp))
    return out


def _breakdown_tables(resolved: pd.DataFrame, inputs: ReportInputs, focal: str, prefix: str, title_prefix: str = "",
                      bys: tuple[str, ...] = breakdowns.BY) -> list[ReportTable]:
    out = []
    for by in bys:
        if by == "category" and inputs.labels is None:
            continue
        if not breakdowns.has_groups(by, resolved, inputs.items):
            continue
        bd = breakdowns.pairwise_breakdown(resolved, by, items=inputs.items, labels=inputs.labels)
        disp = pd.DataFrame({
            "Opponent": bd["opponent"], "Dimension": bd["dimension"].map(dimension_name),
            by.capitalize(): bd["group"].map(domain_name) if by == "domain" else bd["group"],
            "W-T-L": [_wtl(w, t, l) for w, t, l in zip(bd["wins"], bd["ties"], bd["losses"])],
            "N": bd["n"].astype(str),
            "(W+T/2)/N [Wilson]": [fmt_interval(e, lo, hi) for e, lo, hi in zip(bd["tie_half"], bd["low"], bd["high"])],
        })
        out.append(ReportTable(f"{prefix}pairwise-by-{by}", f"{title_prefix}{focal}: per-item W-T-L by {by}", bd, disp))
    return out


def _score_breakdowns(inputs: ReportInputs) -> list[ReportTable]:
    out = []
    overall = breakdowns.score_overall(inputs.scores, inputs.models)
    if len(overall):
        wide = overall.pivot_table(index="metric", columns="model_tag", values="mean", aggfunc="first", sort=False)
        wide = wide.reindex(columns=[m for m in inputs.models if m in wide.columns]).reset_index()
        disp = format_frame(wide, digits=4).rename(columns={"metric": "Metric"})
        out.append(ReportTable("scores-overall", "Per-video scores, all items (means)", overall, disp, caption=(
            "Each model's mean over all its scored videos, for every per-video metric of the run (VBench raw values "
            "in [0, 1]; motion score in pixels); the tables below break it down.")))
    for by in breakdowns.BY:
        if by == "category" and inputs.labels is None:
            continue
        long = breakdowns.score_breakdown(inputs.scores, inputs.models, by, items=inputs.items, labels=inputs.labels)
        if long.empty:
            continue
        wide = breakdowns.score_breakdown_wide(long, inputs.models)
        disp = wide.copy()
        disp["group"] = disp["group"].map(domain_name) if by == "domain" else disp["group"]
        disp["metric"] = disp["metric"].map(lambda m: m.split("/")[-1])
        disp = format_frame(disp, digits=4).rename(columns={"group": by.capitalize(), "metric": "Metric"})
        out.append(ReportTable(f"scores-by-{by}", f"Per-video scores by {by} (means)", long, disp,
                               caption="Mean of per-video values (VBench raw values in [0, 1]; motion score in pixels)."))
    return out


def _vbench_section(inputs: ReportInputs, pub: published_mod.PublishedView | None = None) -> Section:
    vb = vbench_table.build_vbench(inputs.scores, inputs.models)
    have_i2v = vb.values[list(vbench_table.DIMENSION_KEYS)].notna().any(axis=1).any()
    if inputs.task == T2V and not have_i2v:  # VBench-I2V needs input images: this run has none
        sec = Section("vbench", "Automatic evaluation: motion", intro=(
            "The optical-flow motion score. VBench-I2V needs input images and this run's models were given prompts "
            "alone; VBench's text-to-video dimensions have their own section when the run has them "
            "(`stepeval score RUN --metrics vbench_t2v`)."))
    else:
        sec = Section("vbench", "Automatic evaluation: VBench-I2V and motion", intro=(
            "The report's Table 3: the nine VBench-I2V dimensions (raw values x100) and the Quality, I2V and Total "
            "scores of the VBench-I2V leaderboard formula. The best value of each row is in bold."))
        if not have_i2v:
            sec.empty("No VBench-I2V scores in this run yet (run `stepeval score RUN --metrics vbench-i2v`).")
        else:
            display, data, bold, notes = vbench_table.table3(vb)
            t3 = ReportTable("vbench", "Table 3: VBench-I2V scores per model tag", data, display, bold=bold,
                             footnotes=notes, footer_rows=3, caption=(
                                 "A dimension is VBench's own per-model mean when stored, else the mean of the per-video "
                                 "values. Aggregates are never computed with a missing dimension."))
            if pub is not None:
                published_mod.add_to_table3(t3, pub)
            sec.table(t3)
    measured = vbench_table.motion_measured(inputs.scores, inputs.models)
    sweep = vbench_table.motion_sweep(vb, measured)
    if len(sweep):
        sec.table(ReportTable("motion-sweep", "Motion-score sweep", sweep, vbench_table.sweep_display(sweep), caption=(
            "One model at several requested motion scores: the report expects Dynamic Degree to rise and the "
            "consistency dimensions to fall as the motion score grows.")))
    if len(measured):
        mdisp = pd.DataFrame({
            "Family": measured["family"], "Model tag": measured["model_tag"],
            "Requested": measured["requested"].map(lambda v: f"{v:g}"),
            "Measured mean": measured["measured_mean"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}"),
            "SD": measured["measured_sd"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}"),
            "Q1-Q3": [("n/a" if pd.isna(a) else f"{a:.3f}-{b:.3f}") for a, b in zip(measured["measured_q1"], measured["measured_q3"])],
            "Videos": measured["videos"].astype(str),
        })
        sec.table(ReportTable("motion", "Requested vs measured motion score", measured, mdisp, caption=(
            "The motion score requested through the model tag against the optical-flow motion score measured on "
            "the generated videos.")))
        series = []
        for fam, g in measured.groupby("family", sort=False):
            series.append((fam, [(float(x), float(y), float(lo), float(hi)) for x, y, lo, hi in
                                 zip(g["requested"], g["measured_mean"], g["measured_q1"], g["measured_q3"])]))
        if any(np.isfinite(measured["measured_mean"])):
            sec.chart(charts.line_chart("motion", "Requested vs measured motion score", series,
                                        x_label="requested motion score (model tag)",
                                        y_label="measured motion score (mean)",
                                        caption="Points are means over videos; bars span the quartiles."))
    _motion_range_table(sec, inputs)
    return sec


def _vbench_t2v_section(inputs: ReportInputs) -> Section | None:
    """VBench's text-to-video dimensions and scores; only in reports of runs that have them."""
    if not vbench_t2v_table.has_scores(inputs.scores):
        return None
    sec = Section("vbench-t2v", "Automatic evaluation: VBench (text-to-video)", intro=(
        "VBench's 16 standard text-to-video dimensions (raw values x100) and the Quality, Semantic and Total "
        "scores of its leaderboard formula. The best value of each row is in bold."))
    vb = vbench_t2v_table.build_vbench_t2v(inputs.scores, inputs.models)
    display, data, bold, notes = vbench_t2v_table.t2v_table(vb)
    sec.table(ReportTable("vbench-t2v", "VBench (text-to-video) scores per model tag", data, display, bold=bold,
                          footnotes=notes, footer_rows=3, caption=(
                              "A dimension is the scorer's per-model mean when stored, else the mean of the per-video "
                              "values. A group's score needs all of its dimensions and Total all 16; on one's own "
                              "prompts VBench scores only its six custom-input dimensions.")))
    return sec


def _motion_range_table(sec: Section, inputs: ReportInputs) -> None:
    """Which motion scores were read outside the range the metric is validated in (an optical flow
    under-reads large displacements; stepeval.metrics.motion): marked, never silently averaged in."""
    rng = vbench_table.motion_range(inputs.scores, inputs.models)
    if rng.empty:
        return
    disp = pd.DataFrame({
        "Model tag": rng["model_tag"], "Videos": rng["videos"].astype(str),
        "Outside validated range": [("0" if n == 0 else f"{n} OUTSIDE") for n in rng["outside"]],
        "Not checked": rng["unchecked"].astype(str),
        "Largest reading": rng["max_reading"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2f}"),
        "Validated up to": rng["validated_max"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.1f}"),
        "Flow steps per interval": rng["chain"],
        "Items outside": rng["outside_items"],
    })
    flags = [f"Motion score of {r.model_tag}: {r.outside} of {r.videos} video(s) read outside the validated range (largest "
             f"reading {r.max_reading:.1f}); the true motion may be much larger. Rescore with the extended range: "
             f"`stepeval score RUN --metrics motion_score --set motion_score.chain=4 --rescore`."
             for r in rng.itertuples(index=False) if r.outside]
    sec.table(ReportTable("motion-range", "Motion score: readings against the validated range", rng, disp, flags=flags,
                          caption=("Farneback optical flow under-reads displacements beyond about 25 working pixels per flow "
                                   "step (at short side 256; less for smaller videos). Each video's score is re-measured with "
                                   "finer steps; a reading outside the range (too large a step, or the two measurements "
                                   "more than 10% apart) is counted here. chain=4 extends the range to about 8 px per frame.")))


# --------------------------------------------------------------------------- pages


def _comparison_page(inputs: ReportInputs, judgments: pd.DataFrame, focal: str, opponent: str, options: ReportOptions,
                     k: int) -> Page:
    slug = slugify(f"{focal}__vs__{opponent}")
    prefix = f"cmp-{slug}-"
    pw = pairwise.build_pairwise(judgments, focal, opponents=[opponent], items=inputs.items, excluded=inputs.excluded,
                                 have=inputs.have)
    stats = statistics.cell_statistics(pw, n_resamples=options.n_bootstrap, confidence=options.confidence,
                                       seed=options.seed + 1000 + k)
    display, data = pairwise.table2(pw)
    flags = _consistency_flags(pw)
    n_items = pw.resolved["item_id"].nunique() if len(pw.resolved) else 0
    page = Page(f"comparisons/{slug}.html", f"{focal} vs {opponent}",
                subtitle="Blinded pairwise human judgments, from the first model's side.",
                facts=[("items judged", str(n_items)), ("judgments", str(len(pw.votes))),
                       ("annotators", str(pw.votes["annotator"].nunique()) if len(pw.votes) else "0"),
                       ("bootstrap", f"{options.n_bootstrap} resamples, seed {options.seed + 1000 + k}")])
    summary = Section("summary", "Win-Tie-Loss", intro=(
        f"Per-item labels (majority of annotators, ties between labels counted as Tie) from {focal}'s side."))
    summary.table(ReportTable(f"{prefix}cells", "W-T-L per dimension and domain", data, display, flags=flags,
                              footnotes=_footnotes(pw), footer_rows=1))
    summary.chart(_bars_for(pw, f"{prefix}bars", "Per-item outcomes by dimension"))
    summary.table(ReportTable(f"{prefix}stats", "Win rates, intervals and tests", stats,
                              _stats_display(stats, with_opponent=False, confidence=options.confidence)))
    page.sections.append(summary)
    agree = Section("agreement", "Inter-annotator agreement")
    if len(pw.votes):
        # Point estimates here; the index page gives alpha per dimension with its bootstrap interval.
        agree.table(_agreement_table(pw.votes, ("dimension",), f"{prefix}agreement", "Agreement per dimension", options,
                                     intervals=False))
    else:
        agree.empty("No judgments.")
    page.sections.append(agree)
    bd = Section("breakdowns", "Breakdowns")
    # The W-T-L table above is already per domain.
    for t in _breakdown_tables(pw.resolved, inputs, focal, prefix, bys=("aspect", "category")):
        bd.table(t)
    if inputs.labels is None:
        bd.note("No taxonomy labels given: pass --labels FILE to break results down by category.")
    page.sections.append(bd)
    page.sections.append(_items_section(pw, inputs, prefix))
    page.warnings = flags
    return page


def _run_items_section(inputs: ReportInputs) -> Section:
    """Every item of the run with its prompt and how many model tags have a video of it."""
    sec = Section("run-items", "Items", intro="The run's items (run.yaml), their prompts, and the model tags with a video of each.")
    ids = list(inputs.items["item_id"])
    if not ids:
        return sec.empty("The run has no items yet.")
    have: dict[str, set[str]] = {}
    for tag, items in inputs.have.items():
        for item in items:
            have.setdefault(item, set()).add(tag)
    domains = dict(zip(inputs.items["item_id"], inputs.items["domain"]))
    aspects = dict(zip(inputs.items["item_id"], inputs.items["aspect"]))
    data = pd.DataFrame({
        "item_id": ids,
        "domain": [domains.get(i, "") for i in ids],
        "aspect": [aspects.get(i, "") for i in ids],
        "prompt": [inputs.prompts.get(i, "") for i in ids],
        "videos": [len(have.get(i, ())) for i in ids],
    })
    display = pd.DataFrame({
        "Item": ids, "Domain": [domain_name(d) for d in data["domain"]], "Aspect": data["aspect"], "Prompt": data["prompt"],
        "Videos": [f"{n} of {len(inputs.models)}" for n in data["videos"]],
    })
    sec.table(ReportTable("run-items", "Items of this run", data, display))
    if not inputs.prompts:
        sec.note("Prompts are not shown: run.yaml names no readable benchmark.")
    return sec


def _items_section(pw: pairwise.PairwiseTable, inputs: ReportInputs, prefix: str) -> Section:
    sec = Section("items", "Per-item judgments", intro="Label per item and dimension with the annotators' votes (W-T-L).")
    r = pw.resolved
    if r.empty:
        return sec.empty("No judgments.")
    dims = pw.dimensions
    labels: dict[str, dict[str, str]] = {}
    codes: dict[str, dict[str, int]] = {}
    columns = [r[c].to_numpy(dtype=object) for c in ("item_id", "dimension", "code", "votes_win", "votes_tie", "votes_loss")]
    for item, dim, c, w, t, l in zip(*columns):
        labels.setdefault(item, {})[dim] = f"{VOTE_WORDS[int(c)]} ({w}-{t}-{l})"
        codes.setdefault(item, {})[dim] = int(c)
    ids = sorted(labels)
    domains = dict(zip(inputs.items["item_id"], inputs.items["domain"]))
    aspects = dict(zip(inputs.items["item_id"], inputs.items["aspect"]))
    display = pd.DataFrame({
        "Item": ids,
        "Domain": [domain_name(domains.get(i, "")) for i in ids],
        "Aspect": [aspects.get(i, "") for i in ids],
        "Prompt": [inputs.prompts.get(i, "") for i in ids],
    })
    data = pd.DataFrame({"item_id": ids, "prompt": [inputs.prompts.get(i, "") for i in ids]})
    for d in dims:
        display[dimension_name(d)] = [labels[i].get(d, "") for i in ids]
        data[d] = pd.array([codes[i].get(d) for i in ids], dtype="Int8")
    sec.table(ReportTable(f"{prefix}items", "Items", data, display))
    if not inputs.prompts:
        sec.note("Prompts are not shown: run.yaml names no readable benchmark.")
    return sec


def assemble_report(inputs: ReportInputs, options: ReportOptions | None = None) -> Report:
    """Pages, tables and charts of a report (no file is written)."""
    options = options or ReportOptions()
    warnings = list(inputs.warnings)
    pub = _published_view(options, inputs)
    generated_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    subtitle = ("Step-Video-T2V-Eval style evaluation: human pairwise judgments, leaderboard, VBench (text-to-video)."
                if inputs.task == T2V else
                "Step-Video-TI2V-Eval style evaluation: human pairwise judgments, leaderboard, VBench-I2V.")
    index = Page("index.html", f"Evaluation report: {inputs.run_name}", subtitle=subtitle)
    index.sections.append(_overview(inputs, warnings))
    index.sections.append(_run_items_section(inputs))
    human = inputs.judgments
    usable = pairwise.drop_excluded(pairwise.usable(human), inputs.excluded) if len(human) else human
    judged = [m for m in inputs.models if len(usable) and ((usable["model_a"] == m) | (usable["model_b"] == m)).any()]
    focal = _pick_focal(options, inputs, judged)
    meta = {"run_name": inputs.run_name, "generated_at": generated_at, "stepeval_version": __version__,
            "n_bootstrap": options.n_bootstrap, "seed": options.seed, "confidence": options.confidence,
            "focal": focal, "annotations": inputs.annotations_source, "models": inputs.models,
            "human_judgments": int(len(human)), "resolution": "per-item plurality, ties between top labels -> Tie"}

    # Human evaluation.
    hsec = Section("human", "Human evaluation: pairwise Win-Tie-Loss")
    comparisons: list[Page] = []
    if usable.empty:
        why = ("No human judgments for this run yet" if human.empty else
               "No usable human judgments (all were gold items, flagged cannot-judge, or on refused videos)")
        hsec.empty(f"{why}: Table 2, the leaderboard, agreement and annotators appear once there are some. To collect "
                   f"them: `stepeval annotate create-study RUN --model-a A --model-b B --annotator NAME`, then "
                   f"`stepeval annotate serve RUN`; rebuild this report (it reads the run's annotations.sqlite), or "
                   f"pass an export with --annotations FILE. The gallery shows the videos meanwhile.")
        # A loud warning only when judgments were there and none could be used; a run that has no
        # human study (yet) is not a problem.
        if not human.empty:
            warnings.append(f"{why}; human sections are empty.")
        index.sections.append(hsec)
    else:
        opponents = [m for m in judged if m != focal and ((usable["model_a"] == focal) & (usable["model_b"] == m)
                                                          | (usable["model_b"] == focal) & (usable["model_a"] == m)).any()]
        opponents = _column_order(opponents, options, inputs, focal, warnings)
        pw = pairwise.build_pairwise(human, focal, opponents=opponents, items=inputs.items, excluded=inputs.excluded,
                                     have=inputs.have)
        stats = statistics.cell_statistics(pw, n_resamples=options.n_bootstrap, confidence=options.confidence, seed=options.seed)
        hsec.intro = (f"{focal} against each opponent, as in the report's Table 2. {len(human)} judgments by "
                      f"{human['annotator'].nunique()} annotator(s) on {human['item_id'].nunique()} item(s).")
        t2, t2v, st, ct = _table2_tables(pw, stats, options, prefix="")
        published_mod.add_to_table2(t2, pw.dimensions, pw.domains, pub)
        hsec.table(t2).chart(_bars_for(pw, "table2-bars", f"{focal}: per-item outcomes")).table(st).table(t2v).table(ct)
        warnings += _consistency_flags(pw)
        index.sections.append(hsec)

        lsec = Section("leaderboard", "Leaderboard")
        lb = leaderboard.build_leaderboard(usable, models=inputs.models, n_resamples=options.n_bootstrap,
                                           confidence=options.confidence, seed=options.seed)
        tables, chart_list, notes = _leaderboard_tables(lb, "", "", options.confidence)
        if tables:
            published_mod.add_to_leaderboard(tables[0], pub)
        if tables:
            lsec.table(tables[0])
            for c in chart_list:
                lsec.chart(c)
            for t in tables[1:]:
                lsec.table(t)
        else:
            lsec.empty("No leaderboard: " + "; ".join(notes))
        index.sections.append(lsec)

        asec = Section("annotators", "Annotators and agreement")
        by_pair = pairwise.split_by_pair(human)
        usable_pairs = {p: pairwise.usable(f) for p, f in pairwise.split_by_pair(usable).items()}
        canonical = pd.concat([pairwise.oriented_votes(f, _orientation(inputs.models, focal, *p)[0])
                               for p, f in usable_pairs.items()], ignore_index=True)
        canonical["pair"] = canonical["focal"] + " vs " + canonical["opponent"]
        asec.table(_agreement_table(canonical.assign(opponent=canonical["pair"]), ("dimension",), "agreement",
                                    "Agreement per dimension (all pairs)", options))
        for t in _annotator_tables(human, options):
            asec.table(t)
        index.sections.append(asec)

        links = []
        for k, (a, b) in enumerate(usable_pairs):
            f, o = _orientation(inputs.models, focal, a, b)
            page = _comparison_page(inputs, by_pair[(a, b)], f, o, options, k)
            comparisons.append(page)
            links.append((page.path, f"{f} vs {o}", f"{dict(page.facts)['items judged']} items"))
        csec = Section("comparisons", "Comparisons", intro="One page per pair of models: cells, statistics, agreement, per-item labels with prompts.")
        csec.blocks.append(Block("links", links=links))
        index.sections.append(csec)

        bsec = Section("breakdowns", "Breakdowns")
        for t in _breakdown_tables(pw.resolved, inputs, focal, ""):
            bsec.table(t)
        if inputs.labels is None:
            bsec.note("No taxonomy labels given: pass --labels FILE (item_id,category) to break results down by the "
                      "report's Table 1 categories.")
        index.sections.append(bsec)
        index.sections.append(metric_agreement.section(
            usable, inputs.scores, _auto_frame(inputs, options), inputs.models, n_resamples=options.n_bootstrap,
            confidence=options.confidence, seed=options.seed))

    # Automatic evaluation.
    index.sections.append(_vbench_section(inputs, pub))
    t2v_sec = _vbench_t2v_section(inputs)
    if t2v_sec is not None:
        index.sections.append(t2v_sec)
    score_tables = _score_breakdowns(inputs)
    if score_tables:
        ssec = Section("score-breakdowns", "Scores by domain, aspect and category")
        for t in score_tables:
            ssec.table(t)
        index.sections.append(ssec)

    if options.auto:
        index.sections.append(_auto_section(inputs, options, focal, meta))

    index.warnings = warnings
    index.facts = [("models", str(len(inputs.models))), ("items", str(len(inputs.items))),
                   ("human judgments", str(len(human))), ("focal model", focal or "n/a"),
                   ("bootstrap", f"{options.n_bootstrap} resamples, seed {options.seed}"), ("generated", generated_at)]
    csec, compared = published_compare.section(inputs, pub, n_resamples=options.n_bootstrap, confidence=options.confidence,
                                               seed=options.seed)
    if csec is not None:
        index.sections.append(csec)
    psec = published_mod.section(pub)
    if psec is not None:
        index.sections.append(psec)
        meta["published"] = {**pub.meta(), "comparisons": compared}
    meta["warnings"] = warnings
    report = Report(inputs.run_name, generated_at, index, comparisons, warnings, meta)
    # The gallery, and every number's link to the videos behind it.
    report.gallery = gallery_mod.assemble_gallery(inputs, focal=focal, generated_at=generated_at,
                                                  auto=_auto_frame(inputs, options) if options.auto else empty_judgments())
    links_mod.link_report(report, report.gallery, focal)
    return report


def _auto_frame(inputs: ReportInputs, options: ReportOptions) -> pd.DataFrame:
    """The automatic judge's judgments: stored ones when the store/export has them, else derived now."""
    if len(inputs.stored_auto):
        return inputs.stored_auto
    return prepare_judgments(auto_mod.auto_judgments(inputs.scores, models=inputs.models, run_name=inputs.run_name,
                                                     margin=options.auto_margin, items=inputs.items))


def _auto_section(inputs: ReportInputs, options: ReportOptions, focal: str | None, meta: dict) -> Section:
    sec = Section("auto", "Automatic pairwise judgments (metric-derived)", badge="auto", intro=(
        "Not human judgments: each dimension is decided from per-video metrics ("
        + auto_mod.describe_mapping(auto_mod.mapping_of(inputs.stored_auto), margin=options.auto_margin)
        + "). Shown apart from, and never mixed with, the human results; useful for CI and a quick look."))
    auto = _auto_frame(inputs, options)
    meta["auto_judgments"] = int(len(auto))
    if auto.empty:
        return sec.empty("No automatic judgments: they need per-video VBench-I2V scores for at least two models.")
    judged = [m for m in inputs.models if ((auto["model_a"] == m) | (auto["model_b"] == m)).any()]
    auto_focal = focal if focal in judged else judged[0]
    opponents = [m for m in judged if m != auto_focal]
    pw = pairwise.build_pairwise(auto, auto_focal, opponents=opponents, items=inputs.items, excluded=inputs.excluded,
                                 have=inputs.have)
    display, data = pairwise.table2(pw)
    sec.table(ReportTable("auto-table2", f"AUTO Table 2: {auto_focal} against each opponent (metric-derived)", data, display,
                          footnotes=_footnotes(pw), flags=_consistency_flags(pw, " (auto)"), footer_rows=1,
                          caption="W-T-L from the focal model's side, one metric-derived judgment per item and dimension."))
    lb = leaderboard.build_leaderboard(pairwise.usable(auto), models=inputs.models, n_resamples=options.n_bootstrap,
                                       confidence=options.confidence, seed=options.seed)
    tables, chart_list, _ = _leaderboard_tables(lb, "auto-", "AUTO ", options.confidence)
    if tables:
        sec.table(tables[0])
        sec.chart(chart_list[0] if chart_list else None)
    return sec


# --------------------------------------------------------------------------- writing


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).exists())):
        raise UserError("the output folder exists and is not a stepeval report; refusing to replace it", path=out_dir,
                        hint="pass --out with a new or empty folder (or a previous report's folder)")


def write_report(report: Report, out_dir: str | Path, formats: tuple[str, ...] = FORMATS, *, media: str = "preview",
                 media_workers: int | None = None, media_cache: str | Path | None = None, media_progress=None) -> ReportPaths:
    """Render `report` into `out_dir`, built beside it and swapped in when complete. With HTML, the
    gallery comes too, its videos as `media` says (reports.media: preview, link or none)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"unknown format(s): {', '.join(unknown)}", hint=f"choose from {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as exc:
        raise UserError(f"cannot write the report there ({exc.strerror})", path=out_dir.parent,
                        hint="pass --out with a writable folder (a read-only run can be reported elsewhere)") from exc
    table_formats = tuple(f for f in formats if f in TABLE_FORMATS)
    stats_note = _stats_note_from_meta(report.meta)
    try:
        (tmp / MARKER).write_text(json.dumps({"run_name": report.run_name, "generated_at": report.generated_at}), encoding="utf-8")
        paths = ReportPaths(out_dir=out_dir, index=None, warnings=list(report.warnings))
        for table in report.tables:
            paths.tables += [out_dir / p.relative_to(tmp) for p in write_table(table, tmp / "tables", table_formats)]
        if "html" in formats:
            for page in report.pages:
                html = render_page(page, template="index.html.j2" if page.path == "index.html" else "comparison.html.j2",
                                   run_name=report.run_name, generated_at=report.generated_at, stats_note=stats_note,
                                   table_formats=table_formats)
                target = tmp / page.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(html, encoding="utf-8")
                if page.path == "index.html":
                    paths.index = out_dir / page.path
                else:
                    paths.pages.append(out_dir / page.path)
            if report.gallery is not None:
                g = gallery_mod.write_gallery(report.gallery, tmp, out_dir, mode=media, workers=media_workers,
                                              cache_dir=Path(media_cache) if media_cache else None, progress=media_progress)
                paths.gallery = out_dir / g.page.name
                paths.media = {"mode": media, "files": g.media_files, "encoded": g.encoded, "cached": g.cached}
                paths.warnings += [f"gallery: {e}" for e in g.errors[:10]]
                if len(g.errors) > 10:
                    paths.warnings.append(f"gallery: {len(g.errors) - 10} more media could not be made")
        if "json" in formats:
            meta = json.dumps(report.meta, ensure_ascii=False, default=str)
            tables = ",\n".join(table_json(t) for t in report.tables)
            (tmp / "report.json").write_text(f'{{"meta": {meta},\n"tables": [\n{tables}\n]}}\n', encoding="utf-8")
            paths.json = out_dir / "report.json"
        if "md" in formats:
            md = markdown_report(f"Evaluation report: {report.run_name}", report.generated_at, report.warnings,
                                 [(page.title, page.tables) for page in report.pages])
            (tmp / "report.md").write_text(md, encoding="utf-8")
            paths.markdown = out_dir / "report.md"
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return paths


def _stats_note_from_meta(meta: dict) -> str:
    return _stats_note(ReportOptions(n_bootstrap=meta.get("n_bootstrap", 0), seed=meta.get("seed", 0),
                                     confidence=meta.get("confidence", 0.95)))


def build_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    formats: tuple[str, ...] | list[str] = FORMATS,
    annotations: str | Path | None = None,
    labels: str | Path | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
    focal: str | None = None,
    auto: bool = True,
    confidence: float = 0.95,
    published: tuple[str, ...] | list[str] = (),
    published_paths: tuple[str, ...] | list[str] = (),
    compare_published: tuple[str, ...] | list[str] = (),
    table2_columns: tuple[str, ...] | list[str] = (),
    media: str = "preview",
    media_workers: int | None = None,
    media_cache: str | Path | None = None,
    media_progress=None,
) -> ReportPaths:
    """Build the report of a run directory into `out_dir` (default ``RUN/report``).

    `media`: the gallery's videos: ``preview`` (small copies made for the report, cached in
    RUN/.cache/report-media; the folder is self-contained), ``link`` (relative links to the run's
    own files) or ``none``. `media_workers` processes encode previews (default: one per CPU).

    Returns the paths written. Raises `UserError` for bad input (not a run, judgments of another
    run, an unreadable label file, an output folder that is not a report).
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    _check_out_dir(out)
    inputs = load_inputs(run_dir, annotations=annotations, labels=labels)
    options = ReportOptions(n_bootstrap=int(bootstrap), seed=int(seed), confidence=confidence, focal=focal, auto=auto,
                            published=tuple(published), published_paths=tuple(str(p) for p in published_paths),
                            compare_published=tuple(compare_published), table2_columns=tuple(table2_columns))
    if media not in gallery_mod.MEDIA_MODES:
        raise UserError(f"unknown media mode {media!r}", hint=f"choose one of {', '.join(gallery_mod.MEDIA_MODES)}")
    report = assemble_report(inputs, options)
    return write_report(report, out, tuple(formats), media=media, media_workers=media_workers, media_cache=media_cache,
                        media_progress=media_progress)
