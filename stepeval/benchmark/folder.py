"""A user's own benchmark: any folder of `NAME.{png,jpg,jpeg,webp}` + `NAME.txt` pairs.

Sub-folders are allowed; the item id is the relative path without extension (`cats/001`), and the
first path component, when there is one, is used as the item's domain for stratified subsets.
"""

from __future__ import annotations

import os
from pathlib import Path

from stepeval.benchmark.checks import check_item
from stepeval.benchmark.items import BenchmarkItem, LoadedBenchmark, Problem
from stepeval.errors import UserError
from stepeval.images import IMAGE_EXTENSIONS

NAME = "folder"


def load_folder(root: str | Path, *, ids: set[str] | None = None, check_images: bool = True) -> LoadedBenchmark:
    root = Path(root)
    if not root.is_dir():
        raise UserError("benchmark folder not found", path=root, hint="pass a folder of NAME.png + NAME.txt pairs")
    problems: list[Problem] = []
    images: dict[str, Path] = {}
    prompts: dict[str, Path] = {}

    def onerror(exc: OSError) -> None:
        problems.append(Problem("unreadable", Path(exc.filename), f"cannot list folder ({exc.strerror}); check its permissions"))

    for dirpath, dirs, files in os.walk(root, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(dirpath) / name
            key = path.relative_to(root).with_suffix("").as_posix()
            suffix = path.suffix.lower()
            if name.startswith("."):
                problems.append(Problem("stray_file", path, "hidden file (ignored)"))
            elif suffix in IMAGE_EXTENSIONS:
                if key in images:
                    problems.append(Problem("stray_file", path, f"second image for {key} (using {images[key].name})"))
                else:
                    images[key] = path
            elif suffix == ".txt":
                prompts[key] = path
            else:
                problems.append(Problem("stray_file", path, "neither an image nor a .txt prompt (ignored)"))
    if not images and not prompts and not problems:
        raise UserError("folder holds no image + prompt pairs", path=root, hint="add NAME.png and NAME.txt files")

    keys = sorted(images.keys() | prompts.keys())
    if ids is not None:
        unknown = sorted(set(ids) - set(keys))
        if unknown:
            raise UserError(f"{len(unknown)} subset id(s) are not in {root}: {', '.join(unknown[:5])}", path=root)
        keys = [k for k in keys if k in ids]
    items: list[BenchmarkItem] = []
    for key in keys:
        prompt, item_problems = check_item(
            key, images.get(key), prompts.get(key), strip_newlines=True, missing_prompt=root / f"{key}.txt", decode_image=check_images
        )
        if item_problems:
            problems.extend(item_problems)
            continue
        domain = key.split("/", 1)[0] if "/" in key else ""
        items.append(BenchmarkItem(id=key, prompt=prompt, image_path=images[key], benchmark=NAME, domain=domain))
    return LoadedBenchmark(name=NAME, root=root, items=items, problems=problems, expected_ids=keys)
