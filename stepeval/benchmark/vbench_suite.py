"""The VBench-I2V image suite, loaded from a local copy in the layout of the VBench repository.

    vbench2_beta_i2v/vbench2_i2v_full_info.json          the prompt suite (in the repository)
    vbench2_beta_i2v/data/i2v-bench-info.json            one entry per image (downloaded)
    vbench2_beta_i2v/data/crop/<W-H>/<image name>.jpg    each image cropped to 1-1, 8-5, 7-4, 16-9 (downloaded)

stepeval accepts the repository root, `vbench2_beta_i2v/` or its `data/` folder (the full info is then
looked for beside `data/` and inside it).

An item is one prompt of the full info: each image has its caption prompt, and each background image
also has seven camera-motion prompts ("<caption>, camera pans left", ...) scored on camera_motion
only; `extra["dimensions"]` lists the dimensions VBench scores a prompt on. The id is the prompt,
which is how VBench names a prompt's videos (`<prompt>-<k>.mp4`); a caption prompt is its image's file
stem, so caption ids are the image stems. Without the full info only the captions of
i2v-bench-info.json load, and the copy is reported partial.

VBench-I2V crops every image to the ratio nearest the model's resolution ("adaptive aspect ratio"):
`image_path` is the crop at the ratio the loader was asked for, `extra["crops"]` holds every ratio of
the copy, and `crop_for_size` picks the one for a model's output size.
"""

from __future__ import annotations

import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stepeval.benchmark.items import BenchmarkItem, LoadedBenchmark, Problem
from stepeval.errors import UserError
from stepeval.images import check_image

NAME = "vbench-i2v"
INFO_FILE = "i2v-bench-info.json"
FULL_INFO_FILE = "vbench2_i2v_full_info.json"
SUITE_DIR = "vbench2_beta_i2v"
RATIOS = ("1-1", "8-5", "7-4", "16-9")
DEFAULT_RATIO = "16-9"
_RATIO = re.compile(r"^(\d+)-(\d+)$")
DOWNLOAD_HINT = (
    "download the image suite with `sh vbench2_beta_i2v/download_data.sh` from the root of the VBench "
    "repository (github.com/Vchitect/VBench), then point stepeval at vbench2_beta_i2v/ or its data/ folder"
)


def _first_file(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _layout(path: Path) -> tuple[Path | None, Path | None]:
    """(data folder, full info file) of a VBench-I2V copy at `path`; None for what is not there."""
    for top in (path, path / SUITE_DIR):
        for data in (top, top / "data"):
            full = _first_file(data / FULL_INFO_FILE, data.parent / FULL_INFO_FILE)
            # crop/ alone is too common a folder name to claim a folder by; with the full info beside it, it is the suite
            if (data / INFO_FILE).is_file() or ((data / "crop").is_dir() and full is not None):
                return data, full
    return None, _first_file(path / FULL_INFO_FILE, path / SUITE_DIR / FULL_INFO_FILE)


def looks_like_vbench_suite(root: Path) -> bool:
    """A downloaded suite, or the repository's vbench2_beta_i2v/ folder without its data (refused by
    the loader with the download command, rather than taken for an empty folder benchmark)."""
    data, full = _layout(Path(root))
    return data is not None or full is not None


def _is_ratio(name: str) -> bool:
    m = _RATIO.match(name)
    return bool(m) and int(m.group(1)) > 0 and int(m.group(2)) > 0


def _ratio_value(ratio: str) -> float:
    if not _is_ratio(ratio):
        raise ValueError(f"not a W-H crop ratio: {ratio!r}")
    width, height = ratio.split("-")
    return int(width) / int(height)


def ratio_for_aspect(width: int, height: int, ratios: tuple[str, ...] | list[str] = RATIOS) -> str:
    """The crop ratio closest to a width x height output, in log space (VBench's adaptive aspect
    ratio). Its crops are landscape or square, so a portrait output gets the square crop."""
    if width <= 0 or height <= 0:
        raise ValueError(f"output size must be positive, got {width}x{height}")
    if not ratios:
        raise ValueError("no crop ratios to choose from")
    target = math.log(width / height)
    return min(ratios, key=lambda r: abs(math.log(_ratio_value(r)) - target))


def crop_for_size(item: BenchmarkItem, width: int, height: int) -> Path | None:
    """The image a model making width x height videos gets for this item: for VBench-I2V, the crop
    nearest that aspect (it may be absent from a partial copy: generation then names the missing
    file); for any other benchmark, the item's own image."""
    crops = item.extra.get("crops")
    if not crops:
        return item.image_path
    return Path(crops[ratio_for_aspect(width, height, tuple(crops))])


def read_json_list(path: Path, what: str, *, restore: str | None = None) -> list:
    """A JSON file holding a list (VBench's info files), or one UserError naming the file; `restore`
    is the fix for a damaged one (default: re-download it)."""
    restore = restore or f"re-download {path.name}"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"not valid UTF-8 JSON ({exc})", path=path, hint=restore) from exc
    except OSError as exc:
        raise UserError(f"cannot read file ({exc.strerror})", path=path, hint="check its permissions") from exc
    if not isinstance(entries, list):
        raise UserError(f"expected a JSON list of {what}", path=path, hint=restore)
    return entries


