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
into the `env` column of every VBench score, with the sha256 and state of the weight files each
dimension read (the files, their pinned sources and hashes: vbench_weights.json / vbench_weights.py).
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
from stepeval.metrics import vbench_weights

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
# The files, their sources and hashes live in one table (vbench_weights.json, read by vbench_weights);
# these helpers resolve it against the default folders.


@dataclass(frozen=True)
class WeightFile:
    path: Path
    what: str
    url: str | None = None  # where `stepeval vbench prefetch` gets it (a file, or the archive holding it)
    sha256: str | None = None  # None: no published hash
    required: bool = True  # a run is refused without it


def _dirs(cache_dir: Path | None, torch_home: Path | None) -> tuple[Path, Path]:
    return Path(cache_dir or default_cache_dir()).expanduser(), Path(torch_home or default_torch_home()).expanduser()


def weight_files(dimension: str, cache_dir: Path | None = None, torch_home: Path | None = None) -> list[WeightFile]:
    """The files a dimension reads, in vbench's local mode (nothing is downloaded when they exist)."""
    table = vbench_weights.load_table()
    specs = table.for_dimension(dimension)
    if not specs:
        raise UserError(f"unknown VBench-I2V dimension {dimension!r}", hint=f"choose from {', '.join(table.dimensions())}")
    c, t = _dirs(cache_dir, torch_home)
    return [WeightFile(s.location(c, t), s.what, s.url, s.sha256, s.required) for s in specs]


def missing_weights(dimension: str, cache_dir: Path | None = None, torch_home: Path | None = None) -> list[WeightFile]:
    """The required files of a dimension that are absent (what keeps it from running at all)."""
    return [w for w in weight_files(dimension, cache_dir, torch_home) if w.required and not w.path.is_file()]


def weights_report(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None) -> dict[str, list[WeightFile]]:
    """dimension -> its missing required files (empty list = runnable)."""
    return {d: missing_weights(d, cache_dir, torch_home) for d in dimensions}


def weights_status(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None, *, rehash: bool = False):
    """dimension -> each file's state: verified, unverified (no published hash), wrong-hash or missing."""
    c, t = _dirs(cache_dir, torch_home)
    return vbench_weights.weights_status(dimensions, c, t, rehash=rehash)


# -- the environment ----------------------------------------------------------------------------


@dataclass
class VBenchEnv:
    path: Path
    info: dict = field(default_factory=dict)

    @property
    def python(self) -> Path:
        return env_python(self.path)

    def record(self, device: str, weights: dict | None = None) -> dict:
        """What goes into the env column of a score row; `weights` (vbench_weights.weights_record) adds
        the sha256 and state of each weight file the scored dimensions read."""
        rec = {"vbench_env": str(self.path), "device": device, **{k: self.info.get(k) for k in ("python", "packages", "torch_cuda", "pins")}}
        if weights is not None:
            rec["weights"] = weights
        return rec


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


# -- prefetch (a machine with internet) ---------------------------------------------------------


def fetch_plan(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None):
    """Downloads for the files of `dimensions` that are missing or have a wrong hash, and the
    (link, target) pairs made afterwards (one DINO checkpoint serves the three places that read it)."""
    c, t = _dirs(cache_dir, torch_home)
    return vbench_weights.fetch_plan(dimensions, c, t)


def prefetch(dimensions: Iterable[str], cache_dir: Path | None = None, torch_home: Path | None = None, *,
             log: Callable[[str], None] | None = None, timeout: float = 60) -> dict[str, str]:
    """Download what `dimensions` miss, each file verified against the pinned table before it is put
    in place; returns url -> error for the downloads that failed or were refused."""
    c, t = _dirs(cache_dir, torch_home)
    return vbench_weights.prefetch(dimensions, c, t, log=log, timeout=timeout)
