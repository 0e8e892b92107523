"""The synthetic world's ground-truth metric: what a video made from a world scene got right.

The world (stepeval.benchmark.synthetic) writes, beside each first frame and prompt, the scene's
ground truth in labels.json; this metric measures a generated video against it:

- `synthetic/direction_match`: 1 when the video's dominant on-screen motion (`judge_direction`) is
  the one the prompt asked for, else 0;
- `synthetic/first_frame_psnr` (dB) and `synthetic/first_frame_fidelity` (PSNR / 40 dB in [0, 1]):
  the first generated frame against the input image;
- `synthetic/consistency`: every frame against the input image at 8x8, mean PSNR / 40 dB in [0, 1]
  (the world's motions, at most ~10 px, barely change an 8x8 average, while drifting colours, a
  lost subject or noise do);
- `synthetic/temporal_smoothness`: 1 - 10 x the mean |second temporal difference| / 255;
- the subject's own fidelity (stepeval.metrics.subject), which whole-frame PSNR cannot see when
  the subject is a few percent of the pixels: `synthetic/subject_colour_kept` (1 when frame 0's
  subject is within CIEDE2000 15 of the named colour), `synthetic/subject_colour` (1 - CIEDE2000 /
  100, the continuous form the judge compares), `synthetic/subject_iou` (frame-0 subject mask vs
  the input image's; `synthetic/subject_shape_kept` when at least 0.7), `synthetic/clean_content` (1 -
  the fraction of pixels far from every subject/background mix: stray blobs and colours that were
  never there) and `synthetic/subject_colour_held` (1 when every frame, not only frame 0, still shows
  one region of the named colour at least 0.3 of the subject's size: a subject that drifts to another
  colour over the clip fails it).

`synthetic/direction_match` also requires the subject to stay in the picture and not to travel
against the asked direction: a clip whose subject vanished does not pass because its background moved.

A run that gave the world's prompts to its models alone (`task: t2v`) has no input image to compare
with, so it gets the checks a prompt can be held to (`TEXT_METRICS`): `synthetic/direction_match`
(the subject found by its named colour, present throughout and not travelling against the asked
direction), `synthetic/named_colour` (1 when frame 0 shows a region of the named colour at least
0.3 of the subject's size) and `synthetic/temporal_smoothness`.

Per video and metric one row in scores.parquet, plus the per-model means. `JUDGE_METRICS` maps the
human protocol's three dimensions to these metrics for the automatic judge (stepeval.metrics.judge).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from stepeval.benchmark import synthetic as world
from stepeval.benchmark.items import T2V, TI2V, resolve_task
from stepeval.errors import UserError
from stepeval.metrics.registry import Metric, ScoreError, ScoreReport
from stepeval.metrics.colour import srgb_to_lab
from stepeval.metrics.subject import PRESENCE_FLOOR, NamedSubject, SubjectFidelity, named_subject, subject_fidelity

NAME = "synthetic"
METRIC_DIRECTION = "synthetic/direction_match"  # 1 when the measured dominant flow is the prompt's
METRIC_PSNR = "synthetic/first_frame_psnr"  # dB, first generated frame vs the input image
METRIC_FIDELITY = "synthetic/first_frame_fidelity"  # PSNR / 40 dB clipped to [0, 1]
METRIC_SMOOTHNESS = "synthetic/temporal_smoothness"  # 1 - 10 x mean |second temporal difference| / 255
METRIC_CONSISTENCY = "synthetic/consistency"  # every frame vs the input image at 8x8: mean PSNR / 40 dB
METRIC_COLOUR_KEPT = "synthetic/subject_colour_kept"  # 1 when frame 0's subject is within CIEDE2000 15 of its colour
METRIC_COLOUR = "synthetic/subject_colour"  # 1 - CIEDE2000 / 100 (clipped): the continuous form
METRIC_IOU = "synthetic/subject_iou"  # frame-0 subject mask vs the input image's
METRIC_SHAPE_KEPT = "synthetic/subject_shape_kept"  # 1 when that IoU is at least 0.7
METRIC_CLEAN = "synthetic/clean_content"  # 1 - fraction of pixels far from every subject/background mix
METRIC_COLOUR_HELD = "synthetic/subject_colour_held"  # 1 when every frame still shows the named colour as the subject
METRIC_NAMED_COLOUR = "synthetic/named_colour"  # text-only runs: 1 when frame 0 shows the named colour
SUBJECT_METRICS = (METRIC_COLOUR_KEPT, METRIC_COLOUR, METRIC_IOU, METRIC_SHAPE_KEPT, METRIC_CLEAN, METRIC_COLOUR_HELD)
IMAGE_METRICS = (METRIC_DIRECTION, METRIC_PSNR, METRIC_FIDELITY, METRIC_CONSISTENCY, METRIC_SMOOTHNESS, *SUBJECT_METRICS)
TEXT_METRICS = (METRIC_DIRECTION, METRIC_NAMED_COLOUR, METRIC_SMOOTHNESS)
SYNTHETIC_METRICS = (*IMAGE_METRICS, METRIC_NAMED_COLOUR)
# The human protocol's three dimensions, decided by the world's ground truth (values in [0, 1]).
# Subject & background consistency is what a person sees first: the subject's colour and shape,
# nothing added, and the frames staying with the picture.
JUDGE_METRICS: dict[str, tuple[str, ...]] = {
    "instruction_adherence": (METRIC_DIRECTION,),
    "consistency": (METRIC_CONSISTENCY, METRIC_COLOUR, METRIC_IOU, METRIC_CLEAN, METRIC_COLOUR_HELD),
    "physical_laws": (METRIC_SMOOTHNESS,),
}
# A text-only run's videos are judged on the T2V protocol's dimensions the world can decide without
# an image: what the prompt asks (its direction with the subject present, its colour) and smooth
# motion. Physical plausibility and aesthetic appeal have no ground truth here and are left unjudged.
TEXT_JUDGE_METRICS: dict[str, tuple[str, ...]] = {
    "instruction_following": (METRIC_DIRECTION, METRIC_NAMED_COLOUR),
    "motion_smoothness": (METRIC_SMOOTHNESS,),
}
JUDGE_MARGIN = 0.01
JUDGE_STUDY_ID = "auto-synthetic"


def judge_item_info(item_id: str) -> tuple[str, str]:
    """(domain, aspect) of a world item for the judgments frame: the world's scenes are neither
    Real nor Anime, and a report groups them as one domain."""
    return "synthetic", "S"


# ------------------------------------------------------------------------------------------------
# The dominant on-screen motion of a clip
# ------------------------------------------------------------------------------------------------

@dataclass
class DirectionJudgment:
    label: str  # one of world.FLOW_LABELS, or "none" when nothing moves
    translation: tuple[float, float]  # mean flow (dx, dy) over moving pixels, px per frame
    radial: float  # mean outward flow component over moving pixels, px per frame
    moving_fraction: float

    def to_dict(self) -> dict:
        return asdict(self)


def judge_direction(frames: np.ndarray, *, step: int = 4, min_flow: float = 0.02, relative: float = 0.25) -> DirectionJudgment:
    """Dominant on-screen motion of a clip (T, H, W, 3 uint8).

    Farneback flow between frames `step` apart (slow motions of a few tenths of a pixel per frame
    add up to a measurable shift), averaged over the pixels that move: magnitude above `min_flow`
    px and above `relative` x the clip's 99th-percentile magnitude (so a small moving subject is
    not drowned by a still background, and codec noise is ignored). The larger of the mean
    translation and the mean radial (outward) component decides: translation gives its dominant
    axis and sign; radial gives `in` (content expands: the camera pushes in) or `out`.
    Flow values are reported in px per frame."""
    import cv2

    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"need a clip of at least 2 frames (T, H, W, 3), got shape {frames.shape}")
    step = max(1, min(step, frames.shape[0] - 1))
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames[::step]]
    h, w = gray[0].shape
    py, px = np.mgrid[0:h, 0:w].astype(np.float32)
    ry, rx = py - (h - 1) / 2, px - (w - 1) / 2
    norm = np.sqrt(rx**2 + ry**2) + 1e-6
    flows = [cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0) / step for a, b in zip(gray[:-1], gray[1:])]
    flow = np.stack(flows)  # [P, H, W, 2]
    mag = np.linalg.norm(flow, axis=-1)
    threshold = max(min_flow, relative * float(np.percentile(mag, 99)))
    moving = mag > threshold
    if not moving.any():
        return DirectionJudgment("none", (0.0, 0.0), 0.0, 0.0)
    dx = float(flow[..., 0][moving].mean())
    dy = float(flow[..., 1][moving].mean())
    rad = float(((flow[..., 0] * rx + flow[..., 1] * ry) / norm)[moving].mean())
    if abs(rad) > math.hypot(dx, dy):
        label = "in" if rad > 0 else "out"
    elif abs(dx) >= abs(dy):
        label = "right" if dx > 0 else "left"
    else:
        label = "down" if dy > 0 else "up"
    return DirectionJudgment(label, (dx, dy), rad, float(moving.mean()))


# ------------------------------------------------------------------------------------------------
# Per-video metrics, and scoring a run
# ------------------------------------------------------------------------------------------------

def clip_metrics(frames: np.ndarray, image: np.ndarray, label: dict) -> tuple[dict[str, float], dict]:
    """The world's per-video metrics for a clip (T, H, W, 3 uint8) made from `image` (H, W, 3).
    The subject checks need the scene (labels.json of world version 3 or later); without it they
    are left out and the direction check is the flow judge's alone."""
    import cv2

    judged = judge_direction(frames)
    psnr = _psnr(frames[0], image)
    coarse = cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA)
    consistency = float(np.mean([min(1.0, _psnr(cv2.resize(np.ascontiguousarray(f), (8, 8), interpolation=cv2.INTER_AREA), coarse) / 40.0)
                                 for f in frames]))
    f = frames.astype(np.float32)
    second = float(np.abs(f[2:] - 2 * f[1:-1] + f[:-2]).mean()) if len(f) > 2 else 0.0
    direction_ok = judged.label == label["expected_flow"]
    values = {METRIC_PSNR: psnr, METRIC_FIDELITY: float(np.clip(psnr / 40.0, 0.0, 1.0)), METRIC_CONSISTENCY: consistency,
              METRIC_SMOOTHNESS: float(np.clip(1.0 - 10.0 * second / 255.0, 0.0, 1.0))}
    details = {"expected_flow": label["expected_flow"], "judged": judged.to_dict()}
    if "scene" in label:
        scene = world.scene_from_dict(label["scene"])
        small = _world_size(frames)
        labs = srgb_to_lab(small)  # shared by both checks
        fidelity = scene_subject_fidelity(small, scene, labs=labs)
        held = scene_named_subject(small, scene, labs=labs)
        direction_ok = direction_ok and fidelity.follows(label["expected_flow"])
        values.update({METRIC_COLOUR_KEPT: float(fidelity.colour_kept),
                       METRIC_COLOUR: float(np.clip(1.0 - fidelity.colour_delta_e / 100.0, 0.0, 1.0)),
                       METRIC_IOU: fidelity.iou, METRIC_SHAPE_KEPT: float(fidelity.shape_kept),
                       METRIC_CLEAN: 1.0 - fidelity.stray_fraction,
                       METRIC_COLOUR_HELD: float(held.presence >= PRESENCE_FLOOR)})
        details["subject"] = fidelity.to_dict()
        details["named_subject"] = held.to_dict()
    values[METRIC_DIRECTION] = float(direction_ok)
    return values, details


