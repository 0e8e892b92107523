"""A seeded synthetic TI2V world: first frames, bilingual prompts, ground-truth videos, labels.

One scene = one flat-colour shape (circle, square, diamond) with soft edges on a smooth background
(a two-colour ramp plus a few broad Gaussian blobs, so camera moves have texture to track), and one
source of motion: either the subject moves (left/right/up/down, camera fixed) or the camera moves
(pan left/right/up/down, push in, pull out) past a still subject. Everything is analytic, so any
frame of any camera pose renders exactly, and every choice comes from one integer seed.

Why smooth and flat: the tiny Step-Video VAE (8x spatial compression) must reconstruct a first frame
above 25 dB after minutes of CPU training; high-frequency texture would make that impossible while
adding nothing to what the benchmark checks (image fidelity, motion amount, motion direction).

The smoke benchmark is a fixed set of scenes from a seed range training never draws from, written
as `NAME.png + NAME.txt` (Chinese prompt, like Step-Video-TI2V-Eval) so the folder loader reads it,
plus `labels.json`: per item the expected dominant flow direction, the camera move, the English
prompt. What a generated video got right is measured by the `synthetic` metric
(stepeval.metrics.synthetic), which reads these labels.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np

from stepeval.errors import UserError

WORLD_VERSION = 3  # 3: labels.json carries each scene, for the subject-fidelity checks
SIZE = 64  # pixels, square; the tiny preset's 8x VAE compression -> 8 x 8 latent tokens per latent frame
FRAMES = 17  # one VAE chunk: 17 frames -> 3 latent frames
FPS = 8.0
EDGE = 1.6  # soft-edge width of shapes, screen pixels
LABELS_FILE = "labels.json"

# Seeds: training scenes are drawn from [0, SMOKE_SEED_BASE); the smoke set lives above it.
SMOKE_SEED_BASE = 1_000_000_000
SMOKE_SEED = 20250320

COLOURS = {  # name: (rgb in [0, 1], zh)
    "red": ((0.85, 0.15, 0.15), "红色"),
    "green": ((0.15, 0.75, 0.25), "绿色"),
    "blue": ((0.15, 0.30, 0.90), "蓝色"),
    "yellow": ((0.95, 0.85, 0.15), "黄色"),
    "white": ((0.95, 0.95, 0.95), "白色"),
    "purple": ((0.60, 0.20, 0.75), "紫色"),
}
SHAPES = {"circle": "圆形", "square": "方块", "diamond": "菱形"}
DIRECTIONS = ("left", "right", "up", "down")
DIRECTION_VECTORS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
DIRECTION_ZH = {"left": "左", "right": "右", "up": "上", "down": "下"}
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
CAMERAS = ("static", "pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out")
# Model-card phrasing (镜头左移 = the camera moves left, 镜头推进 = push in, 镜头拉远 = pull out);
# a speed word goes between 镜头 and the verb, as in the report's "镜头缓缓拉近".
# How often each camera move is drawn (pans, then push-in / pull-out) when a scene does not pin it.
CAMERA_WEIGHTS = (0.2, 0.2, 0.2, 0.2, 0.1, 0.1)
CAMERA_ZH = {"pan_left": "左移", "pan_right": "右移", "pan_up": "上移", "pan_down": "下移",
             "zoom_in": "推进", "zoom_out": "拉远"}
CAMERA_EN = {"pan_left": "pans left", "pan_right": "pans right", "pan_up": "pans up",
             "pan_down": "pans down", "zoom_in": "pushes in", "zoom_out": "pulls out"}
SPEED_WORDS = {"slow": ("缓缓", "slowly"), "steady": ("匀速", "steadily"), "fast": ("快速", "quickly")}
# Pixels per frame (subject or pan; zoom: at the frame border). The motion score samples frames 12
# apart and runs Farneback at this world's own 64 px (it never upscales), reporting px at short side
# 256 (x4): a score of s is s / 48 px per frame here. The range covers the report's settings 2, 5, 10
# and 20 (0.04 to 0.4 px/frame) with room on both sides, and stays below ~0.9 px/frame, where the
# 12-frame displacement outgrows Farneback's reach at 64 px and the score stops rising.
SPEED_RANGE = (0.03, 0.6)
# Speed words split the range in log-thirds.
SPEED_CLASS_LIMITS = (0.08, 0.22)
# Flow each camera move produces on screen (the camera moving left makes the picture move right).
CAMERA_FLOW = {"pan_left": "right", "pan_right": "left", "pan_up": "down", "pan_down": "up",
               "zoom_in": "in", "zoom_out": "out"}
FLOW_LABELS = ("left", "right", "up", "down", "in", "out")


@dataclass
class Scene:
    """Everything needed to render one clip; `seed` regenerates it exactly."""

    seed: int
    shape: str
    colour: str
    radius: float
    start: tuple[float, float]  # subject centre at frame 0, world coordinates (= screen at frame 0)
    background: dict
    motion: str  # "subject" or "camera"
    subject_direction: str | None
    camera: str
    speed: float  # pixels per frame
    speed_class: str  # slow / steady / fast (from speed)
    speed_word: str | None  # the class named in the prompt (None: no speed word)
    prompt_zh: str = ""
    prompt_en: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def expected_flow(self) -> str:
        """Dominant on-screen motion: the subject's direction, or the flow a camera move causes."""
        return self.subject_direction if self.motion == "subject" else CAMERA_FLOW[self.camera]

    def labels(self) -> dict:
        return {
            "seed": self.seed, "motion": self.motion, "subject_direction": self.subject_direction,
            "camera": self.camera, "expected_flow": self.expected_flow, "speed_px_per_frame": round(self.speed, 4),
            "speed_class": self.speed_class, "speed_word": self.speed_word, "shape": self.shape,
            "colour": self.colour, "prompt_en": self.prompt_en, "prompt_zh": self.prompt_zh,
            "scene": self.to_dict(),
        }

    def to_dict(self) -> dict:
        """Every field, JSON-ready: `scene_from_dict` renders exactly the same clip from it."""
        d = asdict(self)
        d["start"] = list(self.start)
        return d


