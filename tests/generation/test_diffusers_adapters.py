"""Each diffusers I2V and T2V adapter, end to end through the batch runner, on a tiny random pipeline
built from diffusers' own model classes (tests/generation/tiny_diffusers.py): a valid mp4 with the
model's native frame count and fps. Spatial size is overridden small; frames stay native."""

from __future__ import annotations

import os

import pytest
from PIL import Image
from rich.console import Console

pytest.importorskip("diffusers", reason="the diffusers extra is not installed (pip install -e .[diffusers])")

from generators.diffusers_i2v import (  # noqa: E402
    CogVideoXI2V,
    CogVideoXT2V,
    HunyuanVideoI2V,
    HunyuanVideoT2V,
    LTXVideoI2V,
    LTXVideoT2V,
    Wan22T2VA14B,
    WanI2V,
    WanT2V,
)
from stepeval.errors import UserError  # noqa: E402
from stepeval.generation import GenerationRequest, registry  # noqa: E402
from stepeval.generation.runner import GenerateConfig, generate_run  # noqa: E402
from stepeval.generation.tags import ModelSpec  # noqa: E402
from stepeval.runs import Run  # noqa: E402
from stepeval.video import probe, read_video  # noqa: E402
from tests.generation import tiny_diffusers as tiny  # noqa: E402
from tests.generation.helpers import make_folder_benchmark  # noqa: E402

CASES = {
    "cogvideox-i2v": (CogVideoXI2V, tiny.cogvideox_i2v, (32, 48), {}),
    "ltx-video-i2v": (LTXVideoI2V, tiny.ltx_video_i2v, (32, 32), {}),
    "wan2.1-i2v": (WanI2V, tiny.wan_i2v, (32, 32), {}),
    "hunyuanvideo-i2v": (HunyuanVideoI2V, tiny.hunyuanvideo_i2v, (32, 32), {"prompt_template": tiny.HUNYUAN_TEMPLATE, "max_sequence_length": 16}),
}


T2V_CASES = {
    "cogvideox-t2v": (CogVideoXT2V, tiny.cogvideox_t2v, (32, 48), {}),
    "ltx-video-t2v": (LTXVideoT2V, tiny.ltx_video_t2v, (32, 32), {}),
    "wan2.1-t2v": (WanT2V, tiny.wan_t2v, (32, 32), {}),
    "wan2.2-t2v-a14b": (Wan22T2VA14B, tiny.wan22_t2v_a14b, (32, 32), {}),
    "hunyuanvideo-t2v": (HunyuanVideoT2V, tiny.hunyuanvideo_t2v, (32, 32), {"prompt_template": tiny.HUNYUAN_T2V_TEMPLATE, "max_sequence_length": 16}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", [*CASES, *T2V_CASES])
def test_adapter_makes_a_native_length_video_from_a_tiny_pipeline(name, tmp_path):
    if name.startswith("wan"):
        pytest.importorskip("ftfy", reason="Wan's pipelines clean prompts with ftfy (part of the diffusers extra)")
    text_only = name in T2V_CASES
    cls, build, (h, w), call_kwargs = (T2V_CASES if text_only else CASES)[name]
    test_name = f"{name}-tiny-test"

    def factory(**params):
        return cls(pipeline=build(), dtype="float32", num_inference_steps=1, height=h, width=w, call_kwargs=call_kwargs, **params)

    factory.capabilities = cls.capabilities
    registry.register(test_name, factory)
    try:
        bench = make_folder_benchmark(tmp_path / "bench", 1, prompts=["a cat camera pans left"])
        cfg = GenerateConfig(benchmark=bench, models=[ModelSpec(test_name)], run_dir=tmp_path / "run", device="cpu", vbench_view=False,
                             task="t2v" if text_only else "auto")  # a T2V model gets the prompt alone
        summary = generate_run(cfg, console=Console(file=open(os.devnull, "w")), show_progress=False)
    finally:
        registry._registered.pop(test_name)
    row = Run.open(tmp_path / "run").generations.read().iloc[0]
    assert row["status"] == "ok", row["traceback"]
    assert summary["models"][test_name]["ok"] == 1
    native_frames, native_fps = cls.capabilities.frame_counts[0], cls.capabilities.fps
    info = probe(tmp_path / "run" / row["video_path"])
    assert (info.frames, info.fps, info.height, info.width) == (native_frames, native_fps, h, w)
    assert read_video(tmp_path / "run" / row["video_path"]).shape == (native_frames, h, w, 3)  # decodes in full
    assert (row["frames"], row["fps"]) == (native_frames, native_fps)


@pytest.mark.parametrize(
    "cls,landscape,portrait",
    [(WanI2V, (480, 832), (832, 480)), (HunyuanVideoI2V, (720, 1280), (1280, 720)), (CogVideoXI2V, (480, 720), (480, 720)), (LTXVideoI2V, (480, 704), (704, 480))],
)
def test_adapters_pick_the_native_bucket_for_the_image_aspect(cls, landscape, portrait, tmp_path):
    for (iw, ih), expected in {(1600, 900): landscape, (900, 1600): portrait}.items():
        Image.new("RGB", (iw, ih)).save(tmp_path / "i.png")
        height, width, frames, fps = cls().resolve(GenerationRequest("x", "p", tmp_path / "i.png", 0))
        assert (height, width) == expected and frames == cls.capabilities.frame_counts[0] and fps == cls.capabilities.fps


def test_missing_weights_are_a_clear_error(tmp_path):
    gen = CogVideoXI2V(model=str(tmp_path / "no-such-model"), dtype="float32")
    with pytest.raises(UserError) as err:
        gen.load("cpu")
    assert "cannot load CogVideoXImageToVideoPipeline" in str(err.value) and "model=PATH" in str(err.value)


def test_t2v_presets_declare_text_only_and_their_settings():
    for cls in (WanT2V, Wan22T2VA14B, HunyuanVideoT2V, CogVideoXT2V, LTXVideoT2V):
        assert cls.capabilities.tasks == {"t2v"} and registry.capabilities(cls.name) == cls.capabilities
        height, width, frames, fps = cls().resolve(GenerationRequest("x", "p", None, 0))  # no image: the first native size
        assert (height, width) == cls.capabilities.sizes[0] and frames == cls.capabilities.frame_counts[0]
    moe = Wan22T2VA14B()
    assert (moe.num_inference_steps, moe.guidance_scale, moe.call_kwargs["guidance_scale_2"]) == (40, 4.0, 3.0)
    assert Wan22T2VA14B(call_kwargs={"guidance_scale_2": 2.0}).call_kwargs["guidance_scale_2"] == 2.0  # the user's wins


def test_a_one_transformer_folder_is_refused_by_the_moe_t2v_preset(tmp_path):
    pytest.importorskip("ftfy")
    gen = Wan22T2VA14B(model=tiny.saved(tiny.wan_t2v, tmp_path / "wan-t2v"), dtype="float32")
    with pytest.raises(UserError) as err:
        gen.load("cpu")
    assert "not a Wan 2.2 A14B folder" in str(err.value) and "wan2.1-t2v" in err.value.hint