def text_clip_metrics(frames: np.ndarray, label: dict) -> tuple[dict[str, float], dict]:
    """The world's checks of a clip made from the prompt alone (no input image): the direction the
    prompt asks with its named-colour subject present and not going the wrong way, the named colour
    in frame 0, temporal smoothness."""
    judged = judge_direction(frames)
    subject = scene_named_subject(frames, world.scene_from_dict(label["scene"]))
    f = frames.astype(np.float32)
    second = float(np.abs(f[2:] - 2 * f[1:-1] + f[:-2]).mean()) if len(f) > 2 else 0.0
    values = {METRIC_DIRECTION: float(judged.label == label["expected_flow"] and subject.follows(label["expected_flow"])),
              METRIC_NAMED_COLOUR: float(subject.colour_present),
              METRIC_SMOOTHNESS: float(np.clip(1.0 - 10.0 * second / 255.0, 0.0, 1.0))}
    return values, {"expected_flow": label["expected_flow"], "judged": judged.to_dict(), "named_subject": subject.to_dict()}


def scene_subject_fidelity(frames: np.ndarray, scene: world.Scene, *, labs: np.ndarray | None = None) -> SubjectFidelity:
    """The subject checks of a clip made from `scene`'s first frame, at the world's size (`labs`:
    those frames in CIELAB, when the caller has them)."""
    return subject_fidelity(_world_size(frames), world.render_background(scene, 0), world.subject_alpha(scene, 0),
                            world.COLOURS[scene.colour][0], max_speed=world.SPEED_RANGE[1], labs=labs)


