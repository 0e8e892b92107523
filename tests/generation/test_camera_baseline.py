"""The camera instruction parser, and the camera baseline moving the way the prompt says.

Convention (VBench's): pan_left = the camera turns left, so the picture content moves RIGHT;
tilt_up = content moves DOWN; zoom_in = content moves outwards from the centre. The test measures
it with OpenCV's Farneback optical flow on the encoded, decoded video.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from generators.baselines import CameraBaseline, NoiseBaseline, StaticBaseline
from stepeval.benchmark.camera import VBENCH_PHRASES, camera_motion, camera_motions, vbench_phrase
from stepeval.generation import GenerationRequest
from stepeval.video import read_video, write_video
from tests.generation.helpers import textured_image

PARSER_CASES = {
    # Chinese, as the benchmark writes it
    "男人骑着奇怪的机械独轮车向左移动，镜头匀速左移。": "pan_left",
    "镜头向左移动，城市夜景": "pan_left",
    "镜头左摇，看到远处的山": "pan_left",
    "镜头缓慢右移，一个黑色的包包出现在画面中央": "pan_right",
    "蜗牛缓慢向前爬去，镜头右摇。": "pan_right",
    "霓虹闪烁的城市上空，巨大粉月发光，镜头缓缓上移。": "tilt_up",
    "夕阳渐沉，城市灯火闪烁，镜头缓缓从下往上移动。": "tilt_up",
    "少女站起身，整理了一下衣服，镜头上摇。": "tilt_up",
    "繁忙的城市道路上，行人脚步匆匆，镜头下移，更多展现道路的状况。": "tilt_down",
    "镜头快速推近，近距离俯瞰群山中央未来都市的全貌。": "zoom_in",
    "云雾缭绕间楼阁若隐若现，镜头缓缓拉近，飞鸟在天空掠过。": "zoom_in",
    "镜头推进，林中的小屋逐渐清晰": "zoom_in",
    "画面放大，露出细节": "zoom_in",
    "太阳缓缓下落，城市灯火闪烁，镜头逐渐拉远。": "zoom_out",
    "画面缩小，展现全景": "zoom_out",
    "大象边扇动耳朵边向前行走，固定镜头。": "static",
    "少女激情地弹奏贝斯，镜头先拉远到全景后推近到少女的瞳孔。": "zoom_out",  # the first of two moves
    # English
    "The camera pans left across the valley": "pan_left",
    "camera pans to the right slowly": "pan_right",
    "The camera tilts up to the sky": "tilt_up",
    "tilt down to the river": "tilt_down",
    "slow zoom in on the face": "zoom_in",
    "the camera zooms out to reveal the city": "zoom_out",
    "dolly in towards the door": "zoom_in",
    "static shot of a lake, camera static": "static",
    # the camera is mentioned, but does not move (or moves in a way VBench has no name for)
    "女孩双手捧脸，看着镜头傻笑歪头。": None,
    "小鸟扇动翅膀飞过一片森林，镜头跟随小鸟。": None,
    "两名男子在互相拳击，镜头环绕两人拍摄。": None,
    "男子眉头紧皱，表情愤怒，镜头抖动。": None,
    "牛仔骑在公牛背上，男人在牛背上左摇右晃。": None,
    "女孩在镜头前向左转身": None,
    "a cat sleeping on a sofa": None,
    "": None,
}


@pytest.mark.parametrize("prompt,expected", list(PARSER_CASES.items()))
def test_camera_instruction_parser(prompt, expected):
    assert camera_motion(prompt) == expected
    assert vbench_phrase(prompt) == (VBENCH_PHRASES[expected] if expected else None)


def test_all_moves_in_order():
    assert camera_motions("镜头先拉远到全景后推近到少女的瞳孔") == ["zoom_out", "zoom_in"]


def _mean_flow(video: np.ndarray) -> tuple[float, float, float]:
    """Mean horizontal and vertical flow (pixels/frame) and mean radial flow (positive = outwards)."""
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in video]
    h, w = gray[0].shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rx, ry = xx - (w - 1) / 2, yy - (h - 1) / 2
    norm = np.sqrt(rx**2 + ry**2) + 1e-6
    # Ignore a border where flow is unreliable (content entering the frame).
    m = 8
    fx, fy, fr = [], [], []
    for a, b in zip(gray, gray[1:]):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)[m:-m, m:-m]
        fx.append(flow[..., 0].mean())
        fy.append(flow[..., 1].mean())
        fr.append(((flow[..., 0] * rx[m:-m, m:-m] + flow[..., 1] * ry[m:-m, m:-m]) / norm[m:-m, m:-m]).mean())
    return float(np.mean(fx)), float(np.mean(fy)), float(np.mean(fr))


@pytest.fixture(scope="module")
def test_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("camera") / "image.png"
    Image.fromarray(textured_image(320, 200, seed=7)).save(path)
    return path


def _camera_video(prompt, image, tmp_path) -> np.ndarray:
    gen = CameraBaseline(height=96, width=160, num_frames=12, fps=12)
    result = gen.generate(GenerationRequest("x", prompt, image, seed=0))
    path = write_video(tmp_path / "v.mp4", result.frames, result.fps)
    return read_video(path)


@pytest.mark.parametrize(
    "prompt,motion",
    [
        ("镜头向左移动", "pan_left"),
        ("the camera pans right", "pan_right"),
        ("镜头上移", "tilt_up"),
        ("camera tilts down", "tilt_down"),
        ("镜头推进", "zoom_in"),
        ("镜头拉远", "zoom_out"),
        ("固定镜头", "static"),
    ],
)
def test_camera_baseline_moves_the_way_the_prompt_says(prompt, motion, test_image, tmp_path):
    fx, fy, fr = _mean_flow(_camera_video(prompt, test_image, tmp_path))
    big = 0.5  # pixels per frame; the moves are several pixels per frame at this size
    expected = {
        "pan_left": lambda: fx > big and abs(fy) < big / 2,  # camera turns left: content moves right
        "pan_right": lambda: fx < -big and abs(fy) < big / 2,
        "tilt_up": lambda: fy > big and abs(fx) < big / 2,  # camera looks up: content moves down
        "tilt_down": lambda: fy < -big and abs(fx) < big / 2,
        "zoom_in": lambda: fr > big / 2 and abs(fx) < big / 2 and abs(fy) < big / 2,  # outwards from the centre
        "zoom_out": lambda: fr < -big / 2 and abs(fx) < big / 2 and abs(fy) < big / 2,
        "static": lambda: max(abs(fx), abs(fy), abs(fr)) < 0.05,
    }[motion]
    assert expected(), f"{motion}: mean flow x={fx:.2f} y={fy:.2f} radial={fr:.2f}"


def test_static_repeats_the_image_and_noise_dissolves_it_deterministically(test_image):
    req = GenerationRequest("x", "p", test_image, seed=3)
    static = np.stack(list(StaticBaseline(height=40, width=64, num_frames=5).generate(req).frames))
    assert static.shape == (5, 40, 64, 3) and all((f == static[0]).all() for f in static)
    noise = NoiseBaseline(height=40, width=64, num_frames=5)
    a = np.stack(list(noise.generate(req).frames))
    b = np.stack(list(noise.generate(req).frames))
    c = np.stack(list(noise.generate(GenerationRequest("x", "p", test_image, seed=4)).frames))
    assert (a == b).all() and not (a[-1] == c[-1]).all()
    assert (a[0] == static[0]).all()  # starts as the image
    err = [np.abs(f.astype(int) - static[0]).mean() for f in a]
    assert all(x < y for x, y in zip(err, err[1:]))  # and drifts away from it, frame by frame
