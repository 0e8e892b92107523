"""A VBench-compatible custom-input view of a run, for users who run VBench themselves.

    runs/<name>/vbench/images/<stem>.<ext>                  the input images (links)
    runs/<name>/vbench/<model_tag>/videos/<stem>-<k>.mp4     the videos (links), k = sample 0..K-1
    runs/<name>/vbench/<model_tag>/prompt_map.json          {"<stem>-<k>.mp4": prompt} (VBench's --prompt_file)
    runs/<name>/vbench/<model_tag>/view.json                per video: item id, image, prompt, camera phrase

A video's stem is its image's stem (VBench-I2V pairs videos with images by name); item ids with
folders (`real/H/002`) are flattened with `__` (`real__H__002`). VBench names samples `-0`..`-4`.
The camera phrase ("camera pans left") is what VBench's camera_motion dimension reads; our prompts
are mostly Chinese, so it comes from stepeval.benchmark.camera.
Links are relative, so the run folder can be moved; where links are not allowed, files are copied.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from stepeval.benchmark import BenchmarkItem
from stepeval.benchmark.camera import vbench_phrase
from stepeval.runs import GENERATION_KEYS, Run, atomic_write_text


def flat_stem(item_id: str) -> str:
    return item_id.replace("/", "__")


def video_name(item_id: str, sample: int) -> str:
    """The file name VBench knows a video by: its image's stem and the sample number."""
    return f"{flat_stem(item_id)}-{int(sample)}.mp4"


def parse_video_name(name: str) -> tuple[str, int] | None:
    """(item id, sample) from a `video_name` (any folder and extension); None when it is not one.
    Ids that hold `__` themselves cannot be told apart from folders: such runs need a mapping."""
    stem = Path(str(name)).name.rsplit(".", 1)[0]
    head, sep, sample = stem.rpartition("-")
    if not sep or not head or not sample.isdigit():
        return None
    return head.replace("__", "/"), int(sample)


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        link.symlink_to(os.path.relpath(target, link.parent))
    except OSError:
        shutil.copyfile(target, link)


def write_vbench_view(run: Run, items: list[BenchmarkItem], tags: list[str], num_samples: int = 1) -> Path:
    root = run.root / "vbench"
    by_id = {it.id: it for it in items}
    latest = run.generations.latest(GENERATION_KEYS)
    for item in items:
        if item.image_path is not None:
            _link(Path(item.image_path).resolve(), root / "images" / f"{flat_stem(item.id)}{Path(item.image_path).suffix.lower()}")
    for tag in tags:
        videos = root / tag / "videos"
        if videos.exists():  # rebuilt each time, so a video that was redone or dropped is not stale here
            shutil.rmtree(videos)
        prompt_map, view = {}, []
        rows = latest[(latest["model_tag"] == tag) & (latest["status"] == "ok")] if not latest.empty else latest
        for r in (rows.itertuples() if not rows.empty else []):
            item = by_id.get(r.item_id)
            if item is None or int(r.sample) >= num_samples:
                continue
            source = run.video_path(tag, r.item_id, int(r.sample))
            if not source.exists():
                continue
            name = video_name(r.item_id, int(r.sample))
            _link(source.resolve(), videos / name)
            prompt_map[name] = item.prompt
            view.append({
                "video": f"videos/{name}",
                "item_id": r.item_id,
                "sample": int(r.sample),
                "image": f"../images/{flat_stem(r.item_id)}{Path(item.image_path).suffix.lower()}" if item.image_path is not None else None,
                "prompt": item.prompt,
                "camera_motion": vbench_phrase(item.prompt),
            })  # fmt: skip
        (root / tag).mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / tag / "prompt_map.json", json.dumps(prompt_map, ensure_ascii=False, indent=1, sort_keys=True))
        atomic_write_text(root / tag / "view.json", json.dumps(sorted(view, key=lambda v: v["video"]), ensure_ascii=False, indent=1))
    return root