def scene_from_dict(d: dict) -> Scene:
    """The Scene a labels.json `scene` entry describes."""
    fields = {f.name for f in dataclass_fields(Scene)}
    unknown = sorted(set(d) - fields)
    if unknown:
        raise ValueError(f"unknown scene field(s) {', '.join(unknown)}")
    return Scene(**{**d, "start": tuple(d["start"])})


def speed_class(speed: float) -> str:
    slow, steady = SPEED_CLASS_LIMITS
    return "slow" if speed < slow else ("steady" if speed < steady else "fast")


def _prompts(shape: str, colour: str, motion: str, direction: str | None, camera: str, word: str | None) -> tuple[str, str]:
    zh_word, en_word = SPEED_WORDS[word] if word else ("", "")
    zh_subject = f"{COLOURS[colour][1]}的{SHAPES[shape]}"
    en_subject = f"A {colour} {shape}"
    if motion == "subject":
        zh = f"{zh_subject}{zh_word}向{DIRECTION_ZH[direction]}移动，固定镜头。"
        en = f"{en_subject} moves {en_word + ' ' if en_word else ''}{direction}, static camera."
    else:
        zh = f"{zh_subject}静止不动，镜头{zh_word}{CAMERA_ZH[camera]}。"
        en = f"{en_subject} stays still, the camera {en_word + ' ' if en_word else ''}{CAMERA_EN[camera]}."
    return zh, en


