"""The report's gallery: every item's input image, prompt and every model's video side by side.

`assemble_gallery` gathers, from the report's inputs, what the page shows (pure: no file is read
or written): per item its domain, aspect, categories and prompt; per model and item the video's
status and per-video metrics; per judged pair of models and item, the per-item human label on each
dimension (the same plurality resolution as Table 2, `reports.pairwise.resolve_items`) beside the
metric-derived label, and how much the two disagree; the motion-sweep families.

`write_gallery` makes the media (`reports.media`: previews, links to the run's own files, or none)
and writes ``gallery.html`` with its data inline and the same data as ``gallery.json`` beside it.
The page is rendered in the browser by ``templates/gallery.js`` from that data. Its address says
what it shows (`href`): every link from a report's number to its videos is a gallery address, so a
Table 2 cell opens exactly the items behind it.

Address parameters (fragment, `URLSearchParams` syntax; repeatable ones marked *):
``item``* ids; ``domain``, ``aspect``, ``category``; ``model``* tags shown (default all);
``a``, ``b`` a pair with ``dim`` (a dimension name or ``*`` for any), ``outcome`` (the per-item
label from a's side: win, tie, loss) or ``vote`` (any annotator's vote from a's side) and ``judge``
(``human``, default, or ``auto``); ``family`` a motion-sweep family (its tags in requested order);
``sort`` (a metric key or ``disagree``) with ``sortmodel`` and ``order`` (desc, asc, ends: best and
worst first); ``page``, ``size``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd
from markupsafe import Markup

from reports import auto_judgments as auto_mod
from reports import pairwise
from reports.breakdowns import metric_rank
from reports.judgments import ordered_dimensions, prepare_judgments
from reports.media import MEDIA_MODES, MediaJob, PreviewSettings, build_media, default_cache_dir, place
from reports.render.html import _asset, environment, script_hash
from reports.render.page import slugify
from stepeval import __version__
from reports.vbench_table import MODEL_ITEM, latest_scores, motion_family
from stepeval.errors import UserError
from stepeval.generation.tags import display_names, motion_request
from stepeval.human.dimensions import dimension_label
from stepeval.metrics import registry
from stepeval.metrics.aggregate import BY_KEY
from stepeval.runs.run import video_path

PAGE = "gallery.html"
DATA_FILE = "gallery.json"
MEDIA_DIR = "media"
OUTCOME_CODES = {"win": 1, "tie": 0, "loss": -1}
VBENCH_PREFIX = "vbench_i2v/"


def href(params: list[tuple[str, object]] | dict[str, object] | None = None) -> str:
    """A gallery address relative to the report folder. `params` are (name, value) pairs (a name may
    repeat: ``model``, ``item``); empty values are left out."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
    kept = [(k, str(v)) for k, v in pairs if v is not None and v != ""]
    return PAGE + ("#" + urlencode(kept, quote_via=quote, safe="") if kept else "")


def metric_label(key: str) -> str:
    """How the gallery names a per-video metric under a video, where space is short (the full name
    is on hover): VBench-I2V dimensions by their leaderboard name, others without the metric's
    prefix (`synthetic/direction_match` -> "direction match")."""
    if key.startswith(VBENCH_PREFIX) and key[len(VBENCH_PREFIX):] in BY_KEY:
        return BY_KEY[key[len(VBENCH_PREFIX):]].name
    return key.split("/", 1)[-1].replace("_", " ")


def metric_direction(key: str) -> bool | None:
    """True: higher is better; False: lower is better; None: a measurement (the motion score) or
    a metric this installation does not know."""
    try:
        return registry.get(key.split("/", 1)[0]).higher_is_better
    except UserError:
        return None


@dataclass
class Gallery:
    """What the gallery shows, before any media is made."""

    run_name: str
    run_root: Path | None
    generated_at: str
    models: list[str]
    names: dict[str, str]
    metrics: list[str]
    dimensions: list[str]
    items: list[dict]  # id, domain, aspect, categories, prompt, image (source path or None)
    videos: dict[tuple[str, str], dict]  # (tag, item) -> status, fps, frames, width, height, error
    scores: dict[tuple[str, str], dict[str, float]]  # (tag, item) -> metric -> value
    pairs: list[tuple[str, str]]
    judged: dict[str, list[list]]  # item -> [pair, dim, human, w, t, l, auto]
    families: list[dict]  # family, param, models (in requested order), requested
    categories: list[str] = field(default_factory=list)

    @property
    def text_only(self) -> bool:
        """No item has an input image (a text-to-video run): nothing to show beside the prompt."""
        return not any(it.get("image") for it in self.items)

    @property
    def has_human(self) -> bool:
        return any(e[2] is not None for rows in self.judged.values() for e in rows)

    def disagreement(self, item: str) -> int:
        """Sum over judged (pair, dimension) of |human label - metric label| (0, 1 or 2 each)."""
        return sum(abs(e[2] - e[6]) for e in self.judged.get(item, []) if e[2] is not None and e[6] is not None)


