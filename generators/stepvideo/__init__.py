"""The in-repo Step-Video-TI2V: networks (DiT, Video-VAE, Step-LLM, HunyuanCLIP), checkpoint I/O
in the official hub layout, presets; plus the sampler/pipeline/parallel modules built on them.

Submodules are imported lazily by their users so `import generators.stepvideo` stays cheap.
"""

from .config import PRESETS, CLIPConfig, DiTConfig, StepLLMConfig, StepVideoConfig, VAEConfig, get_preset

__all__ = ["PRESETS", "CLIPConfig", "DiTConfig", "StepLLMConfig", "StepVideoConfig", "VAEConfig",
           "get_preset"]
