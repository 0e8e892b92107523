"""The questions of a pairwise human study, one template per protocol, with their guidelines.

Two templates, in our own words (docs/protocol.md): `ti2v`, the Step-Video-TI2V human evaluation
(input image, prompt, two videos; three dimensions), and `t2v`, the Step-Video-T2V one (prompt and two
videos, no input image; four dimensions). A study stores the dimensions it was created with and the
name of its template, so later edits here never change what an old study asked.

This module owns the dimensions' names and every way they are shown: `title` (the annotator's
heading in the app), `label` (a report's table heading, the technical reports' wording) and
`short` (where a label must fit a chart legend). Reports and the app import them from here.
`DIMENSIONS`, `DIMENSION_NAMES`, `DIMENSION_LABELS` and `DIMENSION_SHORT_LABELS` are the `ti2v`
template's (the one studies had before templates existed); `dimension_label` knows every template.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from stepeval.benchmark.items import T2V, TI2V
from stepeval.errors import UserError

SCREEN_LABELS = ("left", "tie", "right")
OUTCOMES = ("A", "tie", "B")


@dataclass(frozen=True)
class Dimension:
    name: str
    title: str
    question: str
    guideline: str
    label: str = ""
    short: str = ""

    def __post_init__(self) -> None:
        # Studies stored before label/short existed read back with the title standing in.
        if not self.label:
            object.__setattr__(self, "label", self.title or self.name)
        if not self.short:
            object.__setattr__(self, "short", self.label)

    def to_dict(self) -> dict:
        return asdict(self)


# The Step-Video-TI2V human evaluation: the annotator sees the input image, the prompt and two videos.
TI2V_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "instruction_adherence",
        "Instruction adherence",
        "Which video does what the prompt asks?",
        "Look for the actions, camera movements, objects, expressions and effects the prompt asks for. "
        "Penalise a wrong camera movement, missing or minimal motion (a nearly static clip, a slideshow) "
        "and missing elements. Choose Tie when neither is clearly better.",
        label="Instruction Adherence",
        short="Instruction",
    ),
    Dimension(
        "consistency",
        "Subject and background consistency",
        "Which video stays truer to the input image?",
        "The subject and background should stay consistent with the input image throughout. Penalise big "
        "changes of style, scene cuts the prompt did not ask for, and faces or identities that drift. "
        "Choose Tie when neither is clearly better.",
        label="Subject & Background Consistency",
        short="Consistency",
    ),
    Dimension(
        "physical_laws",
        "Adherence to physical laws",
        "Which video moves more plausibly?",
        "Judge interactions between objects, realistic motion, lighting and collisions. Penalise bodies, "
        "animals, objects or backgrounds that distort or deform unnaturally. Choose Tie when neither is "
        "clearly better.",
        label="Physical Laws",
        short="Physics",
    ),
)

# The Step-Video-T2V human evaluation: the annotator sees the prompt and two videos, no image.
T2V_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "instruction_following",
        "Instruction following",
        "Which video shows what the prompt describes?",
        "There is no input image: judge each video against the prompt alone. Check the subjects, how many "
        "there are and what they look like, the actions, the setting, the camera movement and the style the "
        "prompt asks for. Penalise missing or wrong subjects, actions that never happen, a camera that does not "
        "move as asked, and a clip that barely moves when the prompt describes motion. Beauty and smoothness "
        "have their own questions: leave them out of this one. Choose Tie when both follow the prompt equally "
        "well, or equally badly.",
        label="Instruction Following",
        short="Prompt",
    ),
    Dimension(
        "motion_smoothness",
        "Motion smoothness",
        "Which video moves more smoothly?",
        "Watch the whole clip; replay or pause where something looks wrong. Penalise jitter, stutter and "
        "flicker, frames that jump, freeze or repeat, things that pop in or out, and changes of speed nothing "
        "in the scene explains. Barely moving is not smooth motion: when one video is nearly still and the "
        "other moves smoothly, prefer the one that moves. Choose Tie when both move about equally smoothly, "
        "or neither moves enough to tell.",
        label="Motion Smoothness",
        short="Smoothness",
    ),
    Dimension(
        "physical_plausibility",
        "Physical plausibility",
        "Which video behaves more like the real world?",
        "Judge whether things behave as they would in reality, or consistently within the style the prompt "
        "asks for: weight and gravity, contact and collisions, liquids, smoke, cloth and hair, light, shadows "
        "and reflections, and bodies that keep their shape and their number of limbs. Penalise objects passing "
        "through each other, bodies, faces or hands that melt, bend or merge, things appearing from nowhere, "
        "and impossible motion. Choose Tie when neither is clearly more plausible.",
        label="Physical Plausibility",
        short="Plausibility",
    ),
    Dimension(
        "aesthetic_appeal",
        "Aesthetic appeal",
        "Which video looks better?",
        "Judge the look of each video as a viewer would: composition, lighting, colour, sharpness and detail, "
        "and how pleasant it is to watch. Penalise blur, noise, washed-out or garish colour, compression "
        "artefacts, text or watermarks the prompt did not ask for, and flat, low-detail images. Judge the "
        "look only, not whether the video follows the prompt. Choose Tie when both are about equally appealing.",
        label="Aesthetic Appeal",
        short="Aesthetics",
    ),
)


@dataclass(frozen=True)
class StudyProtocol:
    """A study template: what the annotator is shown and what they are asked.

    `name` is the task it judges (`stepeval.benchmark.items.TASKS`): a run's task picks its template
    unless the study asks for another. `shows_image`: whether an item's input image is shown (and
    so needed)."""

    name: str
    title: str
    dimensions: tuple[Dimension, ...]
    shows_image: bool

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)


PROTOCOLS: dict[str, StudyProtocol] = {
    TI2V: StudyProtocol(TI2V, "Step-Video-TI2V human evaluation: input image, prompt, two videos", TI2V_DIMENSIONS, shows_image=True),
    T2V: StudyProtocol(T2V, "Step-Video-T2V human evaluation: prompt, two videos, no input image", T2V_DIMENSIONS, shows_image=False),
}
#: The template of a study that records none (every study made before templates existed).
DEFAULT_PROTOCOL = TI2V

# The default template's dimensions, under the names callers have always imported.
DIMENSIONS: tuple[Dimension, ...] = PROTOCOLS[DEFAULT_PROTOCOL].dimensions
DIMENSION_NAMES = tuple(d.name for d in DIMENSIONS)
#: name -> report heading, and name -> compact label (chart legends, series names).
DIMENSION_LABELS: dict[str, str] = {d.name: d.label for d in DIMENSIONS}
DIMENSION_SHORT_LABELS: dict[str, str] = {d.name: d.short for d in DIMENSIONS}

#: Every template's dimensions, in template order: the order reports list dimensions in.
ALL_DIMENSIONS: tuple[Dimension, ...] = tuple({d.name: d for p in PROTOCOLS.values() for d in p.dimensions}.values())
ALL_DIMENSION_NAMES: tuple[str, ...] = tuple(d.name for d in ALL_DIMENSIONS)
_LABELS: dict[str, str] = {d.name: d.label for d in ALL_DIMENSIONS}
_SHORT_LABELS: dict[str, str] = {d.name: d.short for d in ALL_DIMENSIONS}


def dimension_label(name: str, *, short: bool = False) -> str:
    """How a report shows a dimension of any template; a name no template defines is shown as is."""
    return (_SHORT_LABELS if short else _LABELS).get(name, name)


def get_protocol(name: str) -> StudyProtocol:
    """The template called `name`; an unknown name is a UserError naming the choices."""
    key = str(name).strip().lower()
    if key not in PROTOCOLS:
        choices = ", ".join(f"{p.name} ({p.title})" for p in PROTOCOLS.values())
        raise UserError(f"unknown study protocol {name!r}", hint=f"choose one of: {choices}")
    return PROTOCOLS[key]


def protocol_for_dimensions(names: Iterable[str]) -> StudyProtocol | None:
    """The template whose dimensions include every one of `names` (the default template first),
    or None when no single template does: how a study that records no template, or a judgments file,
    is recognised."""
    wanted = set(names)
    if not wanted:
        return None
    return next((p for p in sorted(PROTOCOLS.values(), key=lambda p: p.name != DEFAULT_PROTOCOL)
                 if wanted <= set(p.dimension_names)), None)


def dimensions_from_dicts(rows: list[dict]) -> tuple[Dimension, ...]:
    fields = ("name", "title", "question", "guideline", "label", "short")
    return tuple(Dimension(**{k: r.get(k, "") for k in fields}) for r in rows)


def to_outcome(screen_label: str, swapped: bool) -> str:
    """Screen view -> model view: model A is on the left unless the task was swapped."""
    if screen_label == "tie":
        return "tie"
    left_is_a = not swapped
    return "A" if (screen_label == "left") == left_is_a else "B"


def to_screen(outcome: str, swapped: bool) -> str:
    if outcome == "tie":
        return "tie"
    a_on_left = not swapped
    return "left" if (outcome == "A") == a_on_left else "right"
