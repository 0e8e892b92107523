"""Check what a publication printed against its own printed parts.

Every printed aggregate is recomputed from the printed numbers it is made of, and every difference
is classified:

- ``match``: the printed value is a correct rounding of the recomputed one (within half a unit of
  its last printed digit);
- ``rounding``: not a correct rounding of the recomputed value, but explained by display rounding:
  the printed inputs are themselves rounded, and that rounding, propagated through the formula,
  plus half a unit of the printed aggregate's last digit, covers the difference (an aggregate
  computed from unrounded values, then printed, lands here);
- ``disagreement``: no rounding of the inputs can explain it; stated with its magnitude;
- ``unchecked``: the parts needed to recompute it are not printed.

Counts (Win-Tie-Loss cells) are integers and have no rounding: any difference is a disagreement.

VBench-I2V: Quality and I2V from the printed dimensions and Total from all nine (the formula of
`stepeval.metrics.aggregate`, the one stepeval uses everywhere), and Total from the printed Quality
and I2V. The formula is linear in every dimension (normalise, weight, average), so the largest
effect of the inputs' rounding is the sum of |d aggregate / d input| x half a unit of each input;
the derivatives are read off the formula itself, never re-typed here.

Pairwise W-T-L tables: the printed total against the sum of the cells (W, T and L apart); each
cell's count W+T+L against the pairs of its domain (the domain size, less refusals and exclusions:
a refusal in an unnamed domain allows any split); each dimension's count over all domains against
all pairs less refusals; and, in each domain, the same count on every dimension (the same pairs are
judged on each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

from stepeval.metrics.aggregate import DIMENSION_KEYS, GROUPS, aggregate, group_score, total_score
from stepeval.published.schema import (
    AGGREGATE_KEYS,
    WTL,
    PairwiseColumn,
    PairwiseTable,
    Printed,
    PublishedResults,
    VBenchTable,
)

VERDICTS = ("match", "rounding", "disagreement", "unchecked")
AGGREGATE_NAMES = {"quality": "Quality Score", "i2v": "I2V Score", "total": "Total Score"}
# Float noise in recomputing a printed number must never turn a match into a rounding finding.
_EPS = 1e-9


@dataclass(frozen=True)
class Check:
    reference: str
    table: str  # the table's id
    column: str  # the column's id
    check: str  # vbench_aggregate | vbench_total_from_groups | wtl_total | cell_n | column_n | dimension_n
    quantity: str  # what was checked, in words
    printed: str  # the printed value (or what the print says)
    recomputed: str  # what its printed parts give
    difference: float  # printed - recomputed, in printed units (counts for W-T-L); NaN when unchecked
    allowance: float  # the largest difference display rounding explains (0 for counts)
    verdict: str  # one of VERDICTS
    message: str
    note: str = ""  # a likely explanation, when one number would account for several findings

    @property
    def magnitude(self) -> float:
        return abs(self.difference)

    @property
    def is_finding(self) -> bool:
        return self.verdict != "match"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["magnitude"] = None if math.isnan(self.magnitude) else self.magnitude
        if math.isnan(self.difference):
            out["difference"] = None
        return out


def findings(checks: Iterable[Check]) -> list[Check]:
    """The checks that found something: rounding, disagreement or unchecked."""
    return [c for c in checks if c.is_finding]


def summary(checks: Iterable[Check]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for c in checks:
        counts[c.verdict] += 1
    return counts


def classify(difference: float, output_half_unit: float, propagated: float) -> tuple[str, float]:
    """(verdict, allowance) of a printed value that differs by `difference` from the value its
    printed inputs give; `propagated` is the largest effect of the inputs' rounding."""
    allowance = output_half_unit + propagated
    if abs(difference) <= output_half_unit + _EPS:
        return "match", allowance
    if abs(difference) <= allowance + _EPS:
        return "rounding", allowance
    return "disagreement", allowance


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


# --------------------------------------------------------------------------- VBench-I2V


def _aggregate_fn(key: str) -> tuple[Callable[[Mapping[str, float]], float], tuple[str, ...]]:
    """The formula of one aggregate (raw values in, raw value out) and the dimensions it reads."""
    if key == "total":
        return (lambda raw: aggregate(raw).total), DIMENSION_KEYS
    return (lambda raw, g=key: group_score(raw, g)), GROUPS[key]


def _propagated(fn: Callable[[Mapping[str, float]], float], raw: dict[str, float], keys: Iterable[str],
                half_units_raw: Mapping[str, float]) -> float:
    """Largest change of a linear `fn` when each input moves by its half unit (raw units)."""
    base = fn(raw)
    total = 0.0
    for k in keys:
        moved = dict(raw)
        moved[k] = raw[k] + 1.0
        total += abs(fn(moved) - base) * half_units_raw[k]
    return total


