"""The report's "Table 3": VBench-I2V's nine dimensions with Quality, I2V and Total per model tag;
the motion-score sweep table; the requested-vs-measured motion data.

A model's dimension value is VBench's own per-model mean (the ``item_id = "*"`` row) when the run
has one, else the mean of its per-video ``ok`` rows (``excluded`` rows, e.g. camera_motion on a
prompt without a camera instruction, are not part of that mean). Aggregates come from
`stepeval.metrics.aggregate`, which refuses a missing dimension: such a cell prints ``n/a`` with a
footnote naming the dimensions, never a total that counted them as 0. Precomputed aggregate rows
(``vbench_i2v/quality|i2v|total``) are shown only when they agree with the nine values shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stepeval.errors import UserError
from stepeval.generation.tags import motion_request, tag_family
from stepeval.metrics.aggregate import BY_KEY, DIMENSION_KEYS, aggregate, group_score

PREFIX = "vbench_i2v/"
MODEL_ITEM = "*"
AGGREGATES = ("quality", "i2v", "total")
AGGREGATE_NAMES = {"quality": "Quality Score", "i2v": "I2V Score", "total": "Total Score"}
MOTION_METRIC = "motion_score"


def latest_scores(scores: pd.DataFrame | None) -> pd.DataFrame:
    """The latest row per (model_tag, item_id, sample, metric)."""
    if scores is None or scores.empty:
        return pd.DataFrame(columns=["model_tag", "item_id", "sample", "metric", "value", "status"])
    keys = [c for c in ("model_tag", "item_id", "sample", "metric") if c in scores.columns]
    out = scores.drop_duplicates(subset=keys, keep="last")
    if "status" not in out.columns:
        out = out.assign(status="ok")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- per-model values


def model_dimension_values(scores: pd.DataFrame, models: list[str], *, prefix: str = PREFIX,
                           keys: tuple[str, ...] = DIMENSION_KEYS) -> pd.DataFrame:
    """Rows = models, columns = the dimension keys (VBench-I2V's nine unless `prefix` and `keys`
    name another VBench metric's; raw values in [0, 1], NaN when missing), plus ``videos`` (number of
    per-video ok values behind the means)."""
    latest = latest_scores(scores)
    vb = latest[latest["metric"].astype(str).str.startswith(prefix)]
    vb = vb.assign(dimension=vb["metric"].str[len(prefix):])
    vb = vb[vb["dimension"].isin(keys)]
    ok = vb[(vb["status"] == "ok") & np.isfinite(pd.to_numeric(vb["value"], errors="coerce"))]
    per_model = ok[ok["item_id"] == MODEL_ITEM].pivot_table(index="model_tag", columns="dimension", values="value", aggfunc="last")
    per_video = ok[ok["item_id"] != MODEL_ITEM]
    means = per_video.pivot_table(index="model_tag", columns="dimension", values="value", aggfunc="mean")
    values = per_model.combine_first(means) if len(per_model) else means
    values = values.reindex(index=models, columns=list(keys))
    videos = per_video.groupby("model_tag")["item_id"].nunique().reindex(models).fillna(0).astype(int)
    values["videos"] = videos
    return values


def precomputed_aggregates(scores: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    latest = latest_scores(scores)
    rows = latest[(latest["item_id"] == MODEL_ITEM) & latest["metric"].isin([PREFIX + a for a in AGGREGATES])
                  & (latest["status"] == "ok")]
    table = rows.assign(agg=rows["metric"].str[len(PREFIX):]).pivot_table(index="model_tag", columns="agg", values="value", aggfunc="last")
    return table.reindex(index=models, columns=list(AGGREGATES))


@dataclass
class VBenchTable:
    values: pd.DataFrame  # models x (nine dimensions, quality, i2v, total, videos), raw [0, 1]
    refusals: dict[str, str] = field(default_factory=dict)  # model -> why no aggregate
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return list(self.values.index)


def build_vbench(scores: pd.DataFrame | None, models: list[str]) -> VBenchTable:
    """Nine raw values and the three aggregates for each model tag (see module docstring)."""
    values = model_dimension_values(scores, models)
    pre = precomputed_aggregates(scores, models)
    refusals: dict[str, str] = {}
    notes: list[str] = []
    for agg in AGGREGATES:
        values[agg] = np.nan
    for model in models:
        raw = {k: float(values.at[model, k]) for k in DIMENSION_KEYS if pd.notna(values.at[model, k])}
        if not raw:
            refusals[model] = "no VBench-I2V scores"
            continue
        try:
            agg = aggregate(raw).as_dict()
        except UserError as exc:
            # The shared aggregator refuses a missing dimension; a group whose own dimensions are all
            # there still gets its score, the others (and Total) say n/a, never a total counting 0.
            missing = [k for k in DIMENSION_KEYS if k not in raw]
            refusals[model] = f"missing {', '.join(missing)}" if missing else str(exc).split("\n")[0]
            agg = complete_groups(raw, ("quality", "i2v"), group_score)
        for name, value in agg.items():
            values.at[model, name] = value
            stored = pre.at[model, name] if model in pre.index else np.nan
            if pd.notna(stored) and abs(float(stored) - value) > 5e-5:
                notes.append(f"{model}: the stored {name} score {float(stored) * 100:.2f} differs from the one "
                             f"recomputed from the nine dimensions shown ({value * 100:.2f}); the recomputed one is printed.")
    notes += protocol_notes(scores, models)
    return VBenchTable(values=values, refusals=refusals, notes=notes)


def complete_groups(raw: dict[str, float], groups, group_score) -> dict[str, float]:
    """The scores of the groups whose own dimensions are all in `raw` (`group_score(raw, group)`
    refuses a missing one): shown when a Total cannot be, never a group counting a missing value as 0."""
    out = {}
    for group in groups:
        try:
            out[group] = group_score(raw, group)
        except UserError:
            pass
    return out


def protocol_notes(scores: pd.DataFrame | None, models: list[str], *, total_metric: str = "vbench_i2v/total",
                   protocol: str = "VBench-I2V") -> list[str]:
    """The departures from `protocol` that scoring recorded with each model's Total row (`total_metric`)."""
    latest = latest_scores(scores)
    if latest.empty or "details" not in latest.columns:
        return []
    rows = latest[(latest["metric"] == total_metric) & (latest["item_id"] == MODEL_ITEM) & latest["model_tag"].isin(models)]
    out = []
    for r in rows.itertuples():
        try:
            departures = json.loads(r.details or "{}").get("protocol_departures") or []
        except (TypeError, ValueError):
            departures = []
        if departures:
            out.append(f"{r.model_tag}: departs from {protocol}'s protocol: {'; '.join(departures)}.")
    return out


