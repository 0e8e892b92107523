"""Requests without an image: `stepeval generate` makes real mp4s for text-only items with the
models that declare text-to-video (noise, still), refuses a model on a benchmark of the other task
with a message naming model, benchmark and fix, and runs it when the user asks on purpose."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml

from generators.baselines import GRAY, NoiseBaseline, StillBaseline
from stepeval.benchmark.items import T2V, TI2V
from stepeval.cli.main import main as cli
from stepeval.errors import UserError
from stepeval.generation import registry
from stepeval.generation.protocol import Capabilities, GenerationRequest, check_instance
from stepeval.video import read_video
from tests.generation.helpers import make_folder_benchmark

SMALL = ["--set", "height=32", "--set", "width=48", "--set", "num_frames=5", "--set", "fps=8"]
TAG = "@fps=8,height=32,num_frames=5,width=48"


def said(capsys) -> str:
    captured = capsys.readouterr()
    return " ".join((captured.out + captured.err).split())  # rich wraps long lines


def test_models_declare_their_tasks():
    assert registry.capabilities("still").tasks == {T2V}
    assert registry.capabilities("noise").tasks == {T2V, TI2V}
    assert registry.capabilities("static").tasks == {TI2V}  # the default: prompt and image
    assert Capabilities().tasks == {TI2V}
    with pytest.raises(ValueError, match="unknown task"):
        Capabilities(tasks=frozenset({"i2v"}))
    with pytest.raises(ValueError, match="at least one task"):
        Capabilities(tasks=frozenset())
    assert Capabilities(tasks={T2V}).to_dict()["tasks"] == ["t2v"]


def test_list_models_shows_the_tasks(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "300")
    assert cli(["generate", "--list-models"]) == 0
    rows = {line.split("│")[1].strip(): line.split("│")[-2].strip() for line in capsys.readouterr().out.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert (rows["still"], rows["noise"], rows["static"]) == ("t2v", "t2v, ti2v", "ti2v")


def test_an_instance_cannot_change_its_tasks():
    gen = StillBaseline()
    gen.capabilities = dataclasses.replace(StillBaseline.capabilities, tasks=frozenset({T2V, TI2V}))
    with pytest.raises(UserError, match="declares tasks"):
        check_instance(gen, StillBaseline.capabilities, "still")


def test_a_text_only_request_takes_the_default_size():
    caps = Capabilities(sizes=((544, 992), (992, 544)), frame_counts=(17,))
    assert caps.resolve(GenerationRequest("001", "p", None, seed=0)) == (544, 992, 17, 25.0)
    assert caps.resolve(GenerationRequest("001", "p", None, seed=0, height=64, width=32)) == (64, 32, 17, 25.0)
    with pytest.raises(UserError, match="no image to take a size from"):
        Capabilities().resolve(GenerationRequest("001", "p", None, seed=0))


def test_text_only_baselines_make_frames():
    request = GenerationRequest("001", "a cat", None, seed=7, height=16, width=24, num_frames=4)
    still = np.stack(list(StillBaseline().generate(request).frames))
    assert still.shape == (4, 16, 24, 3) and (still == GRAY).all()
    seeded = np.stack(list(StillBaseline(fill="noise").generate(request).frames))
    assert (seeded == seeded[0]).all() and seeded[0].std() > 50  # one noise frame, held
    again = np.stack(list(StillBaseline(fill="noise").generate(request).frames))
    assert np.array_equal(seeded, again)
    noise = np.stack(list(NoiseBaseline().generate(request).frames))
    assert (noise[0] == GRAY).all() and not np.array_equal(noise[-1], noise[0])


def test_generate_on_text_only_items_from_the_cli(t2v_root, tmp_path, capsys):
    run = tmp_path / "run"
    rc = cli(["generate", str(t2v_root), "--model", "noise", "--model", "still", *SMALL, "--ids", "001,013,128", "--run-dir", str(run)])
    assert rc == 0, said(capsys)
    rows = pd.read_parquet(run / "generations.parquet")
    assert len(rows) == 6 and set(rows["status"]) == {"ok"} and set(rows["item_id"]) == {"001", "013", "128"}
    assert set(rows["model_tag"]) == {f"noise{TAG}", f"still{TAG}"}
    assert (rows["width"] == 48).all() and (rows["height"] == 32).all() and (rows["frames"] == 5).all()
    for tag in (f"noise{TAG}", f"still{TAG}"):
        for item in ("001", "013", "128"):
            frames = read_video(run / "videos" / tag / f"{item}.mp4")
            assert frames.shape == (5, 32, 48, 3)
    still = read_video(run / "videos" / f"still{TAG}" / "013.mp4").astype(int)
    assert np.abs(still - GRAY).max() <= 3  # H.264 of a flat gray frame
    noise = read_video(run / "videos" / f"noise{TAG}" / "013.mp4").astype(int)
    assert np.abs(noise[-1] - noise[0]).mean() > 20  # dissolved into noise
    record = yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))
    assert record["config"]["benchmark"]["name"] == "step-video-t2v-eval" and record["items"] == ["001", "013", "128"]
    view = yaml.safe_load((run / "vbench" / f"still{TAG}" / "view.json").read_text(encoding="utf-8"))
    assert {v["image"] for v in view} == {None} and len(view) == 3
    # resumable as any run: nothing left to make
    assert cli(["generate", str(t2v_root), "--model", "still", *SMALL, "--ids", "001,013,128", "--run-dir", str(run)]) == 0
    assert "0 made" in said(capsys)


def test_a_ti2v_model_on_a_t2v_benchmark_is_refused_unless_asked(t2v_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(["generate", str(t2v_root), "--model", "static", *SMALL, "--ids", "001", "--run-dir", str(run)]) == 2
    text = said(capsys)
    assert "model(s) static cannot run" in text and "step-video-t2v-eval" in text and "no input image" in text
    assert "fix:" in text and "--task ti2v --placeholder-images" in text and "still" in text  # a model that would serve
    assert not run.exists()  # refused before anything was written
    # on purpose: a stand-in first frame for every item
    rc = cli(["generate", str(t2v_root), "--model", "static", *SMALL, "--ids", "001,002", "--task", "ti2v", "--placeholder-images", "--run-dir", str(run)])
    assert rc == 0, said(capsys)
    rows = pd.read_parquet(run / "generations.parquet")
    assert set(rows["status"]) == {"ok"} and len(rows) == 2
    assert yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))["config"]["task"] == "ti2v"


def test_a_t2v_model_on_a_ti2v_benchmark_is_refused_unless_asked(tmp_path, capsys):
    bench = make_folder_benchmark(tmp_path / "bench", 2)
    run = tmp_path / "run"
    assert cli(["generate", str(bench), "--model", "still", *SMALL, "--run-dir", str(run)]) == 2
    text = said(capsys)
    assert "model(s) still cannot run" in text and "benchmark folder" in text and "text-image-to-video" in text
    assert "fix:" in text and "--task t2v" in text and not run.exists()
    # on purpose: the prompts alone; a TI2V-only model in the same run is then refused by name
    assert cli(["generate", str(bench), "--model", "still", "--model", "static", *SMALL, "--task", "t2v", "--run-dir", str(run)]) == 2
    assert "model(s) static cannot run" in said(capsys)
    assert cli(["generate", str(bench), "--model", "still", "--model", "noise", *SMALL, "--task", "t2v", "--run-dir", str(run)]) == 0
    rows = pd.read_parquet(run / "generations.parquet")
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}
    # noise was given no image: it starts from gray, not from the item's picture
    first = read_video(run / "videos" / f"noise{TAG}" / "item00.mp4")[0].astype(int)
    assert np.abs(first - GRAY).max() <= 3