def scene_named_subject(frames: np.ndarray, scene: world.Scene, *, labs: np.ndarray | None = None) -> NamedSubject:
    """The subject found by `scene`'s named colour alone in every frame, at the world's size
    (`labs`: those frames in CIELAB, when the caller has them)."""
    area = float((world.subject_alpha(scene, 0) >= 0.5).sum())
    return named_subject(_world_size(frames), world.COLOURS[scene.colour][0], area, labs=labs)


def _world_size(frames: np.ndarray) -> np.ndarray:
    if frames.shape[1:3] == (world.SIZE, world.SIZE):
        return frames
    import cv2

    return np.stack([cv2.resize(np.ascontiguousarray(f), (world.SIZE, world.SIZE), interpolation=cv2.INTER_AREA)
                     for f in frames])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def text_only(run) -> bool:
    """Whether the run gave the world's prompts to its models alone (`task: t2v`); the world's
    items have images, so `auto` means they were given."""
    return resolve_task(run.config.task, TI2V) == T2V


def _benchmark_dir(run) -> Path | None:
    """The run's benchmark folder (run.yaml's `config.benchmark.path`, wherever the current directory is)."""
    return run.benchmark_path


def score_run_synthetic(run, bench_dir: str | Path, *, model_tags=None, item_ids=None, rescore: bool = False,
                        progress=None) -> ScoreReport:
    """Score every ok video of `run` whose item has ground truth in `bench_dir`/labels.json; one row
    per video and metric, plus per-model means. Resumable: videos already scored (same file) are
    skipped. A broken video becomes failed rows and the batch carries on."""
    from stepeval.images import prepare_image
    from stepeval.metrics.common import RowBuffer, done_keys, model_mean_rows, run_videos, score_row, video_signature
    from stepeval.video import read_video

    labels = world.load_labels(bench_dir)
    if labels is None:
        raise UserError("no synthetic ground truth (labels.json) beside the benchmark", path=bench_dir,
                        hint="the `synthetic` metric only applies to a synthetic-world benchmark")
    prompts_alone = text_only(run)
    settings_key = f"world-v{world.WORLD_VERSION}" + ("-text" if prompts_alone else "")
    metrics = TEXT_METRICS if prompts_alone else IMAGE_METRICS
    done = {} if rescore else done_keys(run, METRIC_DIRECTION, settings_key)
    videos = [v for v in run_videos(run, model_tags=model_tags, item_ids=item_ids) if v.item_id in labels]
    report = ScoreReport(NAME)
    if progress:
        progress(0, len(videos))
    with RowBuffer(run) as buf:
        for n, v in enumerate(videos, 1):
            sig = video_signature(v.path)
            if done.get(v.key) == sig:
                report.skipped += 1
            else:
                try:
                    frames = read_video(v.path)
                    if prompts_alone:
                        values, details = text_clip_metrics(frames, labels[v.item_id])
                    else:
                        image = prepare_image(Path(bench_dir) / f"{v.item_id}.png", frames.shape[1], frames.shape[2])
                        values, details = clip_metrics(frames, np.asarray(image), labels[v.item_id])
                except Exception as exc:  # noqa: BLE001 - one broken video must not stop the batch
                    error = f"{type(exc).__name__}: {exc}"
                    for m in metrics:
                        buf.add(score_row(v, m, None, status="failed", error=error, details={"settings_key": settings_key}))
                    report.failed += 1
                    report.errors.append(ScoreError(v.model_tag, v.item_id, v.sample, NAME, error))
                else:
                    details = {**details, "settings_key": settings_key, "video_signature": sig}
                    for m, value in values.items():
                        buf.add(score_row(v, m, value, details=details))
                    report.scored += 1
            if progress:
                progress(n, len(videos))
        tags = sorted({v.model_tag for v in videos})
        if tags:
            buf.flush()
            for m in metrics:
                buf.add(model_mean_rows(run, m, details={"settings_key": settings_key}, model_tags=tags))
    return report


class SyntheticMetric(Metric):
    """The registry's face of `score_run_synthetic` (entry point `synthetic`)."""

    name = NAME
    description = ("The synthetic world's ground truth: dominant motion direction vs the prompt's (the subject still "
                   "there and moving that way), first-frame PSNR and fidelity, the subject's colour (CIEDE2000) and shape "
                   "(IoU) in frame 0, content that was never in the picture, consistency with the input image, "
                   "temporal smoothness.")
    columns = SYNTHETIC_METRICS
    higher_is_better = True
    device = "cpu"
    benchmark = "a synthetic-world benchmark (its labels.json)"
    settings = {"benchmark": "the synthetic benchmark folder (default: the run's)"}

    def score(self, run, *, settings=None, model_tags=None, item_ids=None, rescore=False, log=None, progress=None) -> ScoreReport:
        bench = (settings or {}).get("benchmark") or _benchmark_dir(run)
        if bench is None:
            raise UserError("the run names no benchmark, so there is no ground truth to score against", path=run.root,
                            hint="pass the synthetic benchmark folder: --set synthetic.benchmark=PATH")
        return score_run_synthetic(run, bench, model_tags=model_tags, item_ids=item_ids, rescore=rescore, progress=progress)