def best_positions(frame: pd.DataFrame, row_keys: list[str], first_col: int) -> set[tuple[int, int]]:
    marks = set()
    for r, key in enumerate(row_keys):
        row = pd.to_numeric(frame.loc[key], errors="coerce")
        if row.notna().sum() < 1:
            continue
        best = row.max()
        for c, value in enumerate(row):
            if pd.notna(value) and np.isclose(value, best, rtol=0, atol=5e-7):
                marks.add((r, first_col + c))
    return marks


def table3(result: VBenchTable) -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[int, int]], list[str]]:
    """(display, data, bold positions, footnotes): rows = nine dimensions then Quality, I2V, Total;
    one column per model tag; values x100 with two decimals; the best of each row in bold."""
    keys = [*DIMENSION_KEYS, *AGGREGATES]
    models = result.models
    data = result.values[keys].T  # rows = keys, columns = models
    names = [BY_KEY[k].name for k in DIMENSION_KEYS] + [AGGREGATE_NAMES[a] for a in AGGREGATES]
    groups = [BY_KEY[k].group.replace("i2v", "I2V").replace("quality", "Quality") for k in DIMENSION_KEYS] + ["", "", ""]
    display = pd.DataFrame({"Dimension": names, "Group": groups})
    for m in models:
        display[m] = [("n/a" if pd.isna(v) else f"{v * 100:.2f}") for v in data[m]]
    bold = best_positions(data, keys, first_col=2)
    footnotes = []
    for model, why in result.refusals.items():
        footnotes.append(f"{model}: aggregates that need a missing dimension are not computed ({why}); "
                         "a missing dimension is never counted as 0.")
    footnotes += result.notes
    long = data.copy()
    long.insert(0, "dimension", keys)
    return display, long.reset_index(drop=True), bold, footnotes


# --------------------------------------------------------------------------- motion


def motion_family(tag: str) -> tuple[str, float] | None:
    """(family, requested score) for a tag that requests a motion level: family = the tag without
    that parameter (`stepeval.generation.tags.tag_family`)."""
    request = motion_request(tag)
    if request is None:
        return None
    param, requested = request
    return tag_family(tag, param), requested