def sample_scene(seed: int, *, motion: str | None = None, direction: str | None = None, camera: str | None = None,
                 speed: float | None = None, speed_word_noise: float = 0.0,
                 camera_weights: tuple[float, ...] = CAMERA_WEIGHTS) -> Scene:
    """Draw a scene from `seed`. Keyword arguments pin a choice (used to balance the smoke set).

    speed_word_noise: the probability that the prompt's speed word is dropped (half of it) or
    replaced by a wrong one (the other half). Training uses it so the model learns to take the
    amount of motion from the motion score (the control the benchmark sweeps), not from the word.
    camera_weights: the probabilities of the moving cameras, in CAMERAS order without "static".
    """
    rng = np.random.default_rng(seed)
    shape = str(rng.choice(list(SHAPES)))
    colour = str(rng.choice(list(COLOURS)))
    radius = float(rng.uniform(6.0, 9.0))
    if motion is None:
        motion = "subject" if rng.random() < 0.5 else "camera"
    if motion == "subject":
        direction = direction or str(rng.choice(DIRECTIONS))
        camera = "static"
    elif motion == "camera":
        direction = None
        camera = camera or str(rng.choice([c for c in CAMERAS if c != "static"], p=list(camera_weights)))
    else:
        raise ValueError(f"motion must be 'subject' or 'camera', got {motion!r}")
    speed = float(speed if speed is not None else math.exp(rng.uniform(math.log(SPEED_RANGE[0]), math.log(SPEED_RANGE[1]))))
    # Place the subject so its whole path stays inside the frame (margin = radius + 2 px).
    margin = radius + 2.0
    travel = speed * (FRAMES - 1) if motion == "subject" else 0.0
    pos = []
    for axis in (0, 1):
        lo, hi = margin, SIZE - margin
        d = DIRECTION_VECTORS[direction][axis] if direction else 0.0
        if d > 0:
            hi -= travel
        elif d < 0:
            lo += travel
        if camera.startswith("zoom"):  # keep the subject near the centre so a push-in keeps it in view
            lo, hi = max(lo, SIZE / 2 - 10), min(hi, SIZE / 2 + 10)
        pos.append(float(rng.uniform(lo, max(lo, hi))))
    # The motion score and the judge see grayscale: keep the subject's luminance at least 0.3 away
    # from the background's, and make the blobs (the texture camera moves are measured on) push the
    # background further away from the subject, never towards it.
    subject_lum = _luminance(COLOURS[colour][0])
    levels = [v for v in np.linspace(0.12, 0.88, 39) if abs(v - subject_lum) >= 0.3]
    base = float(rng.choice(levels))
    away = 1.0 if base > subject_lum else -1.0
    background = {
        "colour_a": _near(rng, base), "colour_b": _near(rng, base), "angle": float(rng.uniform(0, 2 * math.pi)),
        "blobs": [_blob(rng, away) for _ in range(int(rng.integers(5, 8)))],
    }
    true_class = speed_class(speed)
    word: str | None = true_class
    u = rng.random()
    if u < speed_word_noise / 2:
        word = None
    elif u < speed_word_noise:
        word = str(rng.choice([w for w in SPEED_WORDS if w != true_class]))
    zh, en = _prompts(shape, colour, motion, direction, camera, word)
    return Scene(seed=seed, shape=shape, colour=colour, radius=radius, start=(pos[0], pos[1]), background=background,
                 motion=motion, subject_direction=direction, camera=camera, speed=speed, speed_class=true_class,
                 speed_word=word, prompt_zh=zh, prompt_en=en)


def _blob(rng: np.random.Generator, away: float) -> dict:
    amplitude = float(rng.uniform(0.1, 0.22))
    return {"x": float(rng.uniform(-16, SIZE + 16)), "y": float(rng.uniform(-16, SIZE + 16)),
            "sigma": float(rng.uniform(7, 12)),
            "delta": [float(away * amplitude + j) for j in rng.uniform(-0.04, 0.04, size=3)]}


def _luminance(rgb) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def _near(rng: np.random.Generator, level: float) -> list[float]:
    return [float(np.clip(level + v, 0.0, 1.0)) for v in rng.uniform(-0.08, 0.08, size=3)]


def _camera(scene: Scene, t: float) -> tuple[float, float, float]:
    """Camera centre (world) and zoom at frame t."""
    cx = cy = SIZE / 2
    zoom = 1.0
    if scene.camera.startswith("pan"):
        dx, dy = DIRECTION_VECTORS[scene.camera[4:]]
        cx, cy = cx + dx * scene.speed * t, cy + dy * scene.speed * t
    elif scene.camera.startswith("zoom"):
        # Border pixels (32 px from the centre) move about `speed` px per frame.
        rate = scene.speed / (SIZE / 2)
        zoom = math.exp(rate * t) if scene.camera == "zoom_in" else math.exp(-rate * t)
    return cx, cy, zoom


