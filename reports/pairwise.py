"""The report's "Table 2": a focal model's W-T-L against each opponent, per dimension and domain.

Per-item resolution. When several annotators judged the same pair on the same item and dimension,
the item counts once, with the label that got strictly more votes than each other label (a
plurality); when two or three labels share the top count (W-L, W-T-L, W-W-L-L, W-T ...) the item
counts as a Tie. So an item is a win only if more annotators saw a win than saw a tie or a loss.
The all-votes counts (every annotator's judgment counted) are kept beside it.

Exclusions. Pairs where either model's video was refused (a commercial engine's content filter) or
failed are excluded and footnoted with their count per domain; judgments an annotator flagged
"cannot judge" are dropped and footnoted; gold items (a video against itself) only measure the
annotators. Consistency: every cell of a domain must add up to the number of pairs judged in that
domain; `consistency` says where it does not, and the report shows that loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.items import item_meta
from reports.judgments import dimension_name, domain_name, ordered_dimensions, ordered_domains
from stepeval.stats import WinTieLoss

CELL_KEYS = ("opponent", "dimension", "domain")
EXCLUDED_STATUSES = ("refused", "failed")


# --------------------------------------------------------------------------- selection


def usable(judgments: pd.DataFrame) -> pd.DataFrame:
    """Judgments that compare two different models: no gold items, nothing flagged cannot-judge."""
    keep = ~judgments["is_gold"] & ~judgments["cannot_judge"] & (judgments["model_a"] != judgments["model_b"])
    return judgments[keep]


def excluded_videos(generations: pd.DataFrame | None) -> pd.DataFrame:
    """(model_tag, item_id, status) of videos whose latest generation was refused or failed."""
    columns = ["model_tag", "item_id", "status"]
    if generations is None or generations.empty or "status" not in generations.columns:
        return pd.DataFrame(columns=columns)
    latest = generations.drop_duplicates(subset=[c for c in ("model_tag", "item_id", "sample") if c in generations.columns], keep="last")
    bad = latest[latest["status"].isin(EXCLUDED_STATUSES)][columns].drop_duplicates(["model_tag", "item_id"])
    return bad.reset_index(drop=True)


def drop_excluded(judgments: pd.DataFrame, excluded: pd.DataFrame) -> pd.DataFrame:
    """Judgments whose two videos both exist (neither refused nor failed)."""
    if excluded.empty or judgments.empty:
        return judgments
    bad = pd.MultiIndex.from_arrays([excluded["model_tag"].astype(str), excluded["item_id"].astype(str)])
    hit_a = pd.MultiIndex.from_arrays([judgments["model_a"], judgments["item_id"]]).isin(bad)
    hit_b = pd.MultiIndex.from_arrays([judgments["model_b"], judgments["item_id"]]).isin(bad)
    return judgments[~(hit_a | hit_b)]


def split_by_pair(judgments: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """Judgments per unordered model pair (sorted names), gold items (a model against itself) left out."""
    if judgments.empty:
        return {}
    a = judgments["model_a"].to_numpy(dtype=object)
    b = judgments["model_b"].to_numpy(dtype=object)
    first = np.where(a <= b, a, b)
    second = np.where(a <= b, b, a)
    kept = np.flatnonzero(first != second)
    groups = pd.Series(kept).groupby([first[kept], second[kept]], sort=True).indices
    # `indices` are positions among the kept rows; map them back to rows of `judgments`.
    return {(str(k[0]), str(k[1])): judgments.iloc[kept[rows]] for k, rows in groups.items()}


def orientation(models: list[str], focal: str | None, a: str, b: str) -> tuple[str, str]:
    """The side a pair is read from: the focal model's when it is one of the two, else the model
    listed first in `models` (the run's order). Comparison pages and the gallery agree on it."""
    if focal in (a, b):
        return (focal, b if a == focal else a)
    rank = {m: i for i, m in enumerate(models)}
    return (a, b) if rank.get(a, 1e9) <= rank.get(b, 1e9) else (b, a)


def oriented_votes(judgments: pd.DataFrame, focal: str) -> pd.DataFrame:
    """Every judgment involving `focal`, with ``code`` from the focal model's side (+1 = focal won)."""
    involved = judgments[(judgments["model_a"] == focal) | (judgments["model_b"] == focal)]
    a_side = (involved["model_a"] == focal).to_numpy()
    out = pd.DataFrame(
        {
            "focal": focal,
            "opponent": np.where(a_side, involved["model_b"], involved["model_a"]),
            "item_id": involved["item_id"].to_numpy(),
            "domain": involved["domain"].to_numpy(),
            "aspect": involved["aspect"].to_numpy(),
            "dimension": involved["dimension"].to_numpy(),
            "annotator": involved["annotator"].to_numpy(),
            "code": np.where(a_side, involved["code"], -involved["code"].astype(np.int16)).astype(np.int8),
        }
    )
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- resolution and counts


def resolve_items(votes: pd.DataFrame, keys: tuple[str, ...] = ("opponent", "dimension", "domain", "item_id")) -> pd.DataFrame:
    """One row per item (and `keys`): vote counts and the plurality label, ties between top labels
    going to Tie (module docstring). ``code``: +1 win, 0 tie, -1 loss."""
    keys = [k for k in keys if k in votes.columns]
    if votes.empty:
        return pd.DataFrame(columns=[*keys, "aspect", "votes_win", "votes_tie", "votes_loss", "code"])
    frame = votes.assign(
        votes_win=(votes["code"] == 1).astype(int),
        votes_tie=(votes["code"] == 0).astype(int),
        votes_loss=(votes["code"] == -1).astype(int),
    )
    agg = {"votes_win": "sum", "votes_tie": "sum", "votes_loss": "sum"}
    if "aspect" in frame.columns and "aspect" not in keys:
        agg["aspect"] = "first"
    out = frame.groupby(keys, sort=False, dropna=False).agg(agg).reset_index()
    w, t, l = out["votes_win"], out["votes_tie"], out["votes_loss"]
    out["code"] = np.select([(w > t) & (w > l), (l > w) & (l > t)], [1, -1], 0).astype(np.int8)
    return out


def count_cells(rows: pd.DataFrame, by: tuple[str, ...] = CELL_KEYS) -> pd.DataFrame:
    """W, T, L and N per group of `by`, from resolved items or from raw votes (``code`` column)."""
    by = list(by)
    if rows.empty:
        return pd.DataFrame(columns=[*by, "wins", "ties", "losses", "n"])
    counted = rows.assign(
        wins=(rows["code"] == 1).astype(int), ties=(rows["code"] == 0).astype(int), losses=(rows["code"] == -1).astype(int)
    )
    out = counted.groupby(by, sort=False, dropna=False)[["wins", "ties", "losses"]].sum().reset_index()
    out["n"] = out["wins"] + out["ties"] + out["losses"]
    return out


def _lookup(counts: pd.DataFrame, keys: tuple[str, ...]) -> dict[tuple, WinTieLoss]:
    return {
        tuple(row[k] for k in keys): WinTieLoss(int(row["wins"]), int(row["ties"]), int(row["losses"]))
        for _, row in counts.iterrows()
    }


# --------------------------------------------------------------------------- exclusions and checks


@dataclass
class Exclusions:
    """Why pairs or judgments were left out, per opponent."""

    refused: pd.DataFrame  # opponent, model, status, domain, items
    cannot_judge: pd.DataFrame  # opponent, judgments

    def notes(self, focal: str, opponent: str) -> list[str]:
        notes = []
        rows = self.refused[self.refused["opponent"] == opponent]
        for (model, status), group in rows.groupby(["model", "status"], sort=True):
            total = int(group["items"].sum())
            per = ", ".join(f"{domain_name(d)} {int(n)}" for d, n in zip(group["domain"], group["items"]))
            who = "the focal model" if model == focal else "the opponent"
            verb = "refused" if status == "refused" else "failed to generate"
            notes.append(f"{total} pair(s) excluded because {who} ({model}) {verb} the prompt ({per}).")
        flagged = self.cannot_judge[self.cannot_judge["opponent"] == opponent]
        if len(flagged) and int(flagged["judgments"].sum()):
            notes.append(f"{int(flagged['judgments'].sum())} judgment(s) flagged 'cannot judge' by annotators were dropped.")
        return notes


def exclusions(
    judgments: pd.DataFrame, focal: str, opponents: list[str], excluded: pd.DataFrame, items: pd.DataFrame | None = None
) -> Exclusions:
    """Counts of excluded pairs (refused/failed videos of either model) and flagged judgments."""
    domains = {} if items is None or items.empty else dict(zip(items["item_id"], items["domain"]))
    if len(judgments):
        domains.update(dict(zip(judgments["item_id"], judgments["domain"])))
    rows = []
    for opponent in opponents:
        for model in (focal, opponent):
            for status, group in excluded[excluded["model_tag"] == model].groupby("status"):
                ids = set(group["item_id"])
                if model == opponent:  # an item both refused is counted once, under the focal model
                    ids -= set(excluded[(excluded["model_tag"] == focal)]["item_id"])
                per_domain: dict[str, int] = {}
                for item in ids:
                    d = domains.get(item, "")
                    per_domain[d] = per_domain.get(d, 0) + 1
                for d in ordered_domains(per_domain):
                    rows.append({"opponent": opponent, "model": model, "status": status, "domain": d, "items": per_domain[d]})
    refused = pd.DataFrame(rows, columns=["opponent", "model", "status", "domain", "items"])
    flagged = judgments[judgments["cannot_judge"] & ~judgments["is_gold"]] if len(judgments) else judgments
    if len(flagged):
        votes = oriented_votes(flagged, focal)
        cj = votes.groupby("opponent").size().rename("judgments").reset_index()
    else:
        cj = pd.DataFrame(columns=["opponent", "judgments"])
    return Exclusions(refused=refused, cannot_judge=cj)


def consistency(
    resolved: pd.DataFrame, expected_pairs: pd.DataFrame | None = None, domain_sizes: dict[str, int] | None = None
) -> pd.DataFrame:
    """Per (opponent, dimension, domain): the cell's count against the pairs judged in that domain,
    the pairs that have both videos, and the domain's size.

    `pairs_judged` is the number of distinct items with at least one usable judgment of the pair in
    that domain, on any dimension; a cell that adds up to less means some items lack a judgment
    on that dimension (``ok`` False). `expected_pairs` (opponent, domain, pairs_expected) adds how
    many pairs have both videos, `domain_sizes` how many items the run has in each domain:
    ``unjudged`` = pairs with both videos the cell does not count (work left, not an error), and
    ``impossible`` = a cell counting more pairs than have both videos or than the domain has
    (something is counted twice or in the wrong domain: an error).
    """
    columns = ["opponent", "dimension", "domain", "cell_total", "pairs_judged", "pairs_expected", "domain_size", "ok",
               "unjudged", "impossible"]
    if resolved.empty:
        return pd.DataFrame(columns=columns)
    judged = resolved.groupby(["opponent", "domain"])["item_id"].nunique().rename("pairs_judged").reset_index()
    cells = resolved.groupby(["opponent", "dimension", "domain"]).size().rename("cell_total").reset_index()
    dims = ordered_dimensions(resolved["dimension"])
    # A dimension with no judgment at all in a domain is a cell of 0, and must be reported too.
    full = judged.merge(pd.DataFrame({"dimension": dims}), how="cross")
    out = full.merge(cells, on=["opponent", "dimension", "domain"], how="left").fillna({"cell_total": 0})
    out["cell_total"] = out["cell_total"].astype(int)
    if expected_pairs is not None and not expected_pairs.empty:
        out = out.merge(expected_pairs, on=["opponent", "domain"], how="left")
    else:
        out["pairs_expected"] = np.nan
    out["domain_size"] = out["domain"].map(domain_sizes or {}).astype(float)
    out["ok"] = out["cell_total"] == out["pairs_judged"]
    out["unjudged"] = (out["pairs_expected"] - out["cell_total"]).clip(lower=0)
    over_expected = out["pairs_expected"].notna() & (out["cell_total"] > out["pairs_expected"])
    over_domain = out["domain_size"].notna() & (out["cell_total"] > out["domain_size"])
    out["impossible"] = over_expected | over_domain
    return out[columns]


def ok_videos(generations: pd.DataFrame | None) -> dict[str, set[str]]:
    """Per model tag: the items whose latest generation is ``ok``."""
    if generations is None or generations.empty or "status" not in generations.columns:
        return {}
    latest = generations.drop_duplicates(subset=[c for c in ("model_tag", "item_id", "sample") if c in generations.columns], keep="last")
    ok = latest[latest["status"] == "ok"]
    return {str(m): set(g["item_id"]) for m, g in ok.groupby("model_tag")}


def expected_pairs(have: dict[str, set[str]], focal: str, opponents: list[str], items: pd.DataFrame) -> pd.DataFrame:
    """Per (opponent, domain): items where both models have an ``ok`` video (`have`: `ok_videos`)."""
    columns = ["opponent", "domain", "pairs_expected"]
    if not have or items.empty:
        return pd.DataFrame(columns=columns)
    domains = dict(zip(items["item_id"], items["domain"]))
    rows = []
    for opponent in opponents:
        both = have.get(focal, set()) & have.get(opponent, set())
        per: dict[str, int] = {}
        for item in both:
            d = domains.get(item, "")
            per[d] = per.get(d, 0) + 1
        rows += [{"opponent": opponent, "domain": d, "pairs_expected": n} for d, n in per.items()]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- the table


@dataclass
class PairwiseTable:
    """Everything behind one Table 2 (one focal model against its opponents)."""

    focal: str
    opponents: list[str]
    dimensions: list[str]
    domains: list[str]
    votes: pd.DataFrame  # usable judgments, oriented to the focal model
    resolved: pd.DataFrame  # one row per (opponent, dimension, domain, item)
    counts: pd.DataFrame  # per-item (majority) W-T-L per cell
    vote_counts: pd.DataFrame  # all-votes W-T-L per cell
    consistency: pd.DataFrame
    footnotes: dict[str, list[str]] = field(default_factory=dict)  # opponent -> notes

    @property
    def inconsistent(self) -> pd.DataFrame:
        return self.consistency[~self.consistency["ok"].astype(bool)]


def build_pairwise(
    judgments: pd.DataFrame,
    focal: str,
    *,
    opponents: list[str] | None = None,
    generations: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    have: dict[str, set[str]] | None = None,
) -> PairwiseTable:
    """Table 2 data for `focal` from a prepared judgments frame (`prepare_judgments`).

    `generations` (generations.parquet rows) provides the refused/failed videos to exclude and the
    number of pairs expected; `items` (item_id, domain, aspect) the domain of items nobody judged.
    `excluded` (`excluded_videos`) and `have` (`ok_videos`) may be passed precomputed instead.
    """
    if items is None or items.empty:
        items = item_meta(judgments, generations)
    excluded = excluded if excluded is not None else excluded_videos(generations)
    have = have if have is not None else ok_videos(generations)
    kept = drop_excluded(usable(judgments), excluded)
    votes = oriented_votes(kept, focal)
    if opponents is None:
        opponents = sorted(set(votes["opponent"]))
    votes = votes[votes["opponent"].isin(opponents)]
    resolved = resolve_items(votes)
    dims = ordered_dimensions(votes["dimension"]) or list(dict.fromkeys(judgments["dimension"])) or []
    domains = ordered_domains(votes["domain"])
    excl = exclusions(drop_excluded(judgments, excluded), focal, opponents, excluded, items)
    # Judgments of excluded pairs must also not count as "cannot judge" notes: computed on the kept pairs above.
    footnotes = {o: excl.notes(focal, o) for o in opponents}
    return PairwiseTable(
        focal=focal,
        opponents=list(opponents),
        dimensions=dims,
        domains=domains,
        votes=votes,
        resolved=resolved,
        counts=count_cells(resolved),
        vote_counts=count_cells(votes),
        consistency=consistency(resolved, expected_pairs(have, focal, opponents, items),
                                {str(d): int(n) for d, n in items.groupby("domain")["item_id"].nunique().items()}
                                if len(items) and "domain" in items.columns else None),
        footnotes=footnotes,
    )


def table2(result: PairwiseTable, *, all_votes: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, data) frames in the report's shape: rows dimension x domain plus Total, one column
    per opponent with ``W-T-L`` from the focal side. `data` is the long form with the counts."""
    counts = result.vote_counts if all_votes else result.counts
    cells = _lookup(counts, CELL_KEYS)
    display_rows, data_rows = [], []
    totals = {o: [0, 0, 0] for o in result.opponents}
    for dim in result.dimensions:
        for dom in result.domains:
            row = {"Dimension": dimension_name(dim), "Domain": domain_name(dom)}
            for opp in result.opponents:
                c = cells.get((opp, dim, dom), WinTieLoss(0, 0, 0))
                row[opp] = str(c)
                totals[opp] = [totals[opp][0] + c.wins, totals[opp][1] + c.ties, totals[opp][2] + c.losses]
                data_rows.append({"focal": result.focal, "opponent": opp, "dimension": dim, "domain": dom,
                                  "wins": c.wins, "ties": c.ties, "losses": c.losses, "n": c.total})
            display_rows.append(row)
    total_row = {"Dimension": "Total", "Domain": ""}
    for opp in result.opponents:
        w, t, l = totals[opp]
        total_row[opp] = f"{w}-{t}-{l}"
        data_rows.append({"focal": result.focal, "opponent": opp, "dimension": "total", "domain": "",
                          "wins": w, "ties": t, "losses": l, "n": w + t + l})
    display_rows.append(total_row)
    display = pd.DataFrame(display_rows, columns=["Dimension", "Domain", *result.opponents])
    data = pd.DataFrame(data_rows, columns=["focal", "opponent", "dimension", "domain", "wins", "ties", "losses", "n"])
    return display, data