def _crop_ratios(crop_root: Path) -> list[str]:
    """The W-H folders under crop/ (the four of the download, plus any the user cropped), narrow to wide."""
    try:
        names = [p.name for p in crop_root.iterdir() if p.is_dir()]
    except OSError:
        return []
    return sorted((n for n in names if _is_ratio(n)), key=_ratio_value)


def _prompts(data: Path, full_info: Path | None, problems: list[Problem]) -> list[dict]:
    """[{id, prompt, image_name, image_type, dimensions?}] in file order; bad or repeated entries
    become problems of the file they are in."""
    out: list[dict] = []
    seen: dict[str, int] = {}
    if full_info is not None:
        for n, e in enumerate(read_json_list(full_info, "prompt entries")):
            e = e if isinstance(e, dict) else {}
            image, prompt, dims = e.get("image_name"), e.get("prompt_en"), e.get("dimension")
            if not (isinstance(image, str) and image and isinstance(prompt, str) and prompt.strip()):
                problems.append(Problem("bad_prompt", full_info, f"entry {n} has no image_name or no prompt_en (ignored); fix: re-download {FULL_INFO_FILE}"))
                continue
            if prompt in seen:
                problems.append(Problem("bad_prompt", full_info, f"entry {n} repeats the prompt of entry {seen[prompt]} (ignored): {prompt!r}"))
                continue
            seen[prompt] = n
            dims = [dims] if isinstance(dims, str) else [d for d in dims or [] if isinstance(d, str)]
            out.append({"id": prompt, "prompt": prompt, "image_name": image, "image_type": e.get("image_type") or "", "dimensions": dims})
        return out
    info_path = data / INFO_FILE
    where = data.parent / FULL_INFO_FILE
    problems.append(Problem(
        "missing_prompt", where,
        f"{FULL_INFO_FILE} not found beside the data folder: only each image's caption prompt is loaded, not VBench-I2V's "
        f"camera-motion prompts nor the dimensions of each prompt; fix: copy it from vbench2_beta_i2v/ of the VBench repository to {where}",
    ))  # fmt: skip
    for n, e in enumerate(read_json_list(info_path, "image entries")):
        e = e if isinstance(e, dict) else {}
        image = e.get("file_name") or e.get("image_name")
        if not isinstance(image, str) or not image:
            problems.append(Problem("bad_prompt", info_path, f"entry {n} has no file_name (ignored); fix: re-download {INFO_FILE}"))
            continue
        stem = Path(image).stem
        if stem in seen:
            problems.append(Problem("bad_prompt", info_path, f"entry {n} repeats the image of entry {seen[stem]} (ignored): {image!r}"))
            continue
        seen[stem] = n
        # VBench-I2V's file names are the captions, so the stem is the fallback prompt
        prompt = e.get("caption") or e.get("prompt_en") or stem
        out.append({"id": stem, "prompt": prompt, "image_name": image, "image_type": e.get("type") or e.get("image_type") or ""})
    return out