def _world_grid(scene: Scene, t: float) -> tuple[np.ndarray, np.ndarray, float]:
    """World coordinates of every pixel centre at frame t, and the camera zoom."""
    cx, cy, zoom = _camera(scene, t)
    py, px = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    return cx + (px - SIZE / 2) / zoom, cy + (py - SIZE / 2) / zoom, zoom


def render_background(scene: Scene, t: float = 0.0) -> np.ndarray:
    """Frame t without the subject: float32 RGB in [0, 1], shape (SIZE, SIZE, 3)."""
    wx, wy, _ = _world_grid(scene, t)
    return np.clip(_background(scene, wx, wy), 0.0, 1.0).astype(np.float32)


def subject_alpha(scene: Scene, t: float = 0.0) -> np.ndarray:
    """The subject's coverage of every pixel at frame t, in [0, 1] (soft edge), shape (SIZE, SIZE):
    the ground-truth subject mask the subject-fidelity checks compare with."""
    wx, wy, zoom = _world_grid(scene, t)
    return _subject_alpha(scene, wx, wy, zoom, t)


def _background(scene: Scene, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    bg = scene.background
    a, b = np.array(bg["colour_a"], np.float32), np.array(bg["colour_b"], np.float32)
    proj = (wx - SIZE / 2) * math.cos(bg["angle"]) + (wy - SIZE / 2) * math.sin(bg["angle"])
    g = (0.5 + 0.5 * np.tanh(proj / 40.0))[..., None]
    img = a * (1 - g) + b * g
    for blob in bg["blobs"]:
        w = np.exp(-((wx - blob["x"]) ** 2 + (wy - blob["y"]) ** 2) / (2 * blob["sigma"] ** 2))[..., None]
        img = img + w * np.array(blob["delta"], np.float32)
    return img


def _subject_alpha(scene: Scene, wx: np.ndarray, wy: np.ndarray, zoom: float, t: float) -> np.ndarray:
    sx, sy = scene.start
    if scene.motion == "subject":
        dx, dy = DIRECTION_VECTORS[scene.subject_direction]
        sx, sy = sx + dx * scene.speed * t, sy + dy * scene.speed * t
    ux, uy = wx - sx, wy - sy
    r = scene.radius
    if scene.shape == "circle":
        dist = np.sqrt(ux**2 + uy**2) - r
    elif scene.shape == "square":
        dist = np.maximum(np.abs(ux), np.abs(uy)) - 0.85 * r
    else:
        dist = (np.abs(ux) + np.abs(uy)) - 1.2 * r
    # Soft edge of constant screen width: world distance times zoom is screen distance.
    alpha = np.clip(0.5 - dist * zoom / EDGE, 0.0, 1.0)
    return alpha * alpha * (3 - 2 * alpha)


def render_frame(scene: Scene, t: float) -> np.ndarray:
    """Frame t (float allowed) as float32 RGB in [0, 1], shape (SIZE, SIZE, 3)."""
    wx, wy, zoom = _world_grid(scene, t)
    img = _background(scene, wx, wy)
    alpha = _subject_alpha(scene, wx, wy, zoom, t)[..., None]
    img = img * (1 - alpha) + np.array(COLOURS[scene.colour][0], np.float32) * alpha
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def render(scene: Scene, frames: int = FRAMES) -> np.ndarray:
    """The ground-truth clip as uint8 (frames, SIZE, SIZE, 3)."""
    return np.stack([to_uint8(render_frame(scene, t)) for t in range(frames)])


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def training_scene(index: int, *, speed_word_noise: float = 0.3, camera_weights: tuple[float, ...] = CAMERA_WEIGHTS) -> Scene:
    """Training scene number `index` (seeds below SMOKE_SEED_BASE: disjoint from the smoke set)."""
    if not 0 <= index < SMOKE_SEED_BASE:
        raise ValueError(f"training index must be in [0, {SMOKE_SEED_BASE})")
    return sample_scene(index, speed_word_noise=speed_word_noise, camera_weights=camera_weights)


# ------------------------------------------------------------------------------------------------
# The smoke benchmark
# ------------------------------------------------------------------------------------------------

def smoke_scenes(n: int = 16, seed: int = SMOKE_SEED, prefix: str = "s") -> list[tuple[str, Scene]]:
    """A balanced held-out set: half subject motion (each direction), the rest camera pans (each
    direction) and push-in / pull-out, speeds spread over the whole range."""
    rng = np.random.default_rng(seed)
    plan: list[dict] = []
    n_subject = n // 2
    n_zoom = max(0, n // 8) * 2 if n >= 8 else 0
    n_pan = n - n_subject - n_zoom
    plan += [{"motion": "subject", "direction": DIRECTIONS[i % 4]} for i in range(n_subject)]
    plan += [{"motion": "camera", "camera": ("pan_left", "pan_right", "pan_up", "pan_down")[i % 4]} for i in range(n_pan)]
    plan += [{"motion": "camera", "camera": ("zoom_in", "zoom_out")[i % 2]} for i in range(n_zoom)]
    speeds = np.exp(np.linspace(math.log(SPEED_RANGE[0] * 1.3), math.log(SPEED_RANGE[1] * 0.9), n))
    rng.shuffle(speeds)
    out = []
    for i, kw in enumerate(plan):
        scene_seed = SMOKE_SEED_BASE + seed % 1_000_000 * 1000 + i
        out.append((f"{prefix}{i:03d}", sample_scene(scene_seed, speed=float(speeds[i]), **kw)))
    return out


def write_smoke_benchmark(out_dir: str | Path, n: int = 16, seed: int = SMOKE_SEED, *, with_videos: bool = False,
                          also: tuple[tuple[int, int, str], ...] = ()) -> Path:
    """Materialise the smoke benchmark: NAME.png (first frame), NAME.txt (Chinese prompt, no trailing
    newline, like Step-Video-TI2V-Eval), labels.json (ground truth for the `synthetic` metric);
    with_videos also writes the ground-truth clips under `.truth/` (ignored by the folder loader).
    `also` adds further sets (n, seed, name prefix) to the same folder, e.g. a larger held-out set
    beside the smoke set; their prefixes must differ from "s" and from each other."""
    from PIL import Image

    from stepeval.runs import atomic_write_text
    from stepeval.video import write_video

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = [(n, seed, "s"), *also]
    prefixes = [p for _, _, p in sets]
    if len(set(prefixes)) != len(prefixes) or not all(p.isalpha() for p in prefixes):
        raise ValueError(f"synthetic sets need distinct alphabetic name prefixes, got {prefixes}")
    labels = {}
    for name, scene in (item for k, sd, p in sets for item in smoke_scenes(k, sd, p)):
        first = to_uint8(render_frame(scene, 0))
        Image.fromarray(first).save(out / f"{name}.png", optimize=True)
        atomic_write_text(out / f"{name}.txt", scene.prompt_zh)
        labels[name] = scene.labels()
        if with_videos:
            write_video(out / ".truth" / f"{name}.mp4", render(scene), FPS)
    meta = {"world": "stepeval.benchmark.synthetic", "world_version": WORLD_VERSION, "seed": seed, "n": n,
            "size": SIZE, "frames": FRAMES, "fps": FPS, "items": labels}
    if also:
        meta["sets"] = [{"n": k, "seed": sd, "prefix": p} for k, sd, p in sets]
    atomic_write_text(out / LABELS_FILE, json.dumps(meta, indent=1, ensure_ascii=False, sort_keys=True))
    return out


def load_labels(bench_dir: str | Path) -> dict[str, dict] | None:
    """Per-item ground truth of a synthetic benchmark folder, or None if the folder has none."""
    path = Path(bench_dir) / LABELS_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        return dict(meta["items"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the synthetic labels ({exc})", path=path,
                        hint="regenerate it with `python -m stepeval.benchmark.synthetic DEST`") from exc


def main(argv: list[str] | None = None) -> int:
    """`python -m stepeval.benchmark.synthetic DEST [--n N] [--seed S] [--videos]`"""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("dest")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--seed", type=int, default=SMOKE_SEED)
    parser.add_argument("--videos", action="store_true", help="also write the ground-truth clips under .truth/")
    args = parser.parse_args(argv)
    path = write_smoke_benchmark(args.dest, args.n, args.seed, with_videos=args.videos)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
