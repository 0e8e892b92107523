import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepeval.benchmark import Subset, load_benchmark, load_folder, load_step_eval, load_vbench_suite
from stepeval.benchmark.manifest import load_manifest
from stepeval.cli.main import main as cli
from stepeval.errors import UserError


def copy_items(src: Path, dst: Path, ids: list[str]) -> None:
    manifest = load_manifest()
    for item_id in ids:
        e = manifest[item_id]
        for suffix in (".txt", ".png"):
            s = src / e.rel_path(suffix)
            if s.exists():
                (dst / e.rel_path(suffix)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(s, dst / e.rel_path(suffix))


# -- the real shared copy ------------------------------------------------------------------------

def test_shared_copy_counts_and_status(step_eval_root):
    b = load_step_eval(step_eval_root)
    assert len(b.items) == 298
    assert sum(it.domain == "real" for it in b.items) == 178
    assert sum(it.domain == "anime" for it in b.items) == 120
    counts = {(d, a): sum(it.domain == d and it.aspect == a for it in b.items) for d in ("real", "anime") for a in "HSV"}
    assert counts == {("real", "H"): 95, ("real", "S"): 11, ("real", "V"): 72, ("anime", "H"): 10, ("anime", "S"): 20, ("anime", "V"): 90}
    assert sum(it.has_image for it in b.items) == 24
    assert sum(ok for rel, ok in b.verified.items() if rel.endswith(".png")) == 24
    assert all(b.verified.values()) and len(b.verified) == 298 + 24
    assert len(b.missing_images) == 274
    assert not b.is_complete
    # prompts are byte-exact, trailing spaces included (41 upstream prompts end in a space)
    assert sum(it.prompt.endswith(" ") for it in b.items) == 41


def test_validate_cli_on_shared_copy(step_eval_root, capsys):
    rc = cli(["data", "validate", str(step_eval_root), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["prompts"] == 298 and out["by_domain"] == {"anime": 120, "real": 178}
    assert out["images_present"] == 24 and out["images_verified"] == 24 and out["images_missing"] == 274
    assert out["status"] == "partial"
    rc = cli(["data", "validate", str(step_eval_root)])
    text = capsys.readouterr().out
    assert "298 prompts (120 anime, 178 real)" in text and "24 images verified" in text and "274 missing" in text and "partial" in text
    assert cli(["data", "validate", str(step_eval_root), "--strict"]) == 1


def test_present_subset_is_complete(step_eval_root, capsys):
    rc = cli(["data", "validate", str(step_eval_root), "--present-only", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["prompts"] == 24 and out["status"] == "complete"


def test_domain_subset_still_partial(step_eval_root):
    b = load_benchmark(step_eval_root, subset=Subset(domains=("real",), aspects=("S",)))
    assert len(b.items) == 11 and len(b.expected_ids) == 11 and not b.is_complete


# -- corrupt and partial copies ------------------------------------------------------------------

def first_ids(domain: str, aspect: str, n: int) -> list[str]:
    return sorted(i for i, e in load_manifest().items() if e.domain == domain and e.aspect == aspect)[:n]


def test_one_byte_changed_is_a_checksum_mismatch(step_eval_root, tmp_path, capsys):
    ids = ["anime/H/001", "anime/S/048", first_ids("real", "S", 1)[0]]
    copy_items(step_eval_root, tmp_path, ids)
    png = tmp_path / load_manifest()["anime/H/001"].rel_path(".png")
    png.write_bytes(png.read_bytes() + b"\0")  # differs from upstream, still decodes
    b = load_step_eval(tmp_path, ids=set(ids))
    mism = [p for p in b.problems if p.kind == "checksum_mismatch"]
    assert [p.item_id for p in mism] == ["anime/H/001"] and mism[0].path == png
    assert len(b.items) == 3  # the rest still loads
    rc = cli(["data", "validate", str(tmp_path), "--ids", ",".join(ids)])
    out = capsys.readouterr().out
    assert rc == 1 and "checksum_mismatch" in out and "001.png" in out


def test_stray_missing_pair_and_bad_prompts(step_eval_root, tmp_path):
    ids = first_ids("real", "H", 4)
    copy_items(step_eval_root, tmp_path, ids)
    m = load_manifest()
    folder = tmp_path / "ti2v_eval_real" / "H"
    (folder / ".DS_Store").write_bytes(b"\0\0")
    missing, gbk_id, empty, bom_id = ids
    (tmp_path / m[missing].rel_path(".txt")).unlink()  # missing pair file
    (tmp_path / m[gbk_id].rel_path(".txt")).write_bytes("镜头缓缓拉近".encode("gbk"))
    (tmp_path / m[empty].rel_path(".txt")).write_bytes(b"")
    bom = tmp_path / m[bom_id].rel_path(".txt")
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())
    b = load_step_eval(tmp_path, ids=set(ids))
    kinds = {(p.kind, p.item_id) for p in b.problems}
    assert ("missing_prompt", missing) in kinds
    assert ("bad_prompt", gbk_id) in kinds and ("bad_prompt", empty) in kinds
    assert any(p.kind == "stray_file" and p.path.name == ".DS_Store" for p in b.problems)
    gbk = next(p for p in b.problems if p.item_id == gbk_id)
    assert "GBK" in gbk.message and "UTF-8" in gbk.message
    # The BOM is stripped, so the prompt reads right, but the file no longer matches upstream.
    item = b.by_id()[bom_id]
    assert not item.prompt.startswith("\ufeff")
    assert ("checksum_mismatch", bom_id) in kinds
    assert b.ids == [bom_id]  # the bad items are reported, the good one still loads


def test_unreadable_directory_reported(step_eval_root, tmp_path):
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="stepeval-unreadable-"))
    try:
        os.chmod(base, 0o755)
        ids = [first_ids("real", "H", 1)[0], first_ids("anime", "V", 1)[0]]
        copy_items(step_eval_root, base, ids)
        for dirpath, dirs, files in os.walk(base):
            os.chmod(dirpath, 0o755)
            for f in files:
                os.chmod(Path(dirpath) / f, 0o644)
        locked = base / "ti2v_eval_real" / "H"
        os.chmod(locked, 0o000)
        # root reads any folder: drop the capabilities that let it, so the scan meets the lock
        code = (
            "import json,sys; from stepeval.benchmark import load_step_eval; "
            f"b = load_step_eval({str(base)!r}, ids={set(ids)!r}); "
            "print(json.dumps([[p.kind, str(p.path)] for p in b.problems]))"
        )
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
        if prefix and not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder unreadable")
        res = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        problems = json.loads(res.stdout)
        assert ["unreadable", str(locked)] in problems
        assert any(k == "missing_prompt" for k, _ in problems)  # its items are reported, the rest loads
    finally:
        os.chmod(base / "ti2v_eval_real" / "H", 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_wrong_folder_and_unknown_ids(tmp_path, step_eval_root, capsys):
    with pytest.raises(UserError, match="not a Step-Video-TI2V-Eval folder"):
        load_step_eval(tmp_path)
    with pytest.raises(UserError, match="real/H/999"):
        load_step_eval(step_eval_root, ids={"real/H/999"})
    assert cli(["data", "validate", str(tmp_path / "missing")]) == 2
    assert "benchmark folder not found" in capsys.readouterr().err


# -- subsets -------------------------------------------------------------------------------------

def test_stratified_sample_is_seeded_and_proportional(step_eval_root):
    b = load_step_eval(step_eval_root, verify=False)
    s1 = Subset(sample=30, seed=1).apply(b.items)
    s2 = Subset(sample=30, seed=1).apply(b.items)
    s3 = Subset(sample=30, seed=2).apply(b.items)
    assert [i.id for i in s1] == [i.id for i in s2] and [i.id for i in s1] != [i.id for i in s3]
    assert len(s1) == 30
    counts = {}
    for it in s1:
        counts[(it.domain, it.aspect)] = counts.get((it.domain, it.aspect), 0) + 1
    # shares: real H 95/298*30 = 9.56 -> 9 or 10, anime V 90/298*30 = 9.06 -> 9 or 10
    assert counts[("real", "H")] in (9, 10) and counts[("anime", "V")] in (9, 10)
    assert sum(counts.values()) == 30


def test_subset_filters(step_eval_root):
    b = load_step_eval(step_eval_root, verify=False)
    assert len(Subset(domains=("anime",)).apply(b.items)) == 120
    assert len(Subset(domains=("anime",), aspects=("S",)).apply(b.items)) == 20
    assert [i.id for i in Subset(ids=("real/V/001", "anime/H/001")).apply(b.items)] == ["anime/H/001", "real/V/001"]
    assert len(Subset(present_only=True).apply(b.items)) == 24
    with pytest.raises(UserError, match="nope/1"):
        Subset(ids=("nope/1",)).apply(b.items)


# -- other loaders -------------------------------------------------------------------------------

def _img(path, size=(32, 24)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (9, 9, 9)).save(path)


def test_folder_loader(tmp_path):
    _img(tmp_path / "cats" / "a.png")
    (tmp_path / "cats" / "a.txt").write_text("a cat jumps\n", encoding="utf-8")
    _img(tmp_path / "b.jpg")
    (tmp_path / "b.txt").write_text("镜头向左移动", encoding="utf-8")
    _img(tmp_path / "lonely.webp")
    (tmp_path / "orphan.txt").write_text("no image", encoding="utf-8")
    (tmp_path / "broken.png").write_text("not png")
    (tmp_path / "broken.txt").write_text("broken image", encoding="utf-8")
    (tmp_path / "notes.md").write_text("readme")
    b = load_folder(tmp_path)
    assert b.ids == ["b", "cats/a"]
    assert b.by_id()["cats/a"].prompt == "a cat jumps" and b.by_id()["cats/a"].domain == "cats"
    kinds = {(p.kind, p.item_id) for p in b.problems}
    assert ("missing_prompt", "lonely") in kinds and ("missing_image", "orphan") in kinds and ("bad_image", "broken") in kinds
    assert any(p.kind == "stray_file" and p.path.name == "notes.md" for p in b.problems)
    assert load_benchmark(tmp_path).name == "folder"


def test_vbench_suite_loader(tmp_path):
    entries = [
        {"file_name": "a dog running on the beach.jpg", "type": "animal", "caption": "a dog running on the beach"},
        {"file_name": "city at night.jpg", "type": "scenery"},
        {"image_name": "a red car.jpg", "image_type": "vehicle", "prompt_en": "a red car drives away"},
    ]
    (tmp_path / "i2v-bench-info.json").write_text(json.dumps(entries))
    for e in entries[:2]:
        _img(tmp_path / "crop" / "16-9" / (e.get("file_name")), (64, 36))
        _img(tmp_path / "crop" / "1-1" / (e.get("file_name")), (32, 32))
    b = load_benchmark(tmp_path)
    assert b.name == "vbench-i2v"
    assert b.ids == ["a dog running on the beach", "city at night", "a red car"]
    assert b.by_id()["city at night"].prompt == "city at night"
    assert b.by_id()["a red car"].prompt == "a red car drives away" and not b.by_id()["a red car"].has_image
    sq = load_vbench_suite(tmp_path, ratio="1-1")
    assert sq.by_id()["city at night"].image_path.parent.name == "1-1"
    with pytest.raises(UserError, match="unknown crop ratio"):
        load_vbench_suite(tmp_path, ratio="3-2")
