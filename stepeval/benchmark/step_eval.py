"""Step-Video-TI2V-Eval in its upstream layout.

    ROOT/ti2v_eval_real/{H,S,V}/NNN.png + NNN.txt   (178 pairs)
    ROOT/ti2v_eval_ani/{H,S,V}/NNN.png + NNN.txt    (120 pairs)

Item ids are `{domain}/{aspect}/{number}` (`real/H/002`). Partial copies are normal (the shared copy
has all prompts and 24 images): what is present loads, and what is missing is reported, never hidden.
A present pair goes through the one item check (stepeval.benchmark.checks), so an unreadable prompt
or a truncated image is reported and its item left out.
"""

from __future__ import annotations

import os
from pathlib import Path

from stepeval.benchmark.checks import check_item
from stepeval.benchmark.items import BenchmarkItem, LoadedBenchmark, Problem
from stepeval.benchmark.manifest import DOMAIN_FOLDERS, ManifestEntry, git_blob_id_of_file, load_manifest
from stepeval.errors import UserError

NAME = "step-video-ti2v-eval"


def looks_like_step_eval(root: Path) -> bool:
    return any((root / folder).is_dir() for folder in DOMAIN_FOLDERS.values())


def _scan_files(root: Path, problems: list[Problem]) -> set[str]:
    """All file paths under the two domain folders, relative to root; unreadable folders reported."""
    found: set[str] = set()
    for folder in DOMAIN_FOLDERS.values():
        base = root / folder
        if not base.exists():
            continue

        def onerror(exc: OSError) -> None:
            problems.append(
                Problem("unreadable", Path(exc.filename), f"cannot list folder ({exc.strerror}); check its permissions")
            )

        for dirpath, _dirs, files in os.walk(base, onerror=onerror):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            found.update(f"{rel_dir}/{name}" for name in files)
    return found


def _is_upstream(path: Path, git_blob: str) -> bool:
    """Whether the file holds upstream's exact bytes. Upstream's 298 images all decode, so an image
    that passes needs no decoding: hashing takes about 3 ms an image here, a full decode about 95 ms
    (the 24 shared images: 73 ms against 2.3 s). So the hash is taken with or without --verify,
    and only an image that differs from upstream is decoded."""
    try:
        return git_blob_id_of_file(path) == git_blob
    except OSError:  # unreadable: the image check that follows names the file and the reason
        return False


def load_step_eval(
    root: str | Path,
    *,
    ids: set[str] | None = None,
    verify: bool = True,
    manifest: dict[str, ManifestEntry] | None = None,
) -> LoadedBenchmark:
    """Load (a copy of) Step-Video-TI2V-Eval.

    ids: restrict to these item ids (a subset); the rest of the manifest is neither expected nor reported.
    verify: check every present file against the manifest's git blob ids.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError("benchmark folder not found", path=root, hint="pass the folder that holds ti2v_eval_real/ and ti2v_eval_ani/")
    if not looks_like_step_eval(root):
        raise UserError(
            "not a Step-Video-TI2V-Eval folder (no ti2v_eval_real/ or ti2v_eval_ani/ inside)",
            path=root,
            hint="point at the benchmark/Step-Video-TI2V-Eval folder of a copy, or fetch one with `stepeval data fetch DEST`",
        )
    manifest = manifest if manifest is not None else load_manifest()
    if ids is not None:
        unknown = sorted(set(ids) - manifest.keys())
        if unknown:
            raise UserError(
                f"{len(unknown)} subset id(s) are not in Step-Video-TI2V-Eval: {', '.join(unknown[:5])}",
                hint="ids look like real/H/002 or anime/V/013; see `stepeval data info`",
            )
    problems: list[Problem] = []
    files = _scan_files(root, problems)
    expected_files = {e.rel_path(s) for e in manifest.values() for s in (".png", ".txt")}
    for stray in sorted(files - expected_files):
        problems.append(Problem("stray_file", root / stray, "not part of the benchmark (ignored)"))

    selected = [e for e in sorted(manifest.values(), key=lambda e: e.id) if ids is None or e.id in ids]
    items: list[BenchmarkItem] = []
    verified: dict[str, bool] = {}
    for entry in selected:
        txt, png = entry.rel_path(".txt"), entry.rel_path(".png")
        if txt not in files:
            problems.append(Problem("missing_prompt", root / txt, "prompt file missing", entry.id))
            continue
        image_path = root / png if png in files else None
        upstream_image = image_path is not None and _is_upstream(image_path, entry.png_git_blob)
        # Without its image the item stays (a partial copy), so only its prompt is checked then.
        prompt, item_problems = check_item(entry.id, root / png, root / txt, decode_image=image_path is not None and not upstream_image)
        if verify and image_path is not None:
            verified[png] = upstream_image
        if item_problems:
            problems.extend(item_problems)
            continue
        if verify:
            verified[txt] = git_blob_id_of_file(root / txt) == entry.txt_git_blob
            if not verified[txt]:
                problems.append(Problem("checksum_mismatch", root / txt, "prompt differs from upstream (git blob id mismatch)", entry.id))
        if image_path is None:
            problems.append(Problem("missing_image", root / png, "image not present", entry.id))
        elif verify and not upstream_image:
            problems.append(Problem("checksum_mismatch", image_path, "image differs from upstream (git blob id mismatch); re-fetch it", entry.id))
        items.append(
            BenchmarkItem(
                id=entry.id,
                prompt=prompt,
                image_path=image_path,
                benchmark=NAME,
                domain=entry.domain,
                aspect=entry.aspect,
                extra={"number": entry.number},
            )
        )
    return LoadedBenchmark(
        name=NAME,
        root=root,
        items=items,
        problems=problems,
        expected_ids=[e.id for e in selected],
        verified=verified,
    )