def _round(value: float) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")


def _latest_generations(generations: pd.DataFrame) -> pd.DataFrame:
    if generations.empty:
        return generations
    keys = [c for c in ("model_tag", "item_id", "sample") if c in generations.columns]
    latest = generations.drop_duplicates(subset=keys, keep="last")
    if "sample" in latest.columns:
        latest = latest[pd.to_numeric(latest["sample"], errors="coerce").fillna(0) == 0]
    return latest


def _resolved_labels(frame: pd.DataFrame, a: str, b: str, excluded: pd.DataFrame) -> pd.DataFrame:
    """Per-item labels of the pair (a, b) from a's side, as Table 2 resolves them."""
    kept = pairwise.drop_excluded(pairwise.usable(frame), excluded)
    votes = pairwise.oriented_votes(kept, a)
    votes = votes[votes["opponent"] == b]
    return pairwise.resolve_items(votes)


def assemble_gallery(inputs, *, focal: str | None = None, auto: pd.DataFrame | None = None,
                     auto_margin: float = auto_mod.DEFAULT_MARGIN, generated_at: str = "") -> Gallery:
    """The gallery of a report's inputs (`reports.inputs.ReportInputs`). `auto`: the metric-derived
    judgments the report's AUTO section uses (computed here from VBench-I2V scores when None)."""
    models = list(inputs.models)
    item_ids = list(inputs.items["item_id"])
    domains = dict(zip(inputs.items["item_id"], inputs.items["domain"]))
    aspects = dict(zip(inputs.items["item_id"], inputs.items["aspect"]))
    cats: dict[str, list[str]] = {}
    categories: list[str] = []
    if inputs.labels is not None and len(inputs.labels):
        for item, cat in zip(inputs.labels["item_id"], inputs.labels["category"]):
            cats.setdefault(str(item), []).append(str(cat))
        categories = list(dict.fromkeys(str(c) for c in inputs.labels["category"]))
    images = inputs.images
    items = [{"id": i, "domain": domains.get(i, "") or "", "aspect": aspects.get(i, "") or "",
              "categories": cats.get(i, []), "prompt": inputs.prompts.get(i, ""),
              "image": str(images[i]) if images.get(i) else None} for i in item_ids]

    # Videos: the latest generation of sample 0 of each (model, item).
    videos: dict[tuple[str, str], dict] = {}
    latest = _latest_generations(inputs.generations)
    if len(latest):
        cols = {c: latest[c].to_numpy(dtype=object) if c in latest.columns else np.full(len(latest), None, dtype=object)
                for c in ("model_tag", "item_id", "status", "fps", "frames", "width", "height", "error")}
        for k in range(len(latest)):
            row = {c: cols[c][k] for c in cols}
            videos[(str(row["model_tag"]), str(row["item_id"]))] = {
                "status": str(row["status"] or "ok"),
                "fps": _num(row["fps"]), "frames": _num(row["frames"]), "width": _num(row["width"]),
                "height": _num(row["height"]), "error": "" if row["error"] is None or row["error"] != row["error"] else str(row["error"]),
            }

    # Per-video metrics (sample 0, status ok; per-model rows have no video).
    sc = latest_scores(inputs.scores)
    sc = sc[(sc["item_id"] != MODEL_ITEM) & (sc["status"] == "ok")]
    if "sample" in sc.columns:
        sc = sc[pd.to_numeric(sc["sample"], errors="coerce").fillna(0) == 0]
    values = pd.to_numeric(sc["value"], errors="coerce")
    sc = sc.assign(value=values)[np.isfinite(values)]
    scores: dict[tuple[str, str], dict[str, float]] = {}
    for tag, item, metric, value in zip(sc["model_tag"], sc["item_id"], sc["metric"], sc["value"]):
        scores.setdefault((str(tag), str(item)), {})[str(metric)] = _round(float(value))
    metrics = sorted({m for d in scores.values() for m in d}, key=metric_rank)

    # Human and metric-derived per-item labels, per pair.
    human = inputs.judgments
    if auto is None:
        auto = inputs.stored_auto if len(inputs.stored_auto) else auto_mod.auto_judgments(
            inputs.scores, models=models, run_name=inputs.run_name, margin=auto_margin, items=inputs.items)
        if len(auto):
            auto = prepare_judgments(auto)
    # One pass over each frame (split_by_pair), not one comparison of the whole frame per pair.
    human_by_pair = pairwise.split_by_pair(pairwise.usable(human)) if len(human) else {}
    auto_by_pair = pairwise.split_by_pair(auto) if auto is not None and len(auto) else {}
    keys = sorted(set(human_by_pair) | set(auto_by_pair))
    pairs = [pairwise.orientation(models, focal, *k) for k in keys]
    dims = ordered_dimensions(set().union(*(set(f["dimension"]) for f in [*human_by_pair.values(), *auto_by_pair.values()])))
    dim_index = {d: k for k, d in enumerate(dims)}
    judged: dict[str, dict[tuple[int, int], list]] = {}
    for p, (key, (a, b)) in enumerate(zip(keys, pairs)):
        for source, by_pair in (("human", human_by_pair), ("auto", auto_by_pair)):
            if key not in by_pair:
                continue
            res = _resolved_labels(by_pair[key], a, b, inputs.excluded)
            for item, dim, code, w, t, l in zip(res["item_id"], res["dimension"], res["code"], res["votes_win"],
                                                res["votes_tie"], res["votes_loss"]):
                entry = judged.setdefault(str(item), {}).setdefault((p, dim_index[dim]), [p, dim_index[dim], None, 0, 0, 0, None])
                if source == "human":
                    entry[2:6] = [int(code), int(w), int(t), int(l)]
                else:
                    entry[6] = int(code)
    judged_lists = {item: [v for _, v in sorted(d.items())] for item, d in judged.items()}

    # Motion-sweep families: tags of one family that request different motion levels.
    fam: dict[str, list[tuple[float, str, str]]] = {}
    for tag in models:
        got = motion_family(tag)
        if got is not None:
            fam.setdefault(got[0], []).append((got[1], tag, motion_request(tag)[0]))
    families = [{"family": f, "param": rows[0][2], "models": [t for _, t, _ in sorted(rows)],
                 "requested": [r for r, _, _ in sorted(rows)]} for f, rows in fam.items() if len(rows) >= 2]

    return Gallery(run_name=inputs.run_name, run_root=inputs.run_dir, generated_at=generated_at,
                   models=models, names=display_names(models), metrics=metrics, dimensions=dims, items=items,
                   videos=videos, scores=scores, pairs=pairs, judged=judged_lists, families=families,
                   categories=categories)