def motion_measured(scores: pd.DataFrame | None, models: list[str]) -> pd.DataFrame:
    """Per model tag: the family and requested motion score (from the tag) and the measured motion
    score over its videos (mean, standard deviation, quartiles, count)."""
    columns = ["family", "model_tag", "requested", "measured_mean", "measured_sd", "measured_q1", "measured_q3", "videos"]
    latest = latest_scores(scores)
    motion = latest[(latest["metric"] == MOTION_METRIC) & (latest["status"] == "ok") & (latest["item_id"] != MODEL_ITEM)]
    rows = []
    for tag in models:
        fam = motion_family(tag)
        if fam is None:
            continue
        v = pd.to_numeric(motion[motion["model_tag"] == tag]["value"], errors="coerce").dropna()
        rows.append({"family": fam[0], "model_tag": tag, "requested": fam[1],
                     "measured_mean": v.mean() if len(v) else np.nan, "measured_sd": v.std(ddof=1) if len(v) > 1 else np.nan,
                     "measured_q1": v.quantile(0.25) if len(v) else np.nan, "measured_q3": v.quantile(0.75) if len(v) else np.nan,
                     "videos": len(v)})
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["family", "requested"], kind="stable").reset_index(drop=True)


def motion_range(scores: pd.DataFrame | None, models: list[str]) -> pd.DataFrame:
    """Per model tag: its per-video motion scores against the range the metric validated them in
    (details ``range``, `stepeval.metrics.motion`): how many were read outside it, how many were
    not checked (scored before the check existed, or with it off), the largest reading, the
    settings' validated maximum and the flow steps per interval (``chain``)."""
    import json

    columns = ["model_tag", "videos", "outside", "unchecked", "max_reading", "validated_max", "chain", "outside_items"]
    latest = latest_scores(scores)
    motion = latest[(latest["metric"] == MOTION_METRIC) & (latest["status"] == "ok") & (latest["item_id"] != MODEL_ITEM)]
    rows = []
    for tag in models:
        sub = motion[motion["model_tag"] == tag]
        if sub.empty:
            continue
        outside, unchecked, limits, chains = [], 0, [], set()
        for item, value, details in zip(sub["item_id"], pd.to_numeric(sub["value"], errors="coerce"), sub.get("details", [])):
            try:
                d = json.loads(details or "{}")
            except (TypeError, ValueError):
                d = {}
            rng = d.get("range") or {}
            chains.add(int(d.get("chain", 1)))
            if rng.get("in_range") is None:
                unchecked += 1
                continue
            limits.append(float(rng.get("validated_max", np.nan)))
            if not rng["in_range"]:
                outside.append(str(item))
        rows.append({"model_tag": tag, "videos": len(sub), "outside": len(outside), "unchecked": unchecked,
                     "max_reading": float(pd.to_numeric(sub["value"], errors="coerce").max()),
                     "validated_max": min(limits) if limits else np.nan,
                     "chain": ",".join(str(c) for c in sorted(chains)), "outside_items": " ".join(sorted(outside))})
    return pd.DataFrame(rows, columns=columns)


def motion_sweep(vbench: VBenchTable, measured: pd.DataFrame) -> pd.DataFrame:
    """One row per (family, requested motion score) of families with two or more settings:
    the nine dimensions, Quality, I2V and Total (x100) and the measured motion score."""
    keys = [*DIMENSION_KEYS, *AGGREGATES]
    counts = measured.groupby("family")["model_tag"].count()
    swept = measured[measured["family"].isin(counts[counts >= 2].index)]
    rows = []
    for _, r in swept.iterrows():
        row = {"family": r["family"], "requested": r["requested"], "model_tag": r["model_tag"]}
        for k in keys:
            v = vbench.values.at[r["model_tag"], k] if r["model_tag"] in vbench.values.index else np.nan
            row[k] = v * 100 if pd.notna(v) else np.nan
        row["measured_motion"] = r["measured_mean"]
        rows.append(row)
    return pd.DataFrame(rows, columns=["family", "requested", "model_tag", *keys, "measured_motion"])


def sweep_display(sweep: pd.DataFrame) -> pd.DataFrame:
    short = {k: BY_KEY[k].name for k in DIMENSION_KEYS} | AGGREGATE_NAMES
    out = pd.DataFrame({"Family": sweep["family"], "Requested motion": sweep["requested"].map(lambda v: f"{v:g}")})
    for k in [*DIMENSION_KEYS, *AGGREGATES]:
        out[short[k]] = sweep[k].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2f}")
    out["Measured motion"] = sweep["measured_motion"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}")
    return out

