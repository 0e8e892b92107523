"""The input-image thumbnails of the annotator's page: made once per server, ahead of the submit
that shows them, small JPEGs, and a failure is not remembered."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from annotation_app import media


def _png(path, size=(1720, 720)):
    Image.new("RGB", size, (200, 40, 90)).save(path, format="PNG")
    return path


def test_thumbnail_is_a_small_jpeg(tmp_path):
    data = media._Thumbnails().get(_png(tmp_path / "a.png"))
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert max(img.size) == media.IMAGE_MAX_SIDE and img.size[0] / img.size[1] == pytest.approx(1720 / 720, rel=0.01)


def test_warm_makes_it_in_the_background_and_get_reuses_it(tmp_path, monkeypatch):
    calls = []
    real = media._thumbnail

    def counting(path, mtime_ns):
        calls.append(path)
        return real(path, mtime_ns)

    monkeypatch.setattr(media, "_thumbnail", counting)
    thumbs = media._Thumbnails()
    path = _png(tmp_path / "b.png")
    thumbs.warm(path)
    first = thumbs.get(path)
    assert thumbs.get(path) is first
    assert calls == [str(path)]  # made once, by the warm-up
    # A changed file (new mtime) is a new thumbnail.
    _png(path, size=(300, 600))
    os.utime(path, ns=(1, 1))
    assert Image.open(io.BytesIO(thumbs.get(path))).size == (300, 600)
    assert len(calls) == 2


def test_a_failure_is_raised_and_not_cached(tmp_path):
    thumbs = media._Thumbnails()
    path = tmp_path / "c.png"
    path.write_bytes(b"not an image")
    with pytest.raises(Exception):
        thumbs.get(path)
    _png(path)
    os.utime(path, ns=(2, 2))
    assert thumbs.get(path)[:2] == b"\xff\xd8"  # JPEG start-of-image


def test_warming_a_missing_file_does_nothing(tmp_path):
    thumbs = media._Thumbnails()
    thumbs.warm(tmp_path / "missing.png")
    assert not thumbs._entries


def test_entries_are_bounded(tmp_path):
    thumbs = media._Thumbnails(max_entries=2)
    paths = [_png(tmp_path / f"{k}.png", size=(20, 10)) for k in range(3)]
    for p in paths:
        thumbs.get(p)
    assert [k[0] for k in thumbs._entries] == [str(p) for p in paths[1:]]
