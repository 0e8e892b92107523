"""Does a video keep the picture's subject? Colour, shape, stray content and presence, per clip.

A synthetic-world clip has one subject of a named colour on a smooth background, and the world
knows both exactly: the subject's coverage of every pixel and the background without it. PSNR over
the whole frame cannot see a small subject turn purple or a square go round (the subject is a few
percent of the pixels), and a flow-direction judge passes a clip whose subject vanished as long as
something moves the right way. These checks look at the subject itself:

- colour: CIEDE2000 between the named colour and the mean CIELAB colour of frame 0 over the pixels
  the subject fully covers in the input image (the core, away from its soft edge);
- shape: IoU of frame 0's subject mask with the same mask of the input image. The mask is where the
  subject covers at least half of a pixel: the pixel's colour projected onto the line from the input
  background there to the subject colour (the world composites in sRGB, so on its own pictures this
  inverts the compositing), with the subject's colour as frame 0 shows it (shape apart from colour).
  Not "nearer the subject colour than the background": CIEDE2000's midpoint between a saturated
  subject and a light background is not the half-coverage point, so that rule grows or shrinks a
  softly edged subject by its colour (a 1 px Gaussian blur of a green diamond on a light background
  scored IoU 0.82 against itself, 0.97 with coverage);
- stray content: the fraction of pixels, over sampled frames, far (CIELAB distance) from every mix
  of the subject colour and the input background near that pixel (search radius = the farthest the
  world's content can travel by then), i.e. blobs and colours that were never in the picture;
- presence and path: the subject's area in every frame relative to the input's, and its centroid's
  travel, so a direction check can require the subject to still be there and to move the way the
  prompt asked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from stepeval.metrics.colour import ciede2000, srgb_to_lab

COLOUR_TOLERANCE = 15.0  # CIEDE2000: red vs purple is ~38, blue vs purple ~17.5
IOU_FLOOR = 0.7
STRAY_DELTA_E = 20.0  # CIELAB distance: a pixel this far from every subject/background mix was never there
# A subject with under 30 % of its area in some frame is lost. Not a half: a pull-out at the world's
# fastest speed legitimately shrinks the subject to 0.55 of its area by the last frame, and the mask's
# soft edge takes a little more (ground truth measured down to 0.47); a vanished subject is near 0.
PRESENCE_FLOOR = 0.3
# Wrong-way tolerance of the centroid's travel (px): the slowest subject moves ~0.5 px per clip, and
# a still or slightly jittering subject must not fail a direction it did not contradict.
PATH_TOLERANCE = 0.5
_CORE = 0.99
_STRAY_FRAMES = 4  # every 4th frame is sampled for stray content


@dataclass
class SubjectFidelity:
    colour_delta_e: float  # CIEDE2000 of frame 0's subject core vs the named colour
    iou: float  # frame-0 subject mask vs the input's
    stray_fraction: float  # pixels far from any subject/background mix, over sampled frames
    presence: float  # min over frames of the subject's area / the input's (capped at 1)
    travel: tuple[float, float]  # centroid of the last frame minus frame 0's (px, screen axes)

    @property
    def colour_kept(self) -> bool:
        return self.colour_delta_e <= COLOUR_TOLERANCE

    @property
    def shape_kept(self) -> bool:
        return self.iou >= IOU_FLOOR

    def follows(self, direction: str) -> bool:
        return path_follows(self.presence, self.travel, direction)

    def to_dict(self) -> dict:
        return asdict(self)


def path_follows(presence: float, travel: tuple[float, float], direction: str) -> bool:
    """The subject is present throughout and, for a translation, its centroid did not travel
    against `direction` (a flow label: left/right/up/down/in/out) beyond the tolerance."""
    if presence < PRESENCE_FLOOR:
        return False
    vectors = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
    if direction not in vectors:
        return True
    vx, vy = vectors[direction]
    along = travel[0] * vx + travel[1] * vy
    return along >= -PATH_TOLERANCE


# A text-only clip's subject must be one region: the largest region of the named colour holds at
# least this share of all pixels of that colour in the frame (random-weight output is speckled with
# every colour in many blocks, a person sees no subject there) ...
NAMED_DOMINANCE = 0.6
# ... and is not far larger than the subject (a frame washed in the colour is not a subject).
NAMED_MAX_AREA = 3.0


@dataclass
class NamedSubject:
    """A text-only clip's subject, found by its named colour alone (no input image to compare with):
    per frame, the largest connected region of pixels within COLOUR_TOLERANCE (CIEDE2000) of the
    colour the prompt names, counted only when it is one subject: it holds NAMED_DOMINANCE of that
    colour's pixels and is at most NAMED_MAX_AREA times the subject's size."""

    area: float  # frame 0's region / the subject's expected area (capped at 1; 0 when not one subject)
    presence: float  # min over frames of that ratio
    travel: tuple[float, float]  # the region's centroid in the last frame minus frame 0's (px)

    @property
    def colour_present(self) -> bool:
        """Frame 0 shows one region of the named colour at least PRESENCE_FLOOR of the subject's size."""
        return self.area >= PRESENCE_FLOOR

    def follows(self, direction: str) -> bool:
        return path_follows(self.presence, self.travel, direction)

    def to_dict(self) -> dict:
        return asdict(self)