def _check_images(paths: list[Path]) -> dict[Path, UserError]:
    """Fully decode each image once (several prompts share one); the suite's crops are 4K photos
    (0.1 to 0.15 s each to decode here), and PIL decodes without the GIL, so threads share the wait."""

    def one(path: Path) -> UserError | None:
        try:
            check_image(path)
        except UserError as exc:
            return exc
        return None

    workers = max(1, min(8, os.cpu_count() or 1, len(paths)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {p: exc for p, exc in zip(paths, pool.map(one, paths)) if exc is not None}


def load_vbench_suite(
    root: str | Path, *, ratio: str = DEFAULT_RATIO, ids: set[str] | None = None, check_images: bool = True
) -> LoadedBenchmark:
    """Load (a copy of) the VBench-I2V suite with `ratio`'s crops as the items' images.

    ids: restrict to these prompt ids. check_images: fully decode each image of that ratio, so a
    truncated or corrupt one is reported (bad_image) and its prompts are left out.
    """
    root = Path(root)
    if not _is_ratio(ratio):
        raise UserError(f"unknown crop ratio {ratio!r}", hint=f"choose one of {', '.join(RATIOS)}")
    if not root.is_dir():
        raise UserError("benchmark folder not found", path=root, hint="pass the vbench2_beta_i2v/ folder of the VBench repository, or its data/ folder")
    data, full_info = _layout(root)
    if data is None:
        if full_info is not None:
            raise UserError(f"VBench-I2V's image suite is not downloaded here (no data/{INFO_FILE}, no data/crop/)", path=root, hint=DOWNLOAD_HINT)
        raise UserError(f"not a VBench-I2V suite folder ({INFO_FILE} not found)", path=root, hint=DOWNLOAD_HINT)
    crop_root = data / "crop"
    ratios = _crop_ratios(crop_root)
    if ratio not in RATIOS and ratio not in ratios:
        raise UserError(f"unknown crop ratio {ratio!r}", path=crop_root, hint=f"choose one of {', '.join(ratios or RATIOS)}")
    problems: list[Problem] = []
    prompts = _prompts(data, full_info, problems)
    all_ids = [p["id"] for p in prompts]
    if ids is not None:
        unknown = sorted(set(ids) - set(all_ids))
        if unknown:
            raise UserError(f"{len(unknown)} subset id(s) are not in the suite: {', '.join(unknown[:5])}", path=full_info or data / INFO_FILE)
        prompts = [p for p in prompts if p["id"] in ids]

    present: dict[Path, bool] = {}
    for p in prompts:
        image = crop_root / ratio / p["image_name"]
        if image not in present:
            present[image] = image.is_file()
    bad = _check_images([i for i, ok in present.items() if ok]) if check_images else {}

    items: list[BenchmarkItem] = []
    for p in prompts:
        image = crop_root / ratio / p["image_name"]
        if image in bad:
            problems.append(Problem.from_error("bad_image", bad[image], p["id"]))
            continue
        if not present[image]:
            problems.append(Problem("missing_image", image, f"image not present (no crop/{ratio}/{p['image_name']})", p["id"]))
        extra = {"ratio": ratio, "file_name": p["image_name"], "crops": {r: str(crop_root / r / p["image_name"]) for r in ratios}}
        if "dimensions" in p:
            extra["dimensions"] = p["dimensions"]
        items.append(BenchmarkItem(
            id=p["id"], prompt=p["prompt"], image_path=image if present[image] else None, benchmark=NAME, domain=p["image_type"], extra=extra,
        ))  # fmt: skip
    return LoadedBenchmark(name=NAME, root=root, items=items, problems=problems, expected_ids=[p["id"] for p in prompts])
