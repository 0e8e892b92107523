"""Runs INSIDE the VBench venv: writes random-weight checkpoints of the right architectures.

    python vbench_random_weights.py CACHE_DIR TORCH_HOME SEED DIM [DIM ...]

For tests and CI only (stepeval.metrics.testing drives it): no machine of the project can download
VBench's weights, so each dimension's loader is fed a checkpoint of the same architecture and format
with random values, at the path vbench reads. The numbers it produces are meaningless; the plumbing
(staging, loading, scoring, parsing) is real. Also writes a stand-in torch.hub folder for DINO: a
hubconf.py of our own that builds timm's ViT-B/16 (DINO's architecture and parameter names) and
loads the checkpoint from where torch.hub would have downloaded the real one.
"""

from __future__ import annotations

import os
import sys

DINO_HUBCONF = '''"""Stand-in for github.com/facebookresearch/dino's hubconf.py, written by stepeval's test helper.

Builds DINO's ViT-B/16 (768-d CLS output, the same parameter names) with timm and loads the
checkpoint from where torch.hub's download of the real one would land. Only for tests: on a real
machine torch.hub downloads the genuine code.
"""

import os

import timm
import torch

dependencies = ["torch", "timm"]


def dino_vitb16(pretrained=True, **kwargs):
    # vbench passes extra keys (path, read_frame, resolution); the real hub code ignores them too.
    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0, dynamic_img_size=True)
    if pretrained:
        path = os.path.join(torch.hub.get_dir(), "checkpoints", "dino_vitbase16_pretrain.pth")
        model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    return model
'''


def _save(obj, path: str) -> None:
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".partial"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _link(target: str, link: str) -> None:
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)


def dino(cache: str, torch_home: str) -> None:
    import timm

    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    ckpt = os.path.join(torch_home, "hub", "checkpoints", "dino_vitbase16_pretrain.pth")
    _save(model.state_dict(), ckpt)
    _link(ckpt, os.path.join(cache, "dino_model", "dino_vitbase16_pretrain.pth"))
    code = os.path.join(cache, "dino_model", "facebookresearch_dino_main")
    os.makedirs(code, exist_ok=True)
    with open(os.path.join(code, "hubconf.py"), "w", encoding="utf-8") as f:
        f.write(DINO_HUBCONF)


def clip_vit_b32(cache: str) -> None:
    import torch
    from clip.model import CLIP

    model = CLIP(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
                 context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12).eval()
    # clip.load() expects OpenAI's TorchScript archive (it reads the state dict of the traced module).
    traced = torch.jit.trace(model, (torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)), check_trace=False)
    path = os.path.join(cache, "clip_model", "ViT-B-32.pt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    traced.save(path + ".partial")
    os.replace(path + ".partial", path)


def musiq(cache: str) -> None:
    from pyiqa.archs.musiq_arch import MUSIQ

    _save(MUSIQ(pretrained=False).state_dict(), os.path.join(cache, "pyiqa_model", "musiq_spaq_ckpt-358bb6af.pth"))


def amt_s(cache: str) -> None:
    import vbench
    from omegaconf import OmegaConf
    from vbench.third_party.amt.utils.build_utils import build_from_cfg

    cfg = os.path.join(os.path.dirname(vbench.__file__), "third_party", "amt", "cfgs", "AMT-S.yaml")
    model = build_from_cfg(OmegaConf.load(cfg).network)
    _save({"state_dict": model.state_dict()}, os.path.join(cache, "amt_model", "amt-s.pth"))


def raft(cache: str) -> None:
    from easydict import EasyDict
    from vbench.third_party.RAFT.core.raft import RAFT

    model = RAFT(EasyDict({"small": False, "mixed_precision": False, "alternate_corr": False}))
    _save(model.state_dict(), os.path.join(cache, "raft_model", "models", "raft-things.pth"))


WRITERS = {
    "subject_consistency": ("dino", dino),
    "i2v_subject": ("dino", dino),
    "background_consistency": ("clip_vit_b32", lambda c, t: clip_vit_b32(c)),
    "imaging_quality": ("musiq", lambda c, t: musiq(c)),
    "motion_smoothness": ("amt_s", lambda c, t: amt_s(c)),
    "dynamic_degree": ("raft", lambda c, t: raft(c)),
}


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    cache, torch_home, seed, dims = argv[0], argv[1], int(argv[2]), argv[3:]
    unknown = [d for d in dims if d not in WRITERS]
    if unknown:
        print(f"no random-weight writer for: {', '.join(unknown)} (supported: {', '.join(WRITERS)})", file=sys.stderr)
        return 2
    import torch

    done = set()
    for dim in dims:
        name, writer = WRITERS[dim]
        if name in done:
            continue
        torch.manual_seed(seed)  # each checkpoint is reproducible on its own
        writer(cache, torch_home)
        done.add(name)
        print(f"wrote random weights for {dim}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
