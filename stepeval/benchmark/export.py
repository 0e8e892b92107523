"""Export a loaded benchmark as a Hugging Face `datasets` Dataset saved with `save_to_disk`.

Image bytes are embedded (not paths), so the saved folder loads offline on another machine.
"""

from __future__ import annotations

from pathlib import Path

from stepeval.benchmark.items import LoadedBenchmark
from stepeval.errors import UserError


def export_dataset(loaded: LoadedBenchmark, out: str | Path, *, present_only: bool = False) -> int:
    """Write the dataset to `out`; returns the number of rows."""
    import datasets

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError("exists and is a file, not a folder", path=out, hint="choose a new folder for the dataset")
    if out.exists() and any(out.iterdir()):
        raise UserError("output folder exists and is not empty", path=out, hint="choose a new folder or remove it first")
    items = [it for it in loaded.items if it.has_image or not present_only]
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "domain": datasets.Value("string"),
            "aspect": datasets.Value("string"),
            "benchmark": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )

    def rows():
        for it in items:
            image = {"bytes": it.image_path.read_bytes(), "path": it.image_path.name} if it.image_path else None
            yield {"id": it.id, "prompt": it.prompt, "domain": it.domain, "aspect": it.aspect, "benchmark": it.benchmark, "image": image}

    ds = datasets.Dataset.from_generator(rows, features=features, cache_dir=str(out.parent / f".{out.name}.cache"))
    ds.save_to_disk(str(out))
    _cleanup_cache(out.parent / f".{out.name}.cache")
    return len(items)


def _cleanup_cache(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
