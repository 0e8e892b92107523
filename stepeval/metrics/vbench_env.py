"""The isolated VBench environment: create it, record its versions, check it and its weights.

vbench==0.1.5 pins numpy<2, transformers 4.33 and friends that would break the main environment, so
it lives in its own venv (default `~/.cache/stepeval/vbench-env`, or `$STEPEVAL_VBENCH_ENV`) that
stepeval drives through a subprocess (`vbench_driver.py`, files in, JSON out). The pins and why
(docs/vbench-i2v.md):

- vbench==0.1.5, the package being reproduced;
- setuptools<81: openai-clip imports pkg_resources;
- dreamsim + peft==0.6.2: i2v_background needs dreamsim, which vbench does not declare; newer peft
  does not import under transformers 4.33.2;
- torchvision==0.29.1 with the CUDA build of torch it pulls: the only torchvision wheels reachable
  are CUDA builds, which do not import with a CPU-only torch. The same build runs on CPU.

The environment's exact package versions are written to `<env>/stepeval-vbench-env.json` and copied
into the `env` column of every VBench score.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stepeval.errors import UserError

PINS: tuple[str, ...] = ("vbench==0.1.5", "setuptools<81", "dreamsim==0.2.1", "peft==0.6.2", "torchvision==0.29.1")
VERSIONS_FILE = "stepeval-vbench-env.json"
DRIVER = Path(__file__).with_name("vbench_driver.py")
ENV_VAR = "STEPEVAL_VBENCH_ENV"


def default_env_path() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "stepeval" / "vbench-env"


def default_cache_dir() -> Path:
    """VBench's own weight cache root (`$VBENCH_CACHE_DIR`, default ~/.cache/vbench)."""
    return Path(os.environ.get("VBENCH_CACHE_DIR") or Path.home() / ".cache" / "vbench").expanduser()


def default_torch_home() -> Path:
    return Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch").expanduser()


def env_python(path: Path) -> Path:
    return Path(path) / "bin" / "python"


# -- weights ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightFile:
    path: Path
    what: str
    url: str | None = None  # where `stepeval vbench prefetch` gets it (None: fetched another way)


def weight_files(dimension: str, cache_dir: Path | None = None, torch_home: Path | None = None) -> list[WeightFile]:
    """The files a dimension reads, in vbench's local mode (nothing is downloaded when they exist)."""
    c = Path(cache_dir or default_cache_dir())
    hub = Path(torch_home or default_torch_home()) / "hub"
    dino_url = "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"
    dino = [
        WeightFile(c / "dino_model" / "facebookresearch_dino_main" / "hubconf.py", "DINO torch.hub code (github.com/facebookresearch/dino, branch main)"),
        WeightFile(c / "dino_model" / "dino_vitbase16_pretrain.pth", "DINO ViT-B/16 checkpoint (vbench checks it exists)", dino_url),
        WeightFile(hub / "checkpoints" / "dino_vitbase16_pretrain.pth", "DINO ViT-B/16 checkpoint (the hub code loads it)", dino_url),
    ]
    table: dict[str, list[WeightFile]] = {
        "subject_consistency": dino,
        "i2v_subject": dino,
        "background_consistency": [WeightFile(c / "clip_model" / "ViT-B-32.pt", "CLIP ViT-B/32 (TorchScript file)",
                                              "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt")],
        "aesthetic_quality": [
            WeightFile(c / "clip_model" / "ViT-L-14.pt", "CLIP ViT-L/14 (TorchScript file)",
                       "https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt"),
            WeightFile(c / "aesthetic_model" / "emb_reader" / "sa_0_4_vit_l_14_linear.pth", "LAION aesthetic linear head",
                       "https://github.com/LAION-AI/aesthetic-predictor/raw/main/sa_0_4_vit_l_14_linear.pth"),
        ],
        "imaging_quality": [WeightFile(c / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth", "MUSIQ (SPAQ) checkpoint",
                                       "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth")],
        "motion_smoothness": [WeightFile(c / "amt_model" / "amt-s.pth", "AMT-S checkpoint", "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth")],
        "dynamic_degree": [WeightFile(c / "raft_model" / "models" / "raft-things.pth", "RAFT (raft-things) checkpoint, from models.zip",
                                      "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip")],
        # The runner passes cache_dir=<cache>/dreamsim_model to dreamsim (its default is ./models).
        "i2v_background": [
            WeightFile(c / "dreamsim_model" / "ensemble_lora" / "adapter_config.json", "DreamSim ensemble LoRA (from dreamsim_ensemble_checkpoint.zip)",
                       "https://github.com/ssundaram21/dreamsim/releases/download/v0.2.0-checkpoints/dreamsim_ensemble_checkpoint.zip"),
            WeightFile(c / "dreamsim_model" / "dino_vitb16_pretrain.pth", "DreamSim's DINO backbone (same zip)"),
            WeightFile(c / "dreamsim_model" / "clip_vitb16_pretrain.pth.tar", "DreamSim's CLIP backbone (same zip)"),
            WeightFile(c / "dreamsim_model" / "open_clip_vitb16_pretrain.pth.tar", "DreamSim's OpenCLIP backbone (same zip)"),
            WeightFile(c / "dreamsim_model" / "facebookresearch_dino_main" / "hubconf.py", "DINO torch.hub code, inside DreamSim's folder"),
            WeightFile(c / "dreamsim_model" / "checkpoints" / "dino_vitbase16_pretrain.pth", "DINO ViT-B/16 checkpoint (DreamSim points torch.hub at its folder)", dino_url),
        ],
        "camera_motion": [
            WeightFile(hub / "facebookresearch_co-tracker_main" / "hubconf.py", "CoTracker torch.hub code (github.com/facebookresearch/co-tracker, branch main)"),
            WeightFile(hub / "checkpoints" / "cotracker2.pth", "CoTracker2 checkpoint",
                       "https://huggingface.co/facebook/cotracker/resolve/main/cotracker2.pth"),
        ],
    }
    if dimension not in table:
        raise UserError(f"unknown VBench-I2V dimension {dimension!r}", hint=f"choose from {', '.join(table)}")
    return table[dimension]


