import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from stepeval.errors import UserError
from stepeval.images import image_size, load_image, pick_bucket, prepare_image, resize_cover_crop


def _write_png_streamed(path, width, height):
    """A real, valid grayscale PNG of any size, written without holding the pixels in memory."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" + bytes(width)
    body = bytearray()
    for _ in range(height):
        body += comp.compress(row)
    body += comp.flush()
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", bytes(body)))
        f.write(chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "mode,value",
    [("RGBA", (10, 20, 30, 0)), ("LA", (99, 255)), ("L", 77), ("CMYK", (0, 255, 0, 0)), ("1", 1), ("RGB", (1, 2, 3))],
)
def test_modes_become_rgb(tmp_path, mode, value):
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    Image.new(mode, (12, 8), value).save(path)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (12, 8)


def test_rgba_drops_alpha_like_upstream(tmp_path):
    Image.new("RGBA", (4, 4), (10, 20, 30, 0)).save(tmp_path / "a.png")
    assert tuple(np.asarray(load_image(tmp_path / "a.png"))[0, 0]) == (10, 20, 30)


def test_palette_and_16bit(tmp_path):
    p = Image.new("P", (4, 4))
    p.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    p.putpixel((1, 1), 1)
    p.save(tmp_path / "p.png")
    assert tuple(np.asarray(load_image(tmp_path / "p.png"))[1, 1]) == (200, 100, 50)
    Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(tmp_path / "w.png")
    Image.fromarray(np.full((4, 4), 32896, dtype=np.uint16)).save(tmp_path / "g.png")
    assert np.asarray(load_image(tmp_path / "w.png")).min() == 255  # PIL's own convert would clip to 255 as well...
    assert abs(int(np.asarray(load_image(tmp_path / "g.png"))[0, 0, 0]) - 128) <= 1  # ...but mid-grey must stay mid-grey


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_image(tmp_path / "r.jpg").size == (20, 40)
    assert image_size(tmp_path / "r.jpg") == (20, 40)


def test_resize_cover_crop_keeps_centre():
    arr = np.zeros((100, 300, 3), np.uint8)
    arr[:, 100:200] = 255  # white centre third
    out = np.asarray(resize_cover_crop(Image.fromarray(arr), 50, 50))
    assert out.shape == (50, 50, 3)
    assert out[:, 5:45].min() > 200  # the crop is the centre
    tall = resize_cover_crop(Image.new("RGB", (100, 400)), 544, 992)
    assert tall.size == (992, 544)


def test_pick_bucket():
    buckets = [(544, 992), (992, 544), (768, 768)]
    assert pick_bucket(1720, 720, buckets) == (544, 992)
    assert pick_bucket(720, 1280, buckets) == (992, 544)
    assert pick_bucket(1000, 1010, buckets) == (768, 768)


def test_prepare_image_shape(tmp_path):
    Image.new("RGBA", (1720, 720), (1, 2, 3, 4)).save(tmp_path / "i.png")
    out = prepare_image(tmp_path / "i.png", 544, 992)
    assert out.shape == (544, 992, 3) and out.dtype == np.uint8


def test_truncated_png(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated or corrupt") as exc:
        load_image(tmp_path / "cut.png")
    assert "cut.png" in str(exc.value)


def test_not_an_image(tmp_path):
    (tmp_path / "fake.png").write_text("hello, I am text")
    with pytest.raises(UserError, match="not a readable image") as exc:
        load_image(tmp_path / "fake.png")
    assert "fake.png" in str(exc.value)


def test_decompression_bomb_refused_without_allocating(tmp_path):
    bomb = tmp_path / "bomb.png"
    _write_png_streamed(bomb, 20000, 20000)
    assert bomb.stat().st_size < 2_000_000  # 400 MP of zeros compress to almost nothing
    with pytest.raises(UserError, match="20000x20000") as exc:
        load_image(bomb)
    assert "STEPEVAL_MAX_IMAGE_PIXELS" in str(exc.value) and "bomb.png" in str(exc.value)
    with pytest.raises(UserError, match="safety limit"):
        image_size(bomb)


def test_directory_and_missing(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        load_image(tmp_path)
    with pytest.raises(UserError, match="not found"):
        load_image(tmp_path / "nope.png")
