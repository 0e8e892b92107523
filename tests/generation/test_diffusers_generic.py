"""The generic diffusers adapter (`diffusers`, any pipeline class named in the config) and the Wan 2.2
presets, on tiny random-weight pipelines written as real diffusers folders (save_pretrained) and read
back by the adapter (from_pretrained), end to end through `stepeval generate`."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from rich.console import Console

pytest.importorskip("diffusers", reason="the diffusers extra is not installed (pip install -e .[diffusers])")
pytest.importorskip("accelerate", reason="diffusers reads Wan folders only through accelerate (part of the diffusers extra)")
pytest.importorskip("ftfy", reason="Wan pipelines clean prompts with ftfy (part of the diffusers extra)")

from generators.diffusers_i2v import DiffusersPipeline, Wan22I2VA14B, Wan22TI2V5B  # noqa: E402
from stepeval.errors import UserError  # noqa: E402
from stepeval.generation import GenerationRequest  # noqa: E402
from stepeval.generation.runner import GenerateConfig, generate_run  # noqa: E402
from stepeval.generation.tags import ModelSpec  # noqa: E402
from stepeval.runs import Run  # noqa: E402
from stepeval.video import probe, read_video  # noqa: E402
from tests.generation import tiny_diffusers as tiny  # noqa: E402
from tests.generation.helpers import make_folder_benchmark, stepeval  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers-folders")
    return {
        "a14b": tiny.saved(tiny.wan22_i2v_a14b, root / "wan22-a14b"),
        "ti2v5b": tiny.saved(tiny.wan22_ti2v_5b, root / "wan22-ti2v-5b"),
        "ltx": tiny.saved(tiny.ltx_video_i2v, root / "ltx"),
        "wan-t2v": tiny.saved(tiny.wan_t2v, root / "wan-t2v"),
    }


# tag -> (model entry, (frames, fps, height, width) the video must have)
CLI_MODELS = {
    "wan22-a14b-generic": ({"name": "diffusers", "params": {"pipeline_class": "WanImageToVideoPipeline", "model": "a14b", "height": 32, "width": 32,
                                                            "num_frames": 5, "fps": 16, "num_inference_steps": 2, "dtype": "float32"}},
                           (5, 16.0, 32, 32)),
    "ltx-generic": ({"name": "diffusers", "params": {"pipeline_class": "LTXImageToVideoPipeline", "model": "ltx", "height": 32, "width": 32,
                                                     "num_frames": 9, "fps": 24, "num_inference_steps": 1, "dtype": "float32"}},
                    (9, 24.0, 32, 32)),
    # The preset: native fps (24) and guidance from the Wan team's config; size and frames made small.
    "wan22-ti2v-5b": ({"name": "wan2.2-ti2v-5b", "params": {"model": "ti2v5b", "height": 64, "width": 64, "num_frames": 5,
                                                            "num_inference_steps": 1, "dtype": "float32"}},
                      (5, 24.0, 64, 64)),
}  # fmt: skip


@pytest.mark.slow
def test_generic_adapter_runs_tiny_pipelines_of_several_classes_through_the_cli(folders, tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 1, size=(96, 64), prompts=["a cat camera pans left"])
    models = []
    for tag, (entry, _) in CLI_MODELS.items():
        params = {**entry["params"], "model": folders[entry["params"]["model"]]}
        models.append({"name": entry["name"], "params": params, "tag": tag})
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"benchmark": str(bench), "run_dir": str(tmp_path / "run"), "device": "cpu",
                                      "vbench_view": False, "models": models}), encoding="utf-8")  # fmt: skip
    res = stepeval("generate", "--config", config)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = Run.open(tmp_path / "run").generations.read().set_index("model_tag")
    assert set(rows.index) == set(CLI_MODELS)
    for tag, (entry, (frames, fps, height, width)) in CLI_MODELS.items():
        row = rows.loc[tag]
        assert row["status"] == "ok", (tag, row["traceback"])
        path = tmp_path / "run" / row["video_path"]
        info = probe(path)
        assert (info.frames, info.fps, info.height, info.width) == (frames, fps, height, width), tag
        video = read_video(path)
        assert video.shape == (frames, height, width, 3) and video.std() > 0, tag  # decodes in full, not a blank
        params = json.loads(row["parameters"])
        if entry["name"] == "diffusers":
            assert params["pipeline_class"] == entry["params"]["pipeline_class"]
    # The preset filled in what the Wan team's config says for TI2V-5B.
    preset = json.loads(rows.loc["wan22-ti2v-5b"]["parameters"])
    assert preset["guidance_scale"] == 5.0 and preset["negative_prompt"].startswith("色调艳丽")


@pytest.mark.slow
def test_a_text_to_video_pipeline_gets_the_prompts_alone_with_task_t2v(folders, tmp_path):
    bench = make_folder_benchmark(tmp_path / "bench", 1, prompts=["a cat zooms in"])
    spec = ModelSpec("diffusers", {"pipeline_class": "WanPipeline", "model": folders["wan-t2v"], "height": 32, "width": 32,
                                   "num_frames": 5, "num_inference_steps": 1, "dtype": "float32"}, tag="wan-t2v")  # fmt: skip
    cfg = GenerateConfig(benchmark=bench, models=[spec], run_dir=tmp_path / "run", device="cpu", vbench_view=False, task="t2v")
    generate_run(cfg, console=Console(file=open(os.devnull, "w")), show_progress=False)
    row = Run.open(tmp_path / "run").generations.read().iloc[0]
    assert row["status"] == "ok", row["traceback"]
    assert probe(tmp_path / "run" / row["video_path"]).frames == 5


def test_a14b_preset_reads_both_experts_and_refuses_a_one_transformer_folder(folders):
    gen = Wan22I2VA14B(model=folders["a14b"], dtype="float32")
    gen.load("cpu")
    assert gen.pipe.transformer_2 is not None and gen.pipe.config.boundary_ratio == 0.9
    assert (gen.num_inference_steps, gen.guidance_scale) == (40, 3.5)
    with pytest.raises(UserError, match="not a Wan 2.2 A14B folder"):
        Wan22I2VA14B(model=folders["ti2v5b"], dtype="float32").load("cpu")
    with pytest.raises(UserError, match="not a Wan 2.2 TI2V-5B folder"):
        Wan22TI2V5B(model=folders["a14b"], dtype="float32").load("cpu")


@pytest.mark.parametrize(
    "cls,landscape,portrait,frames,fps",
    [(Wan22I2VA14B, (720, 1280), (1280, 720), 81, 16.0), (Wan22TI2V5B, (704, 1280), (1280, 704), 121, 24.0)],
)
def test_wan22_presets_pick_the_native_bucket_frames_and_fps(cls, landscape, portrait, frames, fps, tmp_path):
    from PIL import Image

    for (iw, ih), expected in {(1600, 900): landscape, (900, 1600): portrait}.items():
        Image.new("RGB", (iw, ih)).save(tmp_path / "i.png")
        assert cls().resolve(GenerationRequest("x", "p", tmp_path / "i.png", 0)) == (*expected, frames, fps)
    multiple = 32 if cls is Wan22TI2V5B else 16  # VAE stride x patch
    assert all(h % multiple == 0 and w % multiple == 0 for h, w in cls.capabilities.sizes)


# -- the signature mapping and its refusals (no weights read) -------------------------------------


def _request(tmp_path, image=True):
    from PIL import Image

    path = None
    if image:
        path = tmp_path / "i.png"
        Image.new("RGB", (64, 48), (90, 120, 30)).save(path)
    return GenerationRequest("item", "a cat", path, seed=1)


def test_generic_size_and_frames_come_from_the_params_or_the_pipelines_defaults(tmp_path):
    req = _request(tmp_path)
    assert DiffusersPipeline("WanImageToVideoPipeline", model="m").resolve(req) == (480, 832, 81, 16.0)
    assert DiffusersPipeline("LTXImageToVideoPipeline", model="m", fps=24).resolve(req) == (512, 704, 161, 24.0)
    assert DiffusersPipeline("WanPipeline", model="m", height=64, width=96, num_frames=9).resolve(req) == (64, 96, 9, 16.0)
    with pytest.raises(UserError) as err:  # CogVideoX computes its size from the loaded transformer
        DiffusersPipeline("CogVideoXImageToVideoPipeline", model="m").resolve(req)
    assert "CogVideoXImageToVideoPipeline" in str(err.value) and "height" in str(err.value) and "--set height=" in err.value.hint


def test_the_request_binds_to_each_pipelines_own_argument_names():
    import diffusers

    from generators.diffusers_call import CallSignature

    values = {"prompt": "p", "height": 32, "width": 32, "num_frames": 9, "num_inference_steps": 2, "fps": 24, "output_type": "np", "image": None}
    ltx = CallSignature.of(diffusers.LTXImageToVideoPipeline).bind(values)
    assert ltx["frame_rate"] == 24 and ltx["num_frames"] == 9 and "fps" not in ltx and "image" not in ltx
    latte = CallSignature.of(diffusers.LattePipeline).bind(values)
    assert latte["video_length"] == 9 and "frame_rate" not in latte  # no fps argument: left out, not refused
    with pytest.raises(UserError) as err:
        CallSignature.of(diffusers.WanPipeline).bind({**values, "image": object()})
    assert "WanPipeline" in str(err.value) and "`image`" in str(err.value) and "--task t2v" in err.value.hint


def test_a_text_to_video_class_refuses_an_image_and_an_image_to_video_class_refuses_a_text_only_item(tmp_path):
    t2v = DiffusersPipeline("WanPipeline", model="m", height=32, width=32, num_frames=5)
    with pytest.raises(UserError) as err:
        t2v.generate(_request(tmp_path))
    assert "WanPipeline" in str(err.value) and "`image`" in str(err.value) and "--task t2v" in err.value.hint
    i2v = DiffusersPipeline("WanImageToVideoPipeline", model="m", height=32, width=32, num_frames=5)
    with pytest.raises(UserError) as err:
        i2v.generate(_request(tmp_path, image=False))
    assert "WanImageToVideoPipeline needs an input image" in str(err.value) and "--placeholder-images" in err.value.hint


@pytest.mark.parametrize(
    "params,message,hint",
    [
        ({"pipeline_class": "WanImageToVideoPipe"}, "no pipeline class 'WanImageToVideoPipe'", "WanImageToVideoPipeline"),
        ({"pipeline_class": "AutoencoderKLWan"}, "no pipeline class 'AutoencoderKLWan'", "model_index.json"),
        ({"pipeline_class": "StableVideoDiffusionPipeline"}, "takes no `prompt` argument", "text-to-video or image-to-video"),
        ({"pipeline_class": "WanPipeline", "call_kwargs": {"guidance_scale_3": 2}}, "no argument(s) guidance_scale_3", "guidance_scale_2"),
        ({"pipeline_class": "WanPipeline"}, "needs the diffusers folder of WanPipeline", "model=PATH"),
    ],
)
def test_what_the_generic_adapter_cannot_drive_is_refused_before_any_weights_are_read(params, message, hint):
    gen = DiffusersPipeline(**params)
    with pytest.raises(UserError) as err:
        gen.load("cpu")
    assert message in str(err.value) and hint in err.value.hint
