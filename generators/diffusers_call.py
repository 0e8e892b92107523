"""What a diffusers pipeline's `__call__` takes, and the harness request bound onto it.

Every diffusers video pipeline spells the same few inputs its own way (`num_frames`, or
`video_length`; LTX's `frame_rate`, others' `fps`) and leaves out what it cannot use (a
text-to-video pipeline has no `image`). The generic adapter reads the signature once
(`CallSignature.of(cls)`), and binds each *role* of a request (prompt, image, size, frames, steps,
guidance, seed, fps) to the argument that plays it. A role the request needs and the pipeline
cannot take is refused with the class, the argument looked for and the fix, before any weights
are read where possible; an argument of `call_kwargs` the pipeline does not have is refused too, so
a typo is not silently dropped.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from stepeval.errors import UserError

# role -> the __call__ argument names that play it, in order of preference.
ROLES: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt",),
    "image": ("image",),
    "negative_prompt": ("negative_prompt",),
    "height": ("height",),
    "width": ("width",),
    "num_frames": ("num_frames", "video_length"),
    "num_inference_steps": ("num_inference_steps",),
    "guidance_scale": ("guidance_scale",),
    "generator": ("generator",),
    "fps": ("frame_rate", "fps"),
    "output_type": ("output_type",),
}
# Passed where the pipeline takes them, never needed: the video is timed by the harness's fps
# whatever the pipeline was told, and frames of any output type are converted.
OPTIONAL_ROLES = frozenset({"fps", "output_type"})

_WHY_AND_FIX: dict[str, tuple[str, str]] = {
    "prompt": ("the harness drives text-driven models", "choose a text-to-video or image-to-video pipeline class"),
    "image": ("the item has an input image (a text-image-to-video run)",
              "choose an image-to-video pipeline class, or give this text-to-video pipeline the prompts alone on purpose with --task t2v"),
    "negative_prompt": ("negative_prompt is set", "drop negative_prompt from the model's params"),
    "guidance_scale": ("guidance_scale is set", "drop guidance_scale from the model's params (the pipeline then guides as it is built to)"),
    "height": ("the harness fixes every video's size", "this class is not a video pipeline the harness can drive; choose another"),
    "width": ("the harness fixes every video's size", "this class is not a video pipeline the harness can drive; choose another"),
    "num_frames": ("the harness fixes every video's frame count", "this class is not a video pipeline the harness can drive; choose another"),
    "num_inference_steps": ("the protocol fixes the number of sampling steps", "choose a pipeline class that takes num_inference_steps"),
    "generator": ("every video is seeded (same seed, same frames)", "choose a pipeline class that takes a torch generator"),
}


@dataclass(frozen=True)
class CallSignature:
    """The keyword arguments of one pipeline class's `__call__`, with their defaults."""

    pipeline_class: str
    defaults: dict[str, Any]  # argument name -> default (inspect.Parameter.empty when required)
    takes_any: bool  # **kwargs: any name is accepted

    @classmethod
    def of(cls, pipeline_cls: type) -> CallSignature:
        sig = inspect.signature(pipeline_cls.__call__)  # diffusers' decorators keep it (functools.wraps)
        defaults, takes_any = {}, False
        for p in sig.parameters.values():
            if p.name == "self" or p.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                takes_any = True
                continue
            defaults[p.name] = p.default
        return cls(pipeline_cls.__name__, defaults, takes_any)

    def name_for(self, role: str) -> str | None:
        """The argument that plays `role`, or None when the pipeline has none."""
        for name in ROLES[role]:
            if name in self.defaults:
                return name
        return None

    def takes(self, role: str) -> bool:
        return self.name_for(role) is not None

    def requires(self, role: str) -> bool:
        """The pipeline cannot run without this role (its argument has no default)."""
        name = self.name_for(role)
        return name is not None and self.defaults[name] is inspect.Parameter.empty

    def default(self, role: str) -> Any:
        """The `__call__` default of the role's argument (None when absent or without one)."""
        name = self.name_for(role)
        value = self.defaults.get(name, inspect.Parameter.empty) if name else inspect.Parameter.empty
        return None if value is inspect.Parameter.empty else value

    def refuse(self, role: str, why: str | None = None, fix: str | None = None) -> UserError:
        names = " or ".join(f"`{n}`" for n in ROLES[role])
        default_why, default_fix = _WHY_AND_FIX.get(role, ("the request needs it", "choose another pipeline class"))
        return UserError(f"{self.pipeline_class} cannot run this request: its __call__ takes no {names} argument, "
                         f"and {why or default_why}", hint=fix or default_fix)

    def check_extra(self, extra: dict[str, Any]) -> None:
        """Refuse `call_kwargs` the pipeline does not take (a typo would otherwise vanish)."""
        if self.takes_any:
            return
        unknown = sorted(set(extra) - set(self.defaults))
        if unknown:
            raise UserError(
                f"{self.pipeline_class}.__call__ has no argument(s) {', '.join(unknown)} (given in call_kwargs)",
                hint=f"its arguments are: {', '.join(sorted(self.defaults))}",
            )

    def bind(self, values: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The keyword arguments for `__call__`: each role's value under the pipeline's own name for
        it (roles with value None are left to the pipeline), then `extra` as given."""
        args: dict[str, Any] = {}
        for role, value in values.items():
            if value is None:
                continue
            name = self.name_for(role)
            if name is None:
                if role in OPTIONAL_ROLES:
                    continue
                if not self.takes_any:
                    raise self.refuse(role)
                name = ROLES[role][0]
            args[name] = value
        extra = dict(extra or {})
        self.check_extra(extra)
        return {**args, **extra}
