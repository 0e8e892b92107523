"""The Generator protocol: what every video model (TI2V or T2V) looks like to the batch runner.

A generator is built from its parameters (`factory(**params)`), loaded once (`load(device)`), then
asked for one video per request (`generate(request) -> GenerationResult`). It declares what it
natively makes (`capabilities`), so the runner and reports know the native size, frame count and fps
without running it, and so every generator picks its size the same way (`Capabilities.resolve`).

`capabilities` is declared on the generator's class (or set as an attribute of a factory function):
listings read it without building anything, and the runner reads `request_params` from it to decide,
before any instance exists, which settings of a sweep can share one loaded model
(`declared_capabilities`). An instance may narrow its sizes, frame counts and fps to what it loaded
(`Capabilities.refine`), never its request params: `check_instance` refuses one that tries.

What a model takes is declared the same way: `Capabilities.tasks`, the tasks of
`stepeval.benchmark.items` it serves (`ti2v`: a prompt and an input image; `t2v`: a prompt alone;
both: either). A text-only request has `image_path=None`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from stepeval.benchmark.items import TASKS, TI2V, check_task
from stepeval.errors import UserError
from stepeval.images import image_size, pick_bucket


@dataclass(frozen=True)
class Capabilities:
    """What a generator natively produces.

    sizes: (height, width) aspect buckets; the runner never resizes, a generator picks the bucket
        closest to the input image's aspect ratio (VBench-I2V's "adaptive aspect ratio") unless the
        request fixes the size. An empty tuple means any size (then the request or the image decides).
    frame_counts: frame counts the model supports, the first being its default.
    fps: the frame rate its videos are meant to play at.
    request_params: parameter names that may change per request without reloading the model
        (e.g. a motion score, a guidance scale). A sweep over only these reuses one loaded model.
    streams: generate() may return an iterator of frames (videos too big to hold in memory).
    tasks: what it takes: `ti2v` (a prompt and an input image), `t2v` (a prompt alone), or both.
        The runner refuses to give a model a task it does not declare.

    Declare it on the class; an instance whose geometry depends on what it loads assigns
    `self.capabilities = type(self).capabilities.refine(sizes=...)`.
    """

    sizes: tuple[tuple[int, int], ...] = ()
    frame_counts: tuple[int, ...] = ()
    fps: float = 25.0
    request_params: frozenset[str] = frozenset()
    streams: bool = False
    notes: str = ""
    tasks: frozenset[str] = frozenset({TI2V})

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", frozenset(self.tasks))
        if not self.tasks:
            raise ValueError(f"a generator serves at least one task of {', '.join(TASKS)}")
        for task in self.tasks:
            check_task(task)

    def serves(self, task: str) -> bool:
        return task in self.tasks

    def resolve(self, request: GenerationRequest) -> tuple[int, int, int, float]:
        """(height, width, num_frames, fps) for a request: the request's own values win, then the
        native bucket closest to the image's aspect ratio (the first, default bucket for a request
        without an image), the default frame count and fps."""
        height, width = request.height, request.width
        if height is None or width is None:
            if request.image_path is None:
                if not self.sizes:
                    raise UserError(
                        f"request {request.item_id!r} has no image to take a size from, and the generator declares no native size",
                        hint="give the model height and width (--set height=H --set width=W)",
                    )
                bh, bw = self.sizes[0]
            elif self.sizes:
                w, h = image_size(request.image_path)
                bh, bw = pick_bucket(w, h, self.sizes)
            else:
                bw, bh = image_size(request.image_path)
            height, width = height or bh, width or bw
        frames = request.num_frames or (self.frame_counts[0] if self.frame_counts else 1)
        fps = request.fps or self.fps
        return int(height), int(width), int(frames), float(fps)

    def refine(self, *, sizes: Iterable[Iterable[int]] | None = None, frame_counts: Iterable[int] | None = None,
               fps: float | None = None) -> Capabilities:
        """These capabilities with an instance's own geometry (None keeps the declared value).
        Request params and streaming stay as the class declares them."""
        return replace(
            self,
            sizes=self.sizes if sizes is None else tuple((int(h), int(w)) for h, w in sizes),
            frame_counts=self.frame_counts if frame_counts is None else tuple(int(f) for f in frame_counts),
            fps=self.fps if fps is None else float(fps),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = [list(s) for s in self.sizes]
        d["frame_counts"] = list(self.frame_counts)
        d["request_params"] = sorted(self.request_params)
        d["tasks"] = sorted(self.tasks)
        return d


@dataclass(frozen=True)
class GenerationRequest:
    """One video to make. `seed` is already derived per (run seed, item, sample); `params` holds the
    per-request parameters the generator declared in `Capabilities.request_params`. `image_path` is
    None for a text-to-video request."""

    item_id: str
    prompt: str
    image_path: Path | None
    seed: int
    sample: int = 0
    num_frames: int | None = None
    height: int | None = None
    width: int | None = None
    fps: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationResult:
    """A generated video: uint8 frames (T x H x W x 3 array, or an iterator of H x W x 3 frames for a
    streaming generator), its fps, and what it cost. `seconds`/`peak_memory_bytes` may be left for
    the runner to measure (it times generate() plus the iteration of streamed frames)."""

    frames: np.ndarray | Iterable[np.ndarray]
    fps: float
    seconds: float | None = None
    peak_memory_bytes: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.frames, np.ndarray):
            if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[-1] != 3:
                raise ValueError(f"frames must be uint8 T x H x W x 3, got {self.frames.dtype} {self.frames.shape}")
            if len(self.frames) == 0:
                raise ValueError("a video needs at least one frame")

    def iter_frames(self) -> Iterator[np.ndarray]:
        return iter(self.frames)


class Refused(Exception):
    """The generator declines this request (a content policy, an unsupported input). Recorded with
    status `refused`, which reports count separately from failures."""


@runtime_checkable
class Generator(Protocol):
    name: str
    capabilities: Capabilities

    def load(self, device: str) -> None:
        """Load weights onto `device` ("cpu", "cuda", "cuda:1"). Called once before any generate()."""

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Make one video. Deterministic for a given request.seed on a given device."""