def check_vbench(table: VBenchTable, reference: str = "") -> list[Check]:
    scale = table.definitions.scale
    out: list[Check] = []
    for column in table.columns:
        values = table.printed_values(column)
        aggs = table.printed_aggregates(column)
        raw = {k: p.value / scale for k, p in values.items()}
        half_raw = {k: p.half_unit / scale for k, p in values.items()}
        for key in AGGREGATE_KEYS:
            if key not in aggs:
                continue
            p = aggs[key]
            fn, needs = _aggregate_fn(key)
            what = f"{AGGREGATE_NAMES[key]} from the printed dimensions"
            missing = [k for k in needs if k not in raw]
            if missing:
                out.append(Check(reference, table.id, column.id, "vbench_aggregate", what, p.text, "n/a", math.nan, math.nan,
                                 "unchecked", f"{column.label}: {AGGREGATE_NAMES[key]} {p.text} cannot be recomputed: "
                                 f"the print lacks {', '.join(missing)} (a missing dimension is never counted as 0)."))
                continue
            value = fn(raw) * scale
            propagated = _propagated(fn, raw, needs, half_raw) * scale
            diff = p.value - value
            verdict, allowance = classify(diff, p.half_unit, propagated)
            out.append(Check(reference, table.id, column.id, "vbench_aggregate", what, p.text, _fmt(value, p.decimals + 2),
                             diff, allowance, verdict, _vbench_message(column.label, AGGREGATE_NAMES[key], "the printed dimensions",
                                                                        p, value, diff, allowance, verdict)))
        if "total" in aggs and "quality" in aggs and "i2v" in aggs:
            p, q, i = aggs["total"], aggs["quality"], aggs["i2v"]
            value = total_score(q.value, i.value)
            propagated = abs(total_score(q.value + 1, i.value) - value) * q.half_unit + abs(total_score(q.value, i.value + 1) - value) * i.half_unit
            diff = p.value - value
            verdict, allowance = classify(diff, p.half_unit, propagated)
            out.append(Check(reference, table.id, column.id, "vbench_total_from_groups", "Total Score from the printed Quality and I2V",
                             p.text, _fmt(value, p.decimals + 2), diff, allowance, verdict,
                             _vbench_message(column.label, "Total Score", "the printed Quality and I2V scores", p, value, diff,
                                             allowance, verdict)))
    return out


def _vbench_message(label: str, name: str, parts: str, p: Printed, value: float, diff: float, allowance: float,
                    verdict: str) -> str:
    head = f"{label}, {name}: printed {p.text}, recomputed from {parts} {value:.{p.decimals + 2}f}"
    if verdict == "match":
        return f"{head}; the print is its rounding."
    if verdict == "rounding":
        return (f"{head}; off by {abs(diff):.{p.decimals + 2}f}, within the {allowance:.{p.decimals + 2}f} that the rounding of "
                f"the printed inputs and of the aggregate explains: display rounding.")
    return (f"{head}; off by {abs(diff):.{p.decimals + 2}f}, beyond the {allowance:.{p.decimals + 2}f} that rounding explains: "
            f"a real disagreement of {abs(diff):.{p.decimals}f} points.")


# --------------------------------------------------------------------------- pairwise W-T-L


def _allowed(table: PairwiseTable, column: PairwiseColumn, domain: str) -> tuple[int, int, str]:
    """(low, high, why): the count a cell of `domain` may have, given refusals and exclusions."""
    size = table.domains[domain]
    low = high = size
    why = [f"{size} pairs in {domain}"]
    excluded = [e for e in column.excluded]
    known = sum(1 for e in excluded if e.domain == domain)
    unknown = sum(1 for e in excluded if e.domain is None)
    low, high = low - known - unknown, high - known
    if known or unknown:
        why.append(f"{known + unknown} excluded")
    r = column.refused
    if r is not None:
        if r.domains is not None:
            n = r.domains.get(domain, 0)
            low, high = low - n, high - n
            if n:
                why.append(f"{n} refused")
        else:
            low -= r.count
            why.append(f"{r.count} refused in an unnamed domain")
    return max(low, 0), high, ", ".join(why)


