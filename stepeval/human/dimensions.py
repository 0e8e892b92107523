"""The three dimensions of the Step-Video-TI2V human evaluation, with their guidelines.

Our own wording of the protocol (../shared/spec/step-video-ti2v-eval.md). A study stores the
dimensions it was created with, so later edits here never change what an old study asked.
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
    ),
    Dimension(
        "consistency",
        "Subject and background consistency",
        "Which video stays truer to the input image?",
        "The subject and background should stay consistent with the input image throughout. Penalise big "
        "changes of style, scene cuts the prompt did not ask for, and faces or identities that drift. "
        "Choose Tie when neither is clearly better.",
    ),
    Dimension(
        "physical_laws",
        "Adherence to physical laws",
        "Which video moves more plausibly?",
        "Judge interactions between objects, realistic motion, lighting and collisions. Penalise bodies, "
        "animals, objects or backgrounds that distort or deform unnaturally. Choose Tie when neither is "
        "clearly better.",
    ),
)

DIMENSION_NAMES = tuple(d.name for d in DIMENSIONS)


def dimensions_from_dicts(rows: list[dict]) -> tuple[Dimension, ...]:
    return tuple(Dimension(**{k: r.get(k, "") for k in ("name", "title", "question", "guideline")}) for r in rows)


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