def declared_capabilities(factory: Any, name: str | None = None) -> Capabilities:
    """The capabilities a generator declares on its class (or on its factory function).

    Read from the factory, never from an instance: a generator that sets `capabilities` only in
    `__init__` is refused here, since nothing could tell before building it which parameters a sweep
    may vary per request."""
    caps = getattr(factory, "capabilities", None)
    if isinstance(caps, Capabilities):
        return caps
    label = name or getattr(factory, "__qualname__", repr(factory))
    where = f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', label)}"
    raise UserError(
        f"generator {label!r} ({where}) declares no `capabilities` on its class",
        hint="declare `capabilities = Capabilities(...)` as a class attribute (on a factory function: "
        "`factory.capabilities = Capabilities(...)`), request_params included; an instance whose sizes "
        "depend on its weights assigns `self.capabilities = type(self).capabilities.refine(sizes=...)`",
    )


def check_instance(generator: Any, declared: Capabilities, name: str) -> None:
    """Refuse an instance whose capabilities change what its class declares may vary per request."""
    caps = getattr(generator, "capabilities", None)
    if caps is declared:
        return
    if not isinstance(caps, Capabilities):
        raise UserError(f"generator {name!r} built an instance without `capabilities`",
                        hint="leave the class's `capabilities` in place (or assign a refined copy of it)")
    if caps.tasks != declared.tasks:
        raise UserError(
            f"generator {name!r}: an instance declares tasks {sorted(caps.tasks)}, its class {sorted(declared.tasks)}",
            hint="declare tasks on the class only: the runner checks them before building anything",
        )
    if caps.request_params != declared.request_params:
        raise UserError(
            f"generator {name!r}: an instance declares request_params {sorted(caps.request_params)}, "
            f"its class {sorted(declared.request_params)}",
            hint="declare request_params on the class only; per instance use `type(self).capabilities.refine(...)`",
        )