def named_subject(frames: np.ndarray, colour_rgb, expected_area: float, *, labs: np.ndarray | None = None) -> NamedSubject:
    """frames (T, H, W, 3) uint8; colour_rgb in [0, 1]; expected_area: the subject's area in pixels
    at this size (the world knows it from the scene); labs: the frames in CIELAB when the caller has
    them already (the conversion is most of the cost)."""
    expected = max(1.0, float(expected_area))
    labs = srgb_to_lab(frames) if labs is None else labs
    masks = ciede2000(labs, srgb_to_lab(np.asarray(colour_rgb, np.float64))) <= COLOUR_TOLERANCE
    regions = [_subject_region(m, expected) for m in masks]
    ratios = np.minimum(1.0, np.array([r.sum() for r in regions]) / expected)
    first, last = regions[0], regions[-1]
    travel = (_centroid(last) - _centroid(first)) if last.any() and first.any() else np.zeros(2)
    return NamedSubject(float(ratios[0]), float(ratios.min()), (float(travel[0]), float(travel[1])))


def _subject_region(mask: np.ndarray, expected: float) -> np.ndarray:
    """The mask's largest connected region when it is one subject (see NamedSubject), else empty."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if count <= 1:
        return np.zeros_like(mask)
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = int(np.argmax(areas))
    if areas[largest] < NAMED_DOMINANCE * areas.sum() or areas[largest] > NAMED_MAX_AREA * expected:
        return np.zeros_like(mask)
    return labels == 1 + largest


def subject_fidelity(frames: np.ndarray, background: np.ndarray, alpha: np.ndarray, colour_rgb,
                     *, max_speed: float, labs: np.ndarray | None = None) -> SubjectFidelity:
    """frames: the clip (T, H, W, 3) uint8 at the input's size; background: the input image without
    its subject (H, W, 3) float in [0, 1]; alpha: the subject's coverage in the input (H, W);
    colour_rgb: the subject's colour in [0, 1]; max_speed: the farthest content moves per frame (px);
    labs: the frames in CIELAB when the caller has them already."""
    if frames.ndim != 4 or frames.shape[1:3] != alpha.shape:
        raise ValueError(f"clip {frames.shape} does not match the subject mask {alpha.shape}")
    subject_lab = srgb_to_lab(np.asarray(colour_rgb, np.float64))
    background_lab = srgb_to_lab(background)
    labs = srgb_to_lab(frames) if labs is None else labs  # (T, H, W, 3)
    core = alpha >= _CORE
    if not core.any():
        core = alpha >= alpha.max() * 0.9
    colour = float(ciede2000(labs[0][core].mean(axis=0), subject_lab))
    masks = subject_coverage(frames, background, _shown_colour(frames[0], background, core, colour_rgb)) >= 0.5
    picture = background * (1 - alpha[..., None]) + np.asarray(colour_rgb, np.float64) * alpha[..., None]
    truth = subject_coverage(np.round(np.clip(picture, 0, 1) * 255), background, colour_rgb) >= 0.5
    union = np.logical_or(masks[0], truth).sum()
    iou = float(np.logical_and(masks[0], truth).sum() / union) if union else 0.0
    area = max(1, int(truth.sum()))
    presence = float(min(1.0, masks.sum(axis=(1, 2)).min() / area))
    travel = (_centroid(masks[-1]) - _centroid(masks[0])) if masks[-1].any() and masks[0].any() else np.zeros(2)
    stray = _stray_fraction(labs, background_lab, subject_lab, max_speed)
    return SubjectFidelity(colour, iou, stray, presence, (float(travel[0]), float(travel[1])))


def _shown_colour(frame: np.ndarray, background: np.ndarray, core: np.ndarray, colour_rgb) -> np.ndarray:
    """The subject's colour as frame 0 shows it (mean over the input's subject core, in [0, 1]), so
    that shape is judged apart from colour: a red square turned purple fails the colour check only.
    A subject that stands out from the background by under half the named colour's contrast there
    has no colour of its own to read; the named colour is used (and is then found nowhere)."""
    named = np.asarray(colour_rgb, np.float64)
    shown = frame[core].astype(np.float64).mean(axis=0) / 255.0
    behind = background[core].mean(axis=0)
    return shown if np.linalg.norm(shown - behind) >= 0.5 * np.linalg.norm(named - behind) else named


def subject_coverage(frames: np.ndarray, background: np.ndarray, colour_rgb) -> np.ndarray:
    """How much of each pixel the subject covers, read from its colour: frames (..., H, W, 3) in
    0-255, projected onto the segment from `background` (H, W, 3, in [0, 1]) to the subject colour
    (in [0, 1]); 0 = background, 1 = subject, clipped to [0, 1]. Where the background has the
    subject's own colour nothing can be told apart and the coverage is 0."""
    pixels = np.asarray(frames, np.float64) / 255.0
    seg = np.asarray(colour_rgb, np.float64) - background
    length2 = (seg * seg).sum(-1)
    along = ((pixels - background) * seg).sum(-1)
    return np.clip(np.where(length2 > 1e-6, along / np.maximum(length2, 1e-6), 0.0), 0.0, 1.0)


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def _stray_fraction(labs: np.ndarray, background_lab: np.ndarray, subject_lab: np.ndarray, max_speed: float) -> float:
    """Fraction of sampled pixels farther than STRAY_DELTA_E (CIELAB distance) from every mix of the
    subject colour and a background colour within reach: the background's colours within the distance
    content could have travelled by that frame span a per-channel range (a min / max filter over that
    window), the pixel is compared with its nearest point in that range, then with the segment from
    there to the subject colour (soft edges and motion blur are such mixes). Lenient by construction:
    the range holds every colour the moved background can show there, and more."""
    import cv2

    background = background_lab.astype(np.float32)
    subject = subject_lab.astype(np.float32)
    stray, total = 0, 0
    for t in range(0, len(labs), _STRAY_FRAMES):
        pixels = labs[t].astype(np.float32)
        reach = int(np.ceil(max_speed * t))
        if reach:
            kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
            lo = cv2.erode(background, kernel, borderType=cv2.BORDER_REPLICATE)
            hi = cv2.dilate(background, kernel, borderType=cv2.BORDER_REPLICATE)
            near = np.clip(pixels, lo, hi)
        else:
            near = background
        seg = subject - near
        k = np.clip(((pixels - near) * seg).sum(-1) / np.maximum((seg * seg).sum(-1), 1e-9), 0.0, 1.0)
        distance = np.linalg.norm(pixels - near - k[..., None] * seg, axis=-1)
        stray += int((distance > STRAY_DELTA_E).sum())
        total += distance.size
    return stray / max(1, total)
