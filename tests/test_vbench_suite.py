"""VBench-I2V's suite in the layout of the VBench repository, and the one item check in the
Step-Video-TI2V-Eval loader.

The suite is built here in its real formats: vbench2_beta_i2v/vbench2_i2v_full_info.json (one entry
per prompt: prompt_en, dimension, image_type, image_name), vbench2_beta_i2v/data/i2v-bench-info.json
(one entry per image) and data/crop/<W-H>/<image name>.jpg at the four ratios of the download."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stepeval.benchmark import load_benchmark
from stepeval.benchmark.camera import vbench_phrase
from stepeval.benchmark.manifest import load_manifest
from stepeval.benchmark.vbench_suite import crop_for_size, load_vbench_suite, ratio_for_aspect
from stepeval.cli.main import main
from stepeval.errors import UserError

SUBJECT_DIMS = ["i2v_subject", "subject_consistency", "motion_smoothness", "dynamic_degree", "aesthetic_quality", "imaging_quality", "temporal_flickering"]
BACKGROUND_DIMS = ["i2v_background", "background_consistency", "aesthetic_quality", "imaging_quality", "temporal_flickering"]
CAMERA = ["camera pans left", "camera pans right", "camera tilts up", "camera tilts down", "camera zooms in", "camera zooms out", "camera static"]
SUBJECTS = {"a brown bear in the water with a fish in its mouth": "animal", "a sea turtle swimming in the ocean under the water": "animal",
            "a close-up of a hippopotamus eating grass in a field": "animal"}  # fmt: skip
BACKGROUND = "a close up of a blue and orange liquid"
CAPTIONS = [*SUBJECTS, BACKGROUND]
CAMERA_IDS = [f"{BACKGROUND}, {c}" for c in CAMERA]
ALL_IDS = CAPTIONS + CAMERA_IDS  # 11 prompts of 4 images
# each ratio's crop gets its own size, so the file a test gets back says which crop it is
CROP_SIZES = {"1-1": (40, 40), "8-5": (64, 40), "7-4": (70, 40), "16-9": (64, 36)}


def _jpeg(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path, quality=90)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # the header survives: only a full decode sees it


@pytest.fixture()
def repo(tmp_path) -> Path:
    """A VBench checkout with the image suite downloaded into vbench2_beta_i2v/data/."""
    suite = tmp_path / "VBench" / "vbench2_beta_i2v"
    data = suite / "data"
    full, info = [], []
    for n, caption in enumerate(CAPTIONS):
        image = f"{caption}.jpg"
        kind = SUBJECTS.get(caption, "abstract")
        full.append({"prompt_en": caption, "dimension": SUBJECT_DIMS if caption in SUBJECTS else BACKGROUND_DIMS, "image_type": kind, "image_name": image})
        if caption == BACKGROUND:
            full += [{"prompt_en": f"{caption}, {c}", "dimension": ["camera_motion"], "image_type": kind, "image_name": image} for c in CAMERA]
        info.append({
            "file_name": image, "url": "www.pexels.com/photo/x", "type": kind, "origin_width": 640, "origin_height": 400,
            "first_crop": {"width": 640, "height": 400, "first_bbox": [0, 20, 640, 360]},
            "second_crop": {"width": 640, "height": 360, "second_bbox": [140, 0, 360, 360]},
            "diff_ratio_crop": {"1-1": [140, 20, 360, 360], "8-5": [32, 20, 576, 360], "7-4": [5, 20, 630, 360], "16-9": [0, 20, 640, 360]},
            "caption": caption,
        })  # fmt: skip
        for r, size in CROP_SIZES.items():
            _jpeg(data / "crop" / r / image, size, seed=n)
    suite.mkdir(parents=True, exist_ok=True)
    (suite / "vbench2_i2v_full_info.json").write_text(json.dumps(full, indent=4), encoding="utf-8")
    (data / "i2v-bench-info.json").write_text(json.dumps(info, indent=4), encoding="utf-8")
    return tmp_path / "VBench"


def _info(capsys, path: Path) -> dict:
    assert main(["data", "info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("where", ["vbench2_beta_i2v", "vbench2_beta_i2v/data", "."])
def test_data_info_counts_every_prompt_wherever_it_points(repo, where, capsys):
    summary = _info(capsys, repo / where)
    assert summary["benchmark"] == "vbench-i2v"
    assert summary["prompts"] == summary["expected"] == summary["images_present"] == 11
    assert summary["by_domain"] == {"abstract": 8, "animal": 3}
    assert summary["status"] == "complete" and summary["problems"] == {}


def test_suite_folder_without_its_download_is_refused(repo, capsys):
    shutil.rmtree(repo / "vbench2_beta_i2v" / "data")
    rc = main(["data", "info", str(repo / "vbench2_beta_i2v")])
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in out + err
    flat = " ".join(err.split())
    assert "not downloaded" in flat and "download_data.sh" in flat and "data/ folder" in flat


def test_camera_prompts_are_items_with_their_dimensions(repo):
    loaded = load_benchmark(repo / "vbench2_beta_i2v")
    assert sorted(loaded.ids) == sorted(ALL_IDS) and loaded.is_complete
    items = loaded.by_id()
    for caption in CAPTIONS:  # a caption prompt keeps the id it always had: its image's file stem
        assert items[caption].prompt == caption and items[caption].image_path.stem == caption
    assert items[BACKGROUND].extra["dimensions"] == BACKGROUND_DIMS
    assert all(items[c].extra["dimensions"] == SUBJECT_DIMS for c in SUBJECTS)
    scored_on_camera = [i for i, it in items.items() if "camera_motion" in it.extra["dimensions"]]
    assert sorted(scored_on_camera) == sorted(CAMERA_IDS)
    for camera_id, phrase in zip(CAMERA_IDS, CAMERA):
        item = items[camera_id]
        assert item.prompt == camera_id and vbench_phrase(item.prompt) == phrase
        assert item.image_path == items[BACKGROUND].image_path  # the background image, moved seven ways
        assert item.domain == "abstract"


def test_missing_full_info_loads_captions_and_says_what_is_missing(repo, tmp_path, capsys):
    data = tmp_path / "only-data"
    shutil.copytree(repo / "vbench2_beta_i2v" / "data", data)  # what the Google Drive folder alone gives
    loaded = load_benchmark(data)
    assert sorted(loaded.ids) == sorted(CAPTIONS) and not loaded.is_complete
    [p] = [p for p in loaded.problems if p.item_id is None]
    assert p.path.name == "vbench2_i2v_full_info.json" and "camera-motion prompts" in p.message and "fix:" in p.message
    assert _info(capsys, data)["status"] == "partial"


def test_crop_follows_the_output_size(repo):
    item = load_benchmark(repo / "vbench2_beta_i2v").by_id()[CAMERA_IDS[0]]
    assert item.extra["ratio"] == "16-9" and item.image_path.parent.name == "16-9"
    assert sorted(item.extra["crops"]) == sorted(CROP_SIZES)
    landscape = crop_for_size(item, width=992, height=544)  # Step-Video-TI2V's landscape bucket
    square = crop_for_size(item, width=512, height=512)
    assert landscape.parent.name == "16-9" and square.parent.name == "1-1"
    assert Image.open(landscape).size == CROP_SIZES["16-9"] and Image.open(square).size == CROP_SIZES["1-1"]
    assert crop_for_size(item, width=544, height=992).parent.name == "1-1"  # no portrait crops: the square is nearest
    assert [ratio_for_aspect(w, h) for w, h in ((832, 480), (1280, 720), (640, 400), (720, 720))] == ["7-4", "16-9", "8-5", "1-1"]
    loaded = load_vbench_suite(repo, ratio="8-5")
    assert {it.image_path.parent.name for it in loaded.items} == {"8-5"} and len(loaded.items) == 11


def test_crop_of_a_custom_ratio_is_offered(repo):
    """crop_to_diff_ratio.py makes any ratio between 1:1 and 16:9; one put under crop/ is used."""
    for n, caption in enumerate(CAPTIONS):
        _jpeg(repo / "vbench2_beta_i2v" / "data" / "crop" / "5-4" / f"{caption}.jpg", (50, 40), seed=n)
    item = load_benchmark(repo).by_id()[BACKGROUND]
    assert crop_for_size(item, width=640, height=512).parent.name == "5-4"
    assert load_vbench_suite(repo, ratio="5-4").by_id()[BACKGROUND].image_path.parent.name == "5-4"
    with pytest.raises(UserError, match="unknown crop ratio"):
        load_vbench_suite(repo, ratio="3-2")


def test_truncated_crop_is_reported_and_its_prompts_skipped(repo, capsys):
    bad = repo / "vbench2_beta_i2v" / "data" / "crop" / "16-9" / f"{BACKGROUND}.jpg"
    _truncate(bad)
    loaded = load_benchmark(repo / "vbench2_beta_i2v")
    assert sorted(loaded.ids) == sorted(SUBJECTS)  # the other images still load
    skipped = {p.item_id: p for p in loaded.skipped}
    assert sorted(skipped) == sorted([BACKGROUND, *CAMERA_IDS])  # every prompt of that image
    assert all(p.kind == "bad_image" and p.path == bad and "truncated or corrupt" in p.message for p in skipped.values())
    assert main(["data", "info", str(repo / "vbench2_beta_i2v")]) == 0
    out, err = capsys.readouterr()
    assert "3 prompts" in out and "partial" in out and "Traceback" not in out + err
    assert "8 left out" in " ".join(out.split())
    summary = _info(capsys, repo / "vbench2_beta_i2v")
    assert {Path(s["path"]) for s in summary["skipped"]} == {bad} and len(summary["skipped"]) == 8
    assert main(["data", "validate", str(repo / "vbench2_beta_i2v"), "--show", "1"]) == 1
    assert f"{bad.name}: image is truncated or corrupt" in " ".join(capsys.readouterr().out.split())
    # only the crops in use are decoded: the same damage at another ratio leaves a 16-9 load alone
    shutil.copyfile(bad.parent.parent / "1-1" / bad.name, bad)
    _truncate(bad.parent.parent / "1-1" / bad.name)
    assert sorted(load_benchmark(repo).ids) == sorted(ALL_IDS)
    assert sorted(load_vbench_suite(repo, ratio="1-1").ids) == sorted(SUBJECTS)


# -- Step-Video-TI2V-Eval: the same item check -----------------------------------------------------

def _copy_step_eval(src: Path, dst: Path, ids: list[str]) -> None:
    manifest = load_manifest()
    for item_id in ids:
        for suffix in (".txt", ".png"):
            rel = manifest[item_id].rel_path(suffix)
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dst / rel)


def test_step_eval_truncated_image_is_reported_and_skipped(step_eval_root, tmp_path, capsys):
    manifest = load_manifest()
    ids = sorted(i for i, e in manifest.items() if (step_eval_root / e.rel_path(".png")).is_file())[:3]
    copy = tmp_path / "Step-Video-TI2V-Eval"
    _copy_step_eval(step_eval_root, copy, ids)
    bad_id = ids[1]
    bad = copy / manifest[bad_id].rel_path(".png")
    _truncate(bad)
    for verify in (False, True):
        loaded = load_benchmark(copy, verify=verify)
        assert [i for i in ids if i in loaded.ids] == [ids[0], ids[2]]  # the good pairs still load
        [p] = [p for p in loaded.problems if p.item_id in ids]  # the rest of the 298 are simply not in this copy
        assert (p.item_id, p.kind, p.path) == (bad_id, "bad_image", bad) and "truncated or corrupt" in p.message
    assert main(["data", "info", str(copy), "--ids", ",".join(ids)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and bad_id in err and bad.name in err
    rc = main(["data", "validate", str(copy), "--ids", ",".join(ids)])
    out = " ".join(capsys.readouterr().out.split())
    assert rc == 1 and "bad_image" in out and f"{bad.name}: image is truncated or corrupt" in out
