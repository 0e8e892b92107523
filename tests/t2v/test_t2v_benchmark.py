"""Step-Video-T2V-Eval as a benchmark kind: the shared copy loads as 128 text-only items in 11
categories with its checksum verified; any one-byte change is caught; a user's label file replaces
the inferred one; subsets select by category; `stepeval data info|validate|ids` work on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepeval.benchmark import T2V, TI2V, BenchmarkItem, Subset, load_benchmark
from stepeval.benchmark.items import BLOCKING
from stepeval.benchmark.manifest import git_blob_id
from stepeval.benchmark.t2v_eval import LABEL_FILE, NUM_PROMPTS, PROMPT_FILE, UPSTREAM_GIT_BLOB, load_t2v_eval, shipped_labels
from stepeval.cli.main import main as cli
from stepeval.errors import UserError

CATEGORIES = {"sports", "food", "scenery", "animals", "festivals", "combination_concepts", "surreal", "people", "3d_animation",
              "cinematography", "style"}  # fmt: skip


def upstream_lines(root: Path) -> list[str]:
    return (root / PROMPT_FILE).read_bytes().decode("utf-8").split("\n")


def test_shared_copy_loads_as_128_text_only_items(t2v_root):
    b = load_benchmark(t2v_root)
    assert b.name == "step-video-t2v-eval" and b.task == T2V
    assert b.ids == [f"{n:03d}" for n in range(1, 129)]
    assert b.verified == {PROMPT_FILE: True} and b.problems == [] and b.is_complete
    assert set(b.categories) == CATEGORIES
    assert all(it.task == T2V and it.image_path is None and not it.takes_image for it in b.items)
    # prompts are the file's lines byte for byte, in order
    assert [it.prompt for it in b.items] == upstream_lines(t2v_root)
    # the label file beside the prompt file gives the categories
    assert b.label_file == t2v_root / LABEL_FILE
    assert b.by_id()["001"].domain == "sports" and b.by_id()["128"].domain == "style"


def test_the_shipped_label_file_is_the_shared_one(t2v_root):
    assert shipped_labels().read_bytes() == (t2v_root / LABEL_FILE).read_bytes()


def test_validate_cli_reports_prompts_categories_and_checksum(t2v_root, capsys):
    assert cli(["data", "validate", str(t2v_root)]) == 0
    text = capsys.readouterr().out
    assert "128 prompts, 11 categories (from categories-inferred.csv), checksum verified: complete" in text
    assert cli(["data", "validate", str(t2v_root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["prompts"], out["categories"], out["checksum"], out["task"], out["status"]) == (128, 11, "verified", "t2v", "complete")
    assert out["by_domain"]["sports"] == 12 and sum(out["by_domain"].values()) == 128
    assert cli(["data", "validate", str(t2v_root), "--strict"]) == 0


def test_one_byte_change_is_caught_by_the_cli(t2v_copy, capsys):
    data = bytearray((t2v_copy / PROMPT_FILE).read_bytes())
    data[200] ^= 0x01
    (t2v_copy / PROMPT_FILE).write_bytes(bytes(data))
    assert cli(["data", "validate", str(t2v_copy)]) == 1
    text = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "checksum_mismatch" in text and str(t2v_copy / PROMPT_FILE) in text
    assert UPSTREAM_GIT_BLOB in text and "restore it byte for byte from stepfun-ai/Step-Video-T2V" in text
    assert "checksum MISMATCH" in text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.floats(0, 1, exclude_max=True), delta=st.integers(1, 255))
def test_any_one_byte_change_is_caught(t2v_root, t2v_copy, position, delta):
    data = bytearray((t2v_root / PROMPT_FILE).read_bytes())
    at = int(position * len(data))
    data[at] = (data[at] + delta) % 256
    (t2v_copy / PROMPT_FILE).write_bytes(bytes(data))
    b = load_t2v_eval(t2v_copy)  # never raises on a damaged file: it reports it
    assert b.verified[PROMPT_FILE] is False and not b.is_complete
    mismatch = [p for p in b.problems if p.kind == "checksum_mismatch"]
    assert len(mismatch) == 1 and mismatch[0].path == t2v_copy / PROMPT_FILE
    assert git_blob_id(bytes(data)) in mismatch[0].message


def test_no_verify_skips_the_checksum(t2v_copy):
    (t2v_copy / PROMPT_FILE).write_bytes((t2v_copy / PROMPT_FILE).read_bytes() + b"\n")  # an editor's final newline
    assert load_t2v_eval(t2v_copy).verified == {PROMPT_FILE: False}
    b = load_t2v_eval(t2v_copy, verify=False)
    assert b.verified == {} and len(b.items) == NUM_PROMPTS and b.is_complete


def test_a_user_label_file_replaces_the_inferred_one(t2v_root, tmp_path, capsys):
    labels = tmp_path / "mine.csv"
    labels.write_text("line,category\n" + "".join(f"{n},{'early' if n <= 40 else 'late'}\n" for n in range(1, 129)), encoding="utf-8")
    b = load_benchmark(t2v_root, labels=labels)
    assert b.categories == ["early", "late"] and b.label_file == labels
    assert b.ids == [f"{n:03d}" for n in range(1, 129)]  # ids do not depend on the labels
    assert cli(["data", "validate", str(t2v_root), "--labels", str(labels)]) == 0
    assert "128 prompts, 2 categories (from mine.csv), checksum verified" in capsys.readouterr().out
    assert cli(["data", "ids", str(t2v_root), "--labels", str(labels), "--domain", "early"]) == 0
    assert capsys.readouterr().out.split() == [f"{n:03d}" for n in range(1, 41)]
    # keyed by id instead of line number
    by_id = tmp_path / "by-id.csv"
    by_id.write_text("id,category\n" + "".join(f"{n:03d},c{n % 3}\n" for n in range(1, 129)), encoding="utf-8")
    assert load_benchmark(t2v_root, labels=by_id).by_id()["003"].domain == "c0"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("line,cat\n1,a\n", "no `line` and `category` columns"),
        ("line,category\n1,a\n1,b\n", "line 1 is labelled twice"),
        ("line,category\n1,\n", "line 1 has an empty category"),
        ("line,category\nfirst,a\n", "'first' is not a line number"),
        ("", "label file is empty"),
    ],
)
def test_a_malformed_label_file_is_one_clear_error(t2v_root, tmp_path, capsys, content, says):
    labels = tmp_path / "bad.csv"
    labels.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match="fix:") as err:
        load_benchmark(t2v_root, labels=labels)
    assert says in str(err.value) and str(labels) in str(err.value)
    assert cli(["data", "validate", str(t2v_root), "--labels", str(labels)]) == 2
    assert says in " ".join(capsys.readouterr().err.split())


def test_a_label_file_that_misses_lines_makes_the_copy_incomplete(t2v_root, tmp_path, capsys):
    labels = tmp_path / "short.csv"
    labels.write_text("line,category\n" + "".join(f"{n},x\n" for n in range(1, 121)) + "130,x\n", encoding="utf-8")
    b = load_benchmark(t2v_root, labels=labels)
    bad = [p for p in b.problems if p.kind == "bad_label"]
    assert "bad_label" in BLOCKING and not b.is_complete
    assert any("121-128" in p.message for p in bad) and any("130" in p.message for p in bad)
    assert b.by_id()["121"].domain == "" and b.by_id()["120"].domain == "x"
    assert cli(["data", "validate", str(t2v_root), "--labels", str(labels)]) == 1
    capsys.readouterr()


def test_labels_are_refused_for_other_kinds(tmp_path):
    with pytest.raises(UserError, match="applies to step-video-t2v-eval"):
        load_benchmark(tmp_path, kind="folder", labels=tmp_path / "x.csv")


def test_without_a_label_file_beside_it_the_shipped_one_is_read(t2v_copy):
    (t2v_copy / LABEL_FILE).unlink()
    b = load_t2v_eval(t2v_copy)
    assert b.label_file == shipped_labels() and len(b.categories) == 11 and b.is_complete


def test_subsets_select_by_category_and_sample_every_category(t2v_root, capsys):
    sports = load_benchmark(t2v_root, subset=Subset(domains=("sports",)))
    assert len(sports.items) == 12 and {it.domain for it in sports.items} == {"sports"} and sports.is_complete
    for seed in (0, 1, 2):
        sample = load_benchmark(t2v_root, subset=Subset(sample=11, seed=seed))
        assert len(sample.items) == 11 and set(sample.categories) == CATEGORIES  # stratified: one per category
    again = load_benchmark(t2v_root, subset=Subset(sample=11, seed=2))
    assert again.ids == sample.ids
    assert load_benchmark(t2v_root, subset=Subset(ids=("005", "100"))).ids == ["005", "100"]
    assert len(load_benchmark(t2v_root, subset=Subset(present_only=True)).items) == 128  # a text-only item lacks nothing
    with pytest.raises(UserError, match="not in Step-Video-T2V-Eval"):
        load_benchmark(t2v_root, subset=Subset(ids=("129",)))
    assert cli(["data", "ids", str(t2v_root), "--domain", "style"]) == 0
    assert capsys.readouterr().out.split() == [f"{n:03d}" for n in range(117, 129)]
    assert cli(["data", "info", str(t2v_root), "--sample", "22", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["prompts"] == 22 and info["categories"] == 11 and info["status"] == "complete" and info["checksum"] == "not checked"


def test_item_contract_has_one_notion_of_no_image():
    with pytest.raises(ValueError, match="text-to-video item has no input image"):
        BenchmarkItem("001", "p", Path("x.png"), "b", task=T2V)
    with pytest.raises(ValueError, match="unknown task"):
        BenchmarkItem("001", "p", None, "b", task="i2v")
    ti2v = BenchmarkItem("real/H/001", "p", Path("x.png"), "b", "real", "H")
    assert ti2v.task == TI2V and ti2v.takes_image and ti2v.has_image
    as_t2v = ti2v.as_task(T2V)
    assert as_t2v.image_path is None and not as_t2v.takes_image and (as_t2v.id, as_t2v.domain) == (ti2v.id, ti2v.domain)
    back = as_t2v.as_task(TI2V)  # a text-only item posed as TI2V is an item whose image is missing
    assert back.takes_image and not back.has_image