def missing_weights(dimension: str, cache_dir: Path | None = None, torch_home: Path | None = None) -> list[WeightFile]:
    return [w for w in weight_files(dimension, cache_dir, torch_home) if not w.path.exists()]


# -- the environment ----------------------------------------------------------------------------


@dataclass
class VBenchEnv:
    path: Path
    info: dict = field(default_factory=dict)

    @property
    def python(self) -> Path:
        return env_python(self.path)

    def record(self, device: str) -> dict:
        """What goes into the env column of a score row."""
        return {"vbench_env": str(self.path), "device": device, **{k: self.info.get(k) for k in ("python", "packages", "torch_cuda", "pins")}}


def _run(cmd: list[str], log: Callable[[str], None] | None, *, env: dict | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    if log:
        log("$ " + " ".join(cmd))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def probe_env(path: Path, timeout: float = 300) -> dict:
    """Run the driver's import self-check in the environment; returns the versions dict."""
    py = env_python(path)
    res = subprocess.run([str(py), str(DRIVER), "versions"], capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-5:]
        raise UserError(
            "the VBench environment is broken (its self-check failed: " + " | ".join(tail) + ")",
            path=path,
            hint="recreate it with `stepeval vbench setup --force`" + (f" --path {path}" if path != default_env_path() else ""),
        )
    return json.loads(res.stdout.strip().splitlines()[-1])


def load_env(path: Path | None = None, *, verify: bool = False) -> VBenchEnv:
    """The environment at `path`, or a UserError saying how to create or repair it."""
    path = Path(path or default_env_path()).expanduser()
    opt = "" if path == default_env_path() else f" --path {path}"
    if not env_python(path).exists():
        raise UserError("no VBench environment here", path=path, hint=f"create it with `stepeval vbench setup{opt}` (about 5.4 GB)")
    info_file = path / VERSIONS_FILE
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise UserError("the VBench environment was not completed (no version record)", path=info_file,
                        hint=f"finish it with `stepeval vbench setup{opt}`") from None
    if verify:
        info = {**info, **probe_env(path)}
    return VBenchEnv(path, info)


def setup_env(path: Path | None = None, *, force: bool = False, python: str | None = None,
              pip_args: Iterable[str] = (), log: Callable[[str], None] | None = None) -> VBenchEnv:
    """Create (or complete) the VBench venv with the pinned packages and record its versions.

    Idempotent: an environment whose record lists the same pins and passes the self-check is kept.
    """
    path = Path(path or default_env_path()).expanduser()
    py = env_python(path)
    info_file = path / VERSIONS_FILE
    if not force and info_file.exists() and py.exists():
        try:
            env = load_env(path)
            if tuple(env.info.get("pins") or ()) == PINS:
                probe_env(path)
                if log:
                    log(f"VBench environment already set up at {path}")
                return env
        except UserError:
            pass  # incomplete or broken: (re)install below
    if force and path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not py.exists():
        try:
            res = _run([python or sys.executable, "-m", "venv", str(path)], log)
        except OSError as exc:  # --python names no runnable interpreter
            raise UserError(f"cannot run the interpreter {python or sys.executable} ({exc.strerror})", path=path,
                            hint="pass --python the path of an existing Python interpreter, or leave it out to use this one") from exc
        if res.returncode != 0:
            raise UserError(f"cannot create a venv ({res.stderr.strip()[-300:]})", path=path, hint="check the folder is writable and python has the venv module")
    info_file.unlink(missing_ok=True)
    res = _run([str(py), "-m", "pip", "install", "--disable-pip-version-check", *pip_args, *PINS], log)
    if res.returncode != 0:
        raise UserError(f"pip could not install the VBench environment:\n{res.stdout[-1500:]}{res.stderr[-1500:]}", path=path,
                        hint="check that the package registry is reachable, then rerun `stepeval vbench setup`")
    versions = probe_env(path)
    info = {**versions, "pins": list(PINS), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "install_seconds": round(time.time() - t0, 1)}
    tmp = info_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.replace(tmp, info_file)
    if log:
        log(f"VBench environment ready at {path} ({info['install_seconds']} s)")
    return VBenchEnv(path, info)


def weights_report(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None) -> dict[str, list[WeightFile]]:
    """dimension -> its missing files (empty list = runnable)."""
    return {d: missing_weights(d, cache_dir, torch_home) for d in dimensions}


# -- prefetch (a machine with internet) ---------------------------------------------------------

DINO_REPO_ZIP = "https://github.com/facebookresearch/dino/archive/refs/heads/main.zip"
COTRACKER_REPO_ZIP = "https://github.com/facebookresearch/co-tracker/archive/refs/heads/main.zip"


@dataclass(frozen=True)
class Fetch:
    url: str
    dest: Path  # a file, or the folder a zip is unpacked into
    kind: str  # "file", "zip" (unpack into dest), "repo" (a GitHub branch zip whose single top folder becomes dest)


def fetch_plan(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None) -> tuple[list[Fetch], list[tuple[Path, Path]]]:
    """Downloads for the missing files of `dimensions`, and (link, target) pairs made afterwards
    (one DINO checkpoint serves the three places that read it)."""
    c = Path(cache_dir or default_cache_dir())
    hub = Path(torch_home or default_torch_home()) / "hub"
    dino_ckpt = hub / "checkpoints" / "dino_vitbase16_pretrain.pth"
    plan: dict[Path, Fetch] = {}
    links: list[tuple[Path, Path]] = []
    for dim in dimensions:
        for w in missing_weights(dim, c, hub.parent):
            p = w.path
            if p.name == "hubconf.py" and "dino" in p.parent.name:
                plan[p.parent] = Fetch(DINO_REPO_ZIP, p.parent, "repo")
            elif p.name == "hubconf.py":
                plan[p.parent] = Fetch(COTRACKER_REPO_ZIP, p.parent, "repo")
            elif p.name == "dino_vitbase16_pretrain.pth" and p != dino_ckpt and "dreamsim_model" not in p.parts[-2:]:
                if not dino_ckpt.exists():
                    plan[dino_ckpt] = Fetch(w.url or "", dino_ckpt, "file")
                links.append((p, dino_ckpt))
            elif p.parent.name == "dreamsim_model" or p.parent.parent.name == "dreamsim_model":
                if p.name == "dino_vitbase16_pretrain.pth" and p.parent.name == "checkpoints":
                    if not dino_ckpt.exists():
                        plan[dino_ckpt] = Fetch(w.url or "", dino_ckpt, "file")
                    links.append((p, dino_ckpt))
                else:
                    zip_url = weight_files("i2v_background", c, hub.parent)[0].url or ""
                    plan[c / "dreamsim_model"] = Fetch(zip_url, c / "dreamsim_model", "zip")
            elif p.name == "raft-things.pth":
                plan[c / "raft_model"] = Fetch(w.url or "", c / "raft_model", "zip")
            elif w.url:
                plan[p] = Fetch(w.url, p, "file")
    return list(plan.values()), links


def prefetch(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None, *,
             log: Callable[[str], None] | None = None, timeout: float = 60) -> dict[str, str]:
    """Download what `dimensions` miss; returns url -> error for the downloads that failed."""
    import urllib.request
    import zipfile

    say = log or (lambda m: None)
    plan, links = fetch_plan(dimensions, cache_dir, torch_home)
    failed: dict[str, str] = {}
    for f in plan:
        say(f"fetch {f.url} -> {f.dest}")
        f.dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.dest.parent / f".{f.dest.name}.download"
        try:
            with urllib.request.urlopen(f.url, timeout=timeout) as resp, open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
            if f.kind == "file":
                os.replace(tmp, f.dest)
            else:
                with zipfile.ZipFile(tmp) as z:
                    if f.kind == "zip":
                        z.extractall(f.dest)
                    else:
                        unpack = f.dest.parent / f".{f.dest.name}.unpack"
                        shutil.rmtree(unpack, ignore_errors=True)
                        z.extractall(unpack)
                        (top,) = list(unpack.iterdir())
                        shutil.rmtree(f.dest, ignore_errors=True)
                        os.replace(top, f.dest)
                        shutil.rmtree(unpack, ignore_errors=True)
                tmp.unlink(missing_ok=True)
        except Exception as exc:  # noqa: BLE001 - report every failed download, keep going
            tmp.unlink(missing_ok=True)
            failed[f.url] = f"{type(exc).__name__}: {exc}"
            say(f"  failed: {failed[f.url]}")
    for link, target in links:
        if target.exists() and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
    # The RAFT zip unpacks as models/raft-things.pth; dreamsim needs the DINO hub code in its own folder.
    dreamsim_dino = Path(cache_dir or default_cache_dir()) / "dreamsim_model" / "facebookresearch_dino_main"
    cache_dino = Path(cache_dir or default_cache_dir()) / "dino_model" / "facebookresearch_dino_main"
    if dreamsim_dino.parent.exists() and cache_dino.exists() and not dreamsim_dino.exists():
        shutil.copytree(cache_dino, dreamsim_dino)
    return failed