def _num(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------- writing


@dataclass
class GalleryOutput:
    page: Path
    data: Path
    media_files: int = 0
    encoded: int = 0
    cached: int = 0
    errors: list[str] = field(default_factory=list)


def _rel_url(target: Path, start: Path) -> str:
    """A relative URL from folder `start` to file `target` (path segments percent-encoded)."""
    rel = os.path.relpath(Path(target).resolve(), Path(start).resolve())
    return "/".join(quote(part) for part in Path(rel).as_posix().split("/"))


def gallery_data(g: Gallery, media: dict[tuple[str, str], dict], images: dict[str, str], mode: str) -> dict:
    """The JSON the page reads: models and metrics by index, one record per item."""
    tags = g.models
    index = {t: k for k, t in enumerate(tags)}
    items = []
    for it in g.items:
        i = it["id"]
        vids = []
        for t in tags:
            v = g.videos.get((t, i))
            m = media.get((t, i))
            if m is not None:
                vids.append(m)
            elif v is not None and v["status"] != "ok":
                vids.append({"status": v["status"], "note": v.get("error", "")[:300]})
            else:
                vids.append(None)
        items.append({
            "id": i, "domain": it["domain"], "aspect": it["aspect"], "categories": it["categories"],
            "prompt": it["prompt"], "image": images.get(i),
            "videos": vids,
            "scores": [g.scores.get((t, i), {}) for t in tags],
            "judged": g.judged.get(i, []),
            "disagree": g.disagreement(i),
        })
    return {
        "version": 1,
        "run": g.run_name,
        "generated_at": g.generated_at,
        "media": mode,
        "models": [{"tag": t, "name": g.names.get(t, t), "family": next((f["family"] for f in g.families if t in f["models"]), None)}
                   for t in tags],
        "metrics": [{"key": m, "label": metric_label(m), "higher": metric_direction(m)} for m in g.metrics],
        "dimensions": [{"name": d, "label": dimension_label(d), "short": dimension_label(d, short=True)} for d in g.dimensions],
        "pairs": [[index[a], index[b]] for a, b in g.pairs],
        "families": [{**f, "models": [index[t] for t in f["models"]]} for f in g.families],
        "categories": g.categories,
        "text_only": g.text_only,
        "items": items,
    }


def inline_json(data: dict) -> str:
    """JSON for a ``<script type="application/json">`` element: ``<``, ``>`` and ``&`` written as
    \\u escapes, so no string in it (a prompt holding ``</script>``) can end the element or open
    markup; JSON.parse reads it back unchanged."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_gallery(g: Gallery, folder: Path, out_dir: Path, *, mode: str = "preview", workers: int | None = None,
                  cache_dir: Path | None = None, settings: PreviewSettings | None = None, progress=None) -> GalleryOutput:
    """Make the media and write the gallery page and its JSON into `folder` (the report being built,
    which becomes `out_dir`)."""
    if mode not in MEDIA_MODES:
        raise UserError(f"unknown media mode {mode!r}", hint=f"choose one of {', '.join(MEDIA_MODES)}")
    folder, out_dir = Path(folder), Path(out_dir)
    out = GalleryOutput(page=folder / PAGE, data=folder / DATA_FILE)
    sources: dict[tuple[str, str], Path] = {}
    if g.run_root is not None:
        for (tag, item), v in g.videos.items():
            if v["status"] != "ok":
                continue
            try:
                path = video_path(g.run_root, tag, item)
            except UserError:
                continue
            if path.is_file():
                sources[(tag, item)] = path
    images = {it["id"]: Path(it["image"]) for it in g.items if it["image"] and Path(it["image"]).is_file()}
    media: dict[tuple[str, str], dict] = {}
    image_urls: dict[str, str] = {}
    jobs: list[MediaJob] = []
    if mode == "preview":
        jobs += [MediaJob("video", str(p)) for p in sources.values()]
    if mode in ("preview", "none"):
        jobs += [MediaJob("image", str(p)) for p in images.values()]
    results = {}
    if jobs:
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(g.run_root or out_dir)
        results = build_media(jobs, cache, settings=settings, workers=workers, progress=progress)
        out.encoded = sum(1 for r in results.values() if r.ok and not r.cached)
        out.cached = sum(1 for r in results.values() if r.cached)
    for (tag, item), path in sources.items():
        v = g.videos[(tag, item)]
        if mode == "preview":
            r = results[MediaJob("video", str(path))]
            if not r.ok:
                out.errors.append(f"{tag} {item}: {r.error}")
                media[(tag, item)] = {"status": "error", "note": r.error}
                continue
            base = f"{MEDIA_DIR}/{slugify(tag)}/{slugify(item)}"
            place(r.files["video"], folder / f"{base}.mp4")
            place(r.files["poster"], folder / f"{base}.jpg")
            out.media_files += 2
            info = r.info
            media[(tag, item)] = {"src": f"{base}.mp4", "poster": f"{base}.jpg", "w": info["width"], "h": info["height"],
                                  "fps": _round(info["fps"]), "frames": info["frames"]}
        elif mode == "link":
            media[(tag, item)] = {"src": _rel_url(path, out_dir), "w": v["width"], "h": v["height"],
                                  "fps": v["fps"], "frames": v["frames"]}
        else:
            media[(tag, item)] = {"status": "not shown", "w": v["width"], "h": v["height"], "fps": v["fps"], "frames": v["frames"]}
    for (tag, item), v in g.videos.items():
        if v["status"] == "ok" and (tag, item) not in sources:
            media[(tag, item)] = {"status": "missing", "note": "the video file is not in the run folder"}
    for item, path in images.items():
        if mode == "link":
            image_urls[item] = _rel_url(path, out_dir)
            continue
        r = results[MediaJob("image", str(path))]
        if r.ok:
            rel = f"{MEDIA_DIR}/inputs/{slugify(item)}.jpg"
            place(r.files["image"], folder / rel)
            out.media_files += 1
            image_urls[item] = rel
        else:
            out.errors.append(f"input image of {item}: {r.error}")
    data = gallery_data(g, media, image_urls, mode)
    out.data.write_text(json.dumps(data, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    out.page.write_text(render_gallery(data, settings or PreviewSettings()), encoding="utf-8")
    return out


MODE_NOTES = {
    "preview": "Videos: previews made for this report (H.264, at most {h} px high); the metrics were computed on the originals.",
    "link": "Videos: the run's own files, linked from this folder (keep the report beside the run).",
    "none": "Videos are not included in this report (built with --media none).",
}


def render_gallery(data: dict, settings: PreviewSettings) -> str:
    """The gallery page: the report's style, the gallery's script (allowed by its hash), the data
    as an inline JSON block (`inline_json`)."""
    script = _asset("gallery.js")
    return environment().get_template("gallery.html.j2").render(
        css=Markup(_asset("style.css") + "\n" + _asset("gallery.css")),
        script=Markup(script),
        script_hash=script_hash(script),
        data=Markup(inline_json(data)),
        data_file=DATA_FILE,
        version=__version__,
        run_name=data["run"],
        generated_at=data["generated_at"],
        subtitle=MODE_NOTES[data["media"]].format(h=settings.max_height),
        shown="prompt" if data.get("text_only") else "input image, prompt",
    )
