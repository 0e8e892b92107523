"""A folder benchmark with good items and one item of each bad kind, through every command that
loads it: nothing crashes, every good item is used, every bad one is named with its reason."""

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stepeval.benchmark import load_benchmark
from stepeval.cli.main import main
from stepeval.errors import UserError
from stepeval.images import check_image, image_size

GOOD = ["good_a", "good_b"]
# item id -> (kind of problem, words its reason must contain)
BAD = {
    "cut_png": ("bad_image", "truncated or corrupt"),
    "cut_jpeg": ("bad_image", "truncated or corrupt"),
    "text_png": ("bad_image", "not a readable image"),
    "gbk": ("bad_prompt", "not valid UTF-8"),
    "empty": ("bad_prompt", "empty"),
    "huge": ("bad_image", "20000x20000"),
    "lonely": ("missing_prompt", "no prompt file"),
    "orphan": ("missing_image", "no image"),
}


def _noise(size=(48, 40), seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _encoded(fmt: str, seed=0) -> bytes:
    buf = io.BytesIO()
    _noise(seed=seed).save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height and holds no pixels: the size guard must refuse it
    from the header, before anything is allocated or decoded."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture()
def bench(tmp_path) -> Path:
    root = tmp_path / "bench"
    root.mkdir()
    _noise(seed=1).save(root / "good_a.png")
    (root / "good_a.txt").write_text("a cat walks to the left\n", encoding="utf-8")
    _noise(seed=2).save(root / "good_b.jpg", quality=90)
    (root / "good_b.txt").write_text("镜头缓缓拉近", encoding="utf-8")
    png, jpeg = _encoded("PNG"), _encoded("JPEG")
    (root / "cut_png.png").write_bytes(png[: len(png) // 2])
    (root / "cut_png.txt").write_text("truncated png", encoding="utf-8")
    (root / "cut_jpeg.jpg").write_bytes(jpeg[: len(jpeg) * 2 // 3])  # header intact: only a full decode sees it
    (root / "cut_jpeg.txt").write_text("truncated jpeg", encoding="utf-8")
    (root / "text_png.png").write_text("I am text, not a PNG")
    (root / "text_png.txt").write_text("fake image", encoding="utf-8")
    _noise(seed=3).save(root / "gbk.png")
    (root / "gbk.txt").write_bytes("镜头缓缓拉近".encode("gbk"))
    _noise(seed=4).save(root / "empty.png")
    (root / "empty.txt").write_bytes(b"")
    (root / "huge.png").write_bytes(_png_header_only(20000, 20000))
    (root / "huge.txt").write_text("a decompression bomb", encoding="utf-8")
    _noise(seed=5).save(root / "lonely.png")
    (root / "orphan.txt").write_text("a prompt without its image", encoding="utf-8")
    return root


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_loader_reports_each_bad_item_once_with_its_reason(bench):
    loaded = load_benchmark(bench)
    assert loaded.ids == GOOD
    assert not loaded.is_complete
    by_id = {p.item_id: p for p in loaded.skipped}
    assert sorted(by_id) == sorted(BAD)
    for item_id, (kind, words) in BAD.items():
        p = by_id[item_id]
        assert p.kind == kind and words in p.message, (item_id, p)
        assert p.path is not None and p.path.name.startswith(item_id)
        assert "\n" not in p.message and "fix:" in p.message  # one line, says how to fix it
    assert "GB18030" in by_id["gbk"].message  # the refusal says what the file looks like and how to convert it


def test_size_probe_never_raises_raw_errors(bench):
    with pytest.raises(UserError, match="truncated or corrupt") as exc:
        image_size(bench / "cut_png.png")
    assert "cut_png.png" in str(exc.value)
    assert image_size(bench / "cut_jpeg.jpg") == (48, 40)  # the header alone is fine ...
    with pytest.raises(UserError, match="truncated or corrupt"):
        check_image(bench / "cut_jpeg.jpg")  # ... the full decode is not


def test_data_info_lists_skipped_items(bench, capsys):
    assert main(["data", "info", str(bench)]) == 0
    out, err = capsys.readouterr()
    assert "2 prompts" in out and "partial" in out and "Traceback" not in out + err
    for item_id in BAD:
        assert item_id in err
    assert main(["data", "info", str(bench), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["prompts"] == 2 and summary["status"] == "partial"
    assert sorted(s["item_id"] for s in summary["skipped"]) == sorted(BAD)


def test_data_validate_reports_every_bad_item(bench, capsys):
    rc = main(["data", "validate", str(bench), "--show", "20"])
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in out + err
    flat = _flat(out)
    assert "partial" in flat and "complete" not in flat
    for item_id, (kind, words) in BAD.items():
        assert kind in flat and item_id in flat and words in flat, item_id
    assert "cut_jpeg.jpg: image is truncated or corrupt" in flat


def test_data_export_exports_good_items_and_exits_1(bench, tmp_path, capsys):
    import datasets

    out_dir = tmp_path / "exported"
    rc = main(["data", "export", str(bench), str(out_dir)])
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in out + err
    assert "wrote 2 rows" in out
    assert sorted(datasets.load_from_disk(str(out_dir))["id"]) == GOOD
    for item_id in BAD:
        assert item_id in err


def test_generate_makes_good_items_lists_skipped_and_exits_1(bench, tmp_path, capsys):
    run_dir = tmp_path / "run"
    rc = main(["generate", str(bench), "--model", "static", "--set", "height=32", "--set", "width=32",
               "--set", "num_frames=5", "--set", "fps=8", "--run-dir", str(run_dir)])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 1 and "Traceback" not in out + err
    videos = sorted(p.relative_to(run_dir / "videos").with_suffix("").as_posix().split("/", 1)[1] for p in (run_dir / "videos").rglob("*.mp4"))
    assert videos == GOOD
    assert "skipped items" in err
    for item_id in BAD:
        assert item_id in err
    generation = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["generation"]
    assert generation["this_invocation"]["ok"] == 2 and generation["this_invocation"]["failed"] == 0
    reasons = {s["item_id"]: s["message"] for s in generation["skipped_bad"]}
    assert sorted(reasons) == sorted(BAD) and all(words in reasons[i] for i, (_, words) in BAD.items())


def test_named_bad_id_is_reported_not_unknown(bench, capsys):
    rc = main(["data", "validate", str(bench), "--ids", "good_a,cut_jpeg"])
    out, err = capsys.readouterr()
    assert rc == 1 and "not in the benchmark" not in out + err
    assert "cut_jpeg" in out and "partial" in out


_PNG, _JPEG = _encoded("PNG", seed=7), _encoded("JPEG", seed=7)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["png", "jpg"]), cut=st.floats(0.0, 1.0))
def test_any_truncation_is_decoded_fully_or_reported(tmp_path, fmt, cut):
    data = _PNG if fmt == "png" else _JPEG
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(data[: int(len(data) * cut)])
    for probe in (image_size, check_image):
        try:
            assert probe(path) == (48, 40)
        except UserError as exc:
            assert "cut." in str(exc) and "fix:" in str(exc)
