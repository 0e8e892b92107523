"""The three dimensions of the Step-Video-TI2V human evaluation, with their guidelines.

Our own wording of the protocol (docs/protocol.md, "Human evaluation"). A study stores the
dimensions it was created with, so later edits here never change what an old study asked.

This module owns the dimensions' names and every way they are shown: `title` (the annotator's
heading in the app), `label` (a report's table heading, the Step-Video-TI2V report's wording) and
`short` (where a label must fit a chart legend). Reports and the app import them from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


DIMENSIONS: tuple[Dimension, ...] = (
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

DIMENSION_NAMES = tuple(d.name for d in DIMENSIONS)
#: name -> report heading, and name -> compact label (chart legends, series names).
DIMENSION_LABELS: dict[str, str] = {d.name: d.label for d in DIMENSIONS}
DIMENSION_SHORT_LABELS: dict[str, str] = {d.name: d.short for d in DIMENSIONS}


def dimension_label(name: str, *, short: bool = False) -> str:
    """How a report shows a dimension; a name this protocol does not define is shown as is."""
    return (DIMENSION_SHORT_LABELS if short else DIMENSION_LABELS).get(name, name)


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
