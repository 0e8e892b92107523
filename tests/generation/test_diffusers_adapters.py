"""Each diffusers I2V adapter, end to end through the batch runner, on a tiny random pipeline built
from diffusers' own model classes (tests/generation/tiny_diffusers.py): a valid mp4 with the model's
native frame count and fps. Spatial size is overridden small; frames stay native."""

from __future__ import annotations

import os

import pytest
from PIL import Image
from rich.console import Console

pytest.importorskip("diffusers", reason="the diffusers extra is not installed (pip install -e .[diffusers])")

from generators.diffusers_i2v import CogVideoXI2V, HunyuanVideoI2V, LTXVideoI2V, WanI2V  # noqa: E402
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


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_adapter_makes_a_native_length_video_from_a_tiny_pipeline(name, tmp_path):
    if name == "wan2.1-i2v":
        pytest.importorskip("ftfy", reason="WanImageToVideoPipeline cleans prompts with ftfy (part of the diffusers extra)")
    cls, build, (h, w), call_kwargs = CASES[name]
    test_name = f"{name}-tiny-test"

    def factory(**params):
        return cls(pipeline=build(), dtype="float32", num_inference_steps=1, height=h, width=w, call_kwargs=call_kwargs, **params)

    factory.capabilities = cls.capabilities
    registry.register(test_name, factory)
    try:
        bench = make_folder_benchmark(tmp_path / "bench", 1, prompts=["a cat camera pans left"])
        cfg = GenerateConfig(benchmark=bench, models=[ModelSpec(test_name)], run_dir=tmp_path / "run", device="cpu", vbench_view=False)
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
