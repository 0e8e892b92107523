"""Runs INSIDE the VBench venv: writes random-weight checkpoints of the right architectures.

    python vbench_random_weights.py CACHE_DIR TORCH_HOME SEED [--cotracker-hub DIR] DIM [DIM ...]

For tests and CI only (stepeval.metrics.testing drives it): no machine of the project can download
VBench's weights, so each dimension's loader is fed a checkpoint of the same architecture and format
with random values, at the path vbench reads. The numbers it produces are meaningless; the plumbing
(staging, loading, scoring, parsing) is real.

torch.hub code: DINO's hub folder (read by subject_consistency, i2v_subject and, inside DreamSim, by
i2v_background) is a stand-in hubconf.py of our own that builds DINO's ViT-B/16 (same architecture
and parameter names) and loads the checkpoint from where torch.hub would have downloaded the real
one. CoTracker's is the real hub code of the commit the weight table pins: `--cotracker-hub DIR`
names a copy of that commit's files (hubconf.py and cotracker/...), each checked against the table's
sha256 before it is laid out as torch.hub lays out a download (`$TORCH_HOME/hub/
facebookresearch_co-tracker_main/`); the random checkpoint is the state dict of the model that code
builds, at `$TORCH_HOME/hub/checkpoints/cotracker2.pth`, where its hubconf.py looks first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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


# DreamSim's copy of DINO: DreamSim's ViTExtractor patches DINO's own VisionTransformer (its
# interpolate_pos_encoding, prepare_tokens), so its stand-in builds that class, which dreamsim vendors.
DREAMSIM_DINO_HUBCONF = '''"""Stand-in for github.com/facebookresearch/dino's hubconf.py inside DreamSim's model folder,
written by stepeval's test helper: DINO's ViT-B/16 (DINO's VisionTransformer class as dreamsim vendors
it) with the checkpoint from where torch.hub's download of the real one would land. Only for tests.
"""

import os

import torch
from dreamsim.feature_extraction.vision_transformer import vit_base

dependencies = ["torch"]


def dino_vitb16(pretrained=True, **kwargs):
    model = vit_base(patch_size=16, num_classes=0)
    if pretrained:
        path = os.path.join(torch.hub.get_dir(), "checkpoints", "dino_vitbase16_pretrain.pth")
        model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    return model
'''

# DreamSim's ensemble LoRA as its release ships it (adapter_config.json of dreamsim 0.2 checkpoints).
DREAMSIM_LORA = {"r": 16, "lora_alpha": 0.5, "lora_dropout": 0.3, "bias": "none", "target_modules": ["qkv"]}


def _vit_b_as_dino(patch_size: int, proj_dim: int) -> dict:
    """A CLIP / OpenCLIP ViT-B converted to DINO's layout, as dreamsim stores them: {'state_dict': ...}
    with the pre-norm in `pos_drop` and the output projection as `proj`."""
    import torch
    from dreamsim.feature_extraction.vision_transformer import vit_base

    vit = vit_base(patch_size=patch_size)
    vit.pos_drop = torch.nn.LayerNorm(vit.embed_dim)
    sd = dict(vit.state_dict())
    sd["proj"] = torch.randn(vit.embed_dim, proj_dim) * vit.embed_dim ** -0.5
    return {"state_dict": sd}


def dreamsim(cache: str, torch_home: str) -> None:
    """DreamSim's ensemble (DINO ViT-B/16 + CLIP ViT-B/16 + OpenCLIP ViT-B/16, LoRA) in the layout of
    its release zip, under $VBENCH_CACHE_DIR/dreamsim_model (where the driver points dreamsim)."""
    import torch
    from dreamsim.feature_extraction.vision_transformer import DINOHead

    folder = os.path.join(cache, "dreamsim_model")
    os.makedirs(folder, exist_ok=True)
    # DINO's backbone through the hub stand-in; its training checkpoint (with the projection head) beside it.
    hub_ckpt = os.path.join(torch_home, "hub", "checkpoints", "dino_vitbase16_pretrain.pth")
    if not os.path.isfile(hub_ckpt):
        dino(cache, torch_home)
    _link(hub_ckpt, os.path.join(folder, "checkpoints", "dino_vitbase16_pretrain.pth"))
    code = os.path.join(folder, "facebookresearch_dino_main")
    os.makedirs(code, exist_ok=True)
    with open(os.path.join(code, "hubconf.py"), "w", encoding="utf-8") as f:
        f.write(DREAMSIM_DINO_HUBCONF)
    head = DINOHead(768, 2048)
    student = {f"module.head.{k}": v for k, v in head.state_dict().items() if k.startswith("mlp.")}
    student["module.head.last_layer.weight"] = torch.randn(2048, 256) * 256 ** -0.5
    _save({"student": student}, os.path.join(folder, "dino_vitb16_pretrain.pth"))
    _save(_vit_b_as_dino(16, 512), os.path.join(folder, "clip_vitb16_pretrain.pth.tar"))
    _save(_vit_b_as_dino(16, 512), os.path.join(folder, "open_clip_vitb16_pretrain.pth.tar"))
    _dreamsim_lora(folder)


def _dreamsim_lora(folder: str) -> None:
    """The LoRA adapter, written by peft from the ensemble model dreamsim builds over those backbones."""
    import torch
    from dreamsim.model import PerceptualModel, dreamsim_args
    from peft import LoraConfig, get_peft_model

    cwd = os.getcwd()
    model = PerceptualModel(**dreamsim_args["model_config"]["ensemble"], device="cpu", load_dir=folder, normalize_embeds=True)
    hub_dir = torch.hub.get_dir()
    torch.hub.set_dir(hub_dir)  # ViTExtractor moved it to the model folder
    os.chdir(cwd)
    peft_model = get_peft_model(model, LoraConfig(**DREAMSIM_LORA))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero: random values make the adapter change the output
                p.normal_(0, 0.02)
    tmp = os.path.join(folder, "ensemble_lora.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    peft_model.save_pretrained(tmp)
    dst = os.path.join(folder, "ensemble_lora")
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)


def clip_vit_l14(cache: str) -> None:
    """OpenAI's ViT-L/14 as its TorchScript archive, with half-precision weights as OpenAI ships it
    (clip.load rebuilds the model from the archive's state dict and, on CPU, casts it to float)."""
    import torch
    from clip.model import CLIP

    model = CLIP(embed_dim=768, image_resolution=224, vision_layers=24, vision_width=1024, vision_patch_size=14,
                 context_length=77, vocab_size=49408, transformer_width=768, transformer_heads=12, transformer_layers=12).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, (torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)), check_trace=False)
    del model
    traced = traced.half()
    path = os.path.join(cache, "clip_model", "ViT-L-14.pt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    traced.save(path + ".partial")
    os.replace(path + ".partial", path)


def laion_aesthetic(cache: str) -> None:
    """LAION's aesthetic predictor: one linear layer on the 768-d CLIP ViT-L/14 image embedding."""
    import torch

    _save(torch.nn.Linear(768, 1).state_dict(), os.path.join(cache, "aesthetic_model", "emb_reader", "sa_0_4_vit_l_14_linear.pth"))


def aesthetic(cache: str, torch_home: str) -> None:
    clip_vit_l14(cache)
    laion_aesthetic(cache)


COTRACKER_HUB = "facebookresearch_co-tracker_main"


def _pinned_hub_files(table_path: str) -> dict[str, str]:
    """path inside the hub folder -> sha256, for CoTracker's hub code rows of the weight table."""
    with open(table_path, encoding="utf-8") as f:
        rows = json.load(f)["files"]
    prefix = COTRACKER_HUB + "/"
    return {r["path"][len(prefix):]: r["sha256"] for r in rows if r["root"] == "hub" and r["path"].startswith(prefix)}


def cotracker(torch_home: str, source: str | None, table_path: str) -> None:
    """CoTracker's hub code from `source` (a copy of the pinned commit, each file verified against the
    table), and a random checkpoint of the CoTracker2 model that code builds."""
    if not source:
        raise SystemExit("camera_motion needs --cotracker-hub DIR: a copy of github.com/facebookresearch/co-tracker at the commit "
                         "the weight table pins (the hub code cannot be downloaded here)")
    files = _pinned_hub_files(table_path)
    bad = []
    for rel, sha in files.items():
        src = os.path.join(source, rel)
        if not os.path.isfile(src):
            bad.append(f"{rel}: missing")
            continue
        with open(src, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if sha and digest != sha:
            bad.append(f"{rel}: sha256 {digest[:12]}... is not the pinned {sha[:12]}...")
    if bad:
        raise SystemExit(f"{source} is not the pinned CoTracker hub code: " + "; ".join(bad))
    hub = os.path.join(torch_home, "hub")
    dst = os.path.join(hub, COTRACKER_HUB)
    tmp = dst + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel in files:
        os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
        shutil.copyfile(os.path.join(source, rel), os.path.join(tmp, rel))
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)
    sys.path.insert(0, dst)
    try:
        from cotracker.predictor import CoTrackerPredictor

        model = CoTrackerPredictor(checkpoint=None).model
    finally:
        sys.path.remove(dst)
        for name in [m for m in sys.modules if m == "cotracker" or m.startswith("cotracker.")]:
            del sys.modules[name]  # vbench imports the hub's copy afresh
    _save(model.state_dict(), os.path.join(hub, "checkpoints", "cotracker2.pth"))


WRITERS = {
    "subject_consistency": ("dino", dino),
    "i2v_subject": ("dino", dino),
    "background_consistency": ("clip_vit_b32", lambda c, t: clip_vit_b32(c)),
    "imaging_quality": ("musiq", lambda c, t: musiq(c)),
    "motion_smoothness": ("amt_s", lambda c, t: amt_s(c)),
    "dynamic_degree": ("raft", lambda c, t: raft(c)),
    "i2v_background": ("dreamsim", dreamsim),
    "aesthetic_quality": ("aesthetic", aesthetic),
    "camera_motion": ("cotracker", None),  # needs the hub code's source: see cotracker()
}


def main(argv: list[str]) -> int:
    argv = list(argv)
    cotracker_hub = None
    if "--cotracker-hub" in argv:
        i = argv.index("--cotracker-hub")
        cotracker_hub = argv[i + 1]
        del argv[i: i + 2]
    table_path = os.environ.get("STEPEVAL_VBENCH_WEIGHTS_TABLE") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "vbench_weights.json")
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
        if name == "cotracker":
            cotracker(torch_home, cotracker_hub, table_path)
        else:
            writer(cache, torch_home)
        done.add(name)
        print(f"wrote random weights for {dim}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