def _range_text(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def check_pairwise(table: PairwiseTable, reference: str = "") -> list[Check]:
    out: list[Check] = []
    dims = list(table.dimensions)
    doms = list(table.domains)
    for column in table.columns:
        cells: dict[tuple[str, str], WTL] = {}
        for d in dims:
            for m in doms:
                c = column.cell(d, m)
                if c is not None:
                    cells[(d, m)] = c
        # Each cell against the pairs of its domain.
        short: dict[tuple[str, str], int] = {}
        for (d, m), c in cells.items():
            low, high, why = _allowed(table, column, m)
            diff = c.n - high if c.n > high else (c.n - low if c.n < low else 0)
            if diff:
                short[(d, m)] = diff
            verdict = "match" if diff == 0 else "disagreement"
            label = f"{table.dimensions[d]}, {m}"
            msg = (f"{column.label}, {label}: {c} adds up to {c.n}; the print implies {_range_text(low, high)} ({why})"
                   + ("." if not diff else f": {abs(diff)} pair(s) {'too many' if diff > 0 else 'too few'}."))
            out.append(Check(reference, table.id, column.id, "cell_n", f"count of {label}", f"{c.n} ({c})", _range_text(low, high),
                             float(diff), 0.0, verdict, msg))
        # Each dimension over all domains against all pairs less refusals.
        expected_all = sum(table.domains.values()) - (column.refused.count if column.refused else 0) - len(column.excluded)
        for d in dims:
            if not all((d, m) in cells for m in doms):
                continue
            n = sum(cells[(d, m)].n for m in doms)
            diff = n - expected_all
            out.append(Check(reference, table.id, column.id, "column_n", f"count of {table.dimensions[d]}, all domains", str(n),
                             str(expected_all), float(diff), 0.0, "match" if diff == 0 else "disagreement",
                             f"{column.label}, {table.dimensions[d]}: the domains add up to {n}; the print implies {expected_all} "
                             f"({sum(table.domains.values())} pairs"
                             + (f" less {column.refused.count} refused" if column.refused else "")
                             + (f" less {len(column.excluded)} excluded" if column.excluded else "") + ")."))
        # The same pairs are judged on every dimension: one count per domain.
        for m in doms:
            ns = [(d, cells[(d, m)].n) for d in dims if (d, m) in cells]
            if len(ns) < 2:
                continue
            counts = [n for _, n in ns]
            spread = max(counts) - min(counts)
            shown = " / ".join(f"{table.dimensions[d]} {n}" for d, n in ns)
            out.append(Check(reference, table.id, column.id, "dimension_n", f"counts of {m} across dimensions", shown,
                             "one count", float(spread), 0.0, "match" if spread == 0 else "disagreement",
                             f"{column.label}, {m}: " + (f"every dimension counts {counts[0]} pairs." if spread == 0 else
                                                          f"the dimensions count different numbers of pairs ({shown}; "
                                                          f"spread {spread}), though each pair is judged on every dimension.")))
        # The printed total against the sum of the cells.
        total = column.printed_total
        if total is not None:
            sums = WTL(sum(c.wins for c in cells.values()), sum(c.ties for c in cells.values()), sum(c.losses for c in cells.values()))
            for part, name in (("wins", "W"), ("ties", "T"), ("losses", "L")):
                p, s = getattr(total, part), getattr(sums, part)
                diff = p - s
                note = _explain_total(table, column, cells, short, part, diff) if diff else ""
                out.append(Check(reference, table.id, column.id, "wtl_total", f"total {name}", str(p), str(s), float(diff), 0.0,
                                 "match" if diff == 0 else "disagreement",
                                 f"{column.label}, total {name}: printed {p}, the cells add up to {s}"
                                 + ("." if not diff else f": off by {abs(diff)}."), note))
    return out


def _explain_total(table: PairwiseTable, column: PairwiseColumn, cells: dict, short: dict, part: str, diff: int) -> str:
    """When a total is off by exactly what one cell lacks (or has too many), name that cell: one
    misprinted number would explain both findings. A hint, never a correction."""
    hits = [(d, m) for (d, m), s in short.items() if s == -diff]
    if len(hits) != 1:
        return ""
    d, m = hits[0]
    c = cells[(d, m)]
    fixed = getattr(c, part) + diff
    return (f"The total and the {table.dimensions[d]} / {m} cell ({c}) are both off by {abs(diff)}: if its "
            f"{part[:-1] if part != 'losses' else 'loss'} count were {fixed}, both would add up. The print is kept as printed.")


# --------------------------------------------------------------------------- whole references


def check_table(table: VBenchTable | PairwiseTable, reference: str = "") -> list[Check]:
    if isinstance(table, VBenchTable):
        return check_vbench(table, reference)
    return check_pairwise(table, reference)


def check_reference(ref: PublishedResults) -> list[Check]:
    """Every check of every table of a reference, in table and column order."""
    return [c for t in ref.tables for c in check_table(t, ref.name)]
