"""The VBench-I2V image suite, loaded from a local copy.

    ROOT/i2v-bench-info.json        list of entries, one per image
    ROOT/crop/<ratio>/<file name>   the same images cropped to 1-1, 8-5, 7-4, 16-9

The suite is distributed outside PyPI; a user downloads it once and points stepeval at it. Entries
name their image with `file_name` (or `image_name`) and their prompt with `caption` (or `prompt_en`);
VBench-I2V's file names are the captions, so the stem is the fallback prompt. The id is the file stem.
"""

from __future__ import annotations

import json
from pathlib import Path

from stepeval.benchmark.items import BenchmarkItem, LoadedBenchmark, Problem
from stepeval.errors import UserError

NAME = "vbench-i2v"
INFO_FILE = "i2v-bench-info.json"
RATIOS = ("1-1", "8-5", "7-4", "16-9")


def looks_like_vbench_suite(root: Path) -> bool:
    return (root / INFO_FILE).is_file()


def ratio_for_aspect(width: int, height: int) -> str:
    """The suite's crop ratio closest to a model's output aspect (VBench's adaptive aspect ratio)."""
    import math

    target = math.log(width / height)
    return min(RATIOS, key=lambda r: abs(math.log(int(r.split("-")[0]) / int(r.split("-")[1])) - target))


def load_vbench_suite(root: str | Path, *, ratio: str = "16-9", ids: set[str] | None = None) -> LoadedBenchmark:
    root = Path(root)
    info_path = root / INFO_FILE
    if not info_path.is_file():
        raise UserError(f"{INFO_FILE} not found", path=root, hint="point at the VBench-I2V data folder (it holds i2v-bench-info.json and crop/)")
    if ratio not in RATIOS:
        raise UserError(f"unknown crop ratio {ratio!r}", hint=f"choose one of {', '.join(RATIOS)}")
    try:
        entries = json.loads(info_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"not valid UTF-8 JSON ({exc})", path=info_path, hint="re-download the suite's info file") from exc
    if not isinstance(entries, list):
        raise UserError("expected a JSON list of image entries", path=info_path)
    crop_dir = root / "crop" / ratio
    problems: list[Problem] = []
    items: list[BenchmarkItem] = []
    all_ids: list[str] = []
    for n, entry in enumerate(entries):
        file_name = entry.get("file_name") or entry.get("image_name") if isinstance(entry, dict) else None
        if not file_name:
            problems.append(Problem("bad_prompt", info_path, f"entry {n} has no file_name/image_name"))
            continue
        item_id = Path(file_name).stem
        all_ids.append(item_id)
        if ids is not None and item_id not in ids:
            continue
        prompt = entry.get("caption") or entry.get("prompt_en") or item_id
        image = crop_dir / file_name
        if not image.is_file():
            problems.append(Problem("missing_image", image, "image not present", item_id))
            image = None
        items.append(
            BenchmarkItem(
                id=item_id,
                prompt=prompt,
                image_path=image,
                benchmark=NAME,
                domain=str(entry.get("type") or entry.get("image_type") or ""),
                extra={"ratio": ratio, "file_name": file_name},
            )
        )
    if ids is not None:
        unknown = sorted(set(ids) - set(all_ids))
        if unknown:
            raise UserError(f"{len(unknown)} subset id(s) are not in the suite: {', '.join(unknown[:5])}", path=info_path)
    expected = [i for i in all_ids if ids is None or i in ids]
    return LoadedBenchmark(name=NAME, root=root, items=items, problems=problems, expected_ids=expected)
