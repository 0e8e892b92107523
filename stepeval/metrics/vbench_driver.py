"""Runs INSIDE the VBench venv (executed by path with that venv's python; never imported by stepeval).

    python vbench_driver.py versions              -> one JSON line: package versions (+ import self-check)
    python vbench_driver.py run JOB.json OUT.json -> scores each dimension of the job, JSON out
    python vbench_driver.py evaluate JOB.json     -> VBench's own entry point, VBenchI2V(...).evaluate(...)
                                                     (the reference the harness is checked against)
    python vbench_driver.py evaluate-t2v JOB.json -> the same for text-to-video, VBench(...).evaluate(...)

The job (written by stepeval.metrics.vbench_i2v) names a staged work folder holding vbench's
full-info JSON (entries {prompt_en, dimension, video_list, image_name, stepeval_key}) and the input
images under `vbench2_beta_i2v/data/crop/<resolution>/`, where vbench's i2v dimensions look for them
relative to the working directory. For each dimension the driver calls the real package's
`init_submodules(..., local=True)` and `compute_<dimension>` - what `VBenchI2V.evaluate` does - and
applies, at run time and without editing installed files, the fixes vbench 0.1.5 needs here.
A job with `"suite": "t2v"` (stepeval.metrics.vbench_t2v_metric) runs VBench's text-to-video code
instead: `vbench.utils.init_submodules` and `vbench.<dimension>`, what `VBench.evaluate` calls; its
entries may carry the full info's `auxiliary_info`, which the semantic dimensions read.
The fixes:

- torch.load without map_location (checkpoints saved on GPU) -> loads to CPU, then vbench moves the
  model to the device; weights_only defaults to False, as under the torch vbench was written for;
- dreamsim(pretrained=True) defaults to device "cuda" and ./models -> the job's device and cache;
  it also moves the torch.hub folder, which is restored after every dimension;
- the wheel lacks the CoTracker visualiser that camera_motion imports (only used for drawing) ->
  a stand-in module that raises if anything tries to draw.

A dimension that fails on the whole batch is retried video by video, so one bad video costs only
its own score. The output file is rewritten after each dimension, so a killed run keeps what it did.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import time
import traceback
import types

I2V_DIMS = ("i2v_subject", "i2v_background", "camera_motion")
PACKAGES = ("vbench", "torch", "torchvision", "numpy", "transformers", "timm", "pyiqa", "dreamsim", "peft",
            "openai-clip", "open_clip_torch", "decord", "opencv-python", "setuptools", "pillow")


def versions() -> dict:
    from importlib import metadata

    import torch
    import torchvision  # noqa: F401  - the import itself is the check (CPU torch + CUDA torchvision fails here)

    import vbench  # noqa: F401
    import vbench2_beta_i2v  # noqa: F401
    from vbench2_beta_i2v.utils import init_submodules  # noqa: F401

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return {
        "python": sys.version.split()[0],
        "packages": out,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else [],
    }


def _stub_cotracker_visualizer() -> None:
    name = "vbench2_beta_i2v.third_party.cotracker.utils.visualizer"
    try:
        importlib.import_module(name)
        return
    except ImportError:
        pass

    class Visualizer:  # camera_motion only draws with it when asked to save videos
        def __init__(self, *args, **kwargs):
            raise RuntimeError("the CoTracker visualiser is not shipped in the vbench wheel; saving tracked videos is unavailable")

    parts = name.split(".")
    for i in range(2, len(parts) + 1):
        mod_name = ".".join(parts[:i])
        if mod_name in sys.modules:
            continue
        mod = types.ModuleType(mod_name)
        if i < len(parts):
            mod.__path__ = []  # a package, so the next level can hang below it
        sys.modules[mod_name] = mod
        if i > 2:
            setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], mod)
    sys.modules[name].Visualizer = Visualizer


def apply_fixes(device: str, cache_dir: str) -> None:
    import torch

    original_load = torch.load

    @functools.wraps(original_load)
    def load(f, *args, **kwargs):
        if not args and "map_location" not in kwargs:
            kwargs["map_location"] = "cpu"
        kwargs.setdefault("weights_only", False)
        return original_load(f, *args, **kwargs)

    torch.load = load
    _stub_cotracker_visualizer()


def _fix_dreamsim(device: str, cache_dir: str) -> None:
    mod = importlib.import_module("vbench2_beta_i2v.i2v_background")
    original = getattr(mod.dreamsim, "func", mod.dreamsim)
    mod.dreamsim = functools.partial(original, device=device, cache_dir=os.path.join(cache_dir, "dreamsim_model"))


def _jsonable(value):
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def run_dimension(dim: str, entries: list[dict], job: dict) -> tuple[float, dict, dict]:
    """Run one dimension on some entries; returns (vbench's mean, key -> raw value, key -> extra)."""
    import torch
    from vbench2_beta_i2v.utils import init_submodules, save_json

    info_path = os.path.join(job["work_dir"], f"{dim}_full_info.json")
    save_json(entries, info_path)
    if job.get("suite") == "t2v":
        # the module first: a missing dependency (GRiT's detectron2) then fails before vbench's
        # init_submodules would try to download the dimension's weights
        module = importlib.import_module(f"vbench.{dim}")
        from vbench.utils import init_submodules as t2v_init_submodules

        submodules = t2v_init_submodules([dim], local=True, read_frame=False)[dim]
    else:
        submodules = init_submodules([dim], local=True, read_frame=False, resolution=job["resolution"])[dim]
        module = importlib.import_module(f"vbench2_beta_i2v.{dim}" if dim in I2V_DIMS else f"vbench.{dim}")
    if dim == "i2v_background":
        _fix_dreamsim(job["device"], job["cache_dir"])
    compute = getattr(module, f"compute_{dim}")
    hub_dir = torch.hub.get_dir()
    counter = None
    if job.get("count_flops"):
        # benchmarks only (benchmarks/vbench_dims.py): the matmul/conv/attention FLOPs of the dimension,
        # from which `stepeval vbench check` scales its cost to other sizes and devices
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
    try:
        if counter is not None:
            with counter:
                out = compute(info_path, job["device"], submodules)
            job.setdefault("_flops", {})[dim] = int(counter.get_total_flops())
        else:
            out = compute(info_path, job["device"], submodules)
    finally:
        torch.hub.set_dir(hub_dir)
    mean, video_results = out[0], out[-1]
    key_by_path = {os.path.abspath(e["video_list"][0]): e["stepeval_key"] for e in entries}
    values, extra = {}, {}
    for r in video_results:
        key = key_by_path.get(os.path.abspath(r["video_path"]))
        if key is None:
            continue
        values[key] = _jsonable(r["video_results"])
        more = {k: _jsonable(v) for k, v in r.items() if k in ("prompt_type", "predict_type")}
        if more:
            extra[key] = more
    missing = [e["stepeval_key"] for e in entries if e["stepeval_key"] not in values]
    if missing:
        raise RuntimeError(f"vbench returned no value for {len(missing)} video(s): {', '.join(missing[:5])}")
    return _jsonable(mean), values, extra


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


def run(job_path: str, out_path: str) -> int:
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    os.environ["VBENCH_CACHE_DIR"] = job["cache_dir"]  # read by vbench at import time
    os.environ["TORCH_HOME"] = job["torch_home"]
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    apply_fixes(job["device"], job["cache_dir"])
    os.chdir(job["work_dir"])  # vbench's i2v dimensions find images relative to the working directory
    with open(job["full_info"], encoding="utf-8") as f:
        entries = json.load(f)
    result = {"device": job["device"], "dimensions": {}}

    def save() -> None:
        tmp = out_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, out_path)

    for dim in job["dimensions"]:
        dim_entries = [e for e in entries if dim in e["dimension"]]
        rec = {"status": "ok", "mean": None, "videos": {}, "extra": {}, "video_errors": {}, "error": None, "seconds": 0.0}
        t0 = time.perf_counter()
        print(f"[stepeval] {dim}: {len(dim_entries)} video(s) on {job['device']}", file=sys.stderr, flush=True)
        if dim_entries:
            try:
                rec["mean"], rec["videos"], rec["extra"] = run_dimension(dim, dim_entries, job)
            except Exception as exc:  # noqa: BLE001 - isolate: retry one video at a time
                traceback.print_exc()
                rec["error"] = _short(exc)
                if len(dim_entries) == 1:
                    rec["status"] = "failed"
                    rec["video_errors"][dim_entries[0]["stepeval_key"]] = rec["error"]
                else:
                    rec["status"] = "partial"
                    for e in dim_entries:
                        try:
                            _, values, extra = run_dimension(dim, [e], job)
                            rec["videos"].update(values)
                            rec["extra"].update(extra)
                        except Exception as one:  # noqa: BLE001
                            rec["video_errors"][e["stepeval_key"]] = _short(one)
                    if not rec["videos"]:
                        rec["status"] = "failed"
        rec["seconds"] = round(time.perf_counter() - t0, 3)
        # the process's peak so far: the dimension's own peak when it is the first (or only) one
        rec["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        if "_flops" in job and dim in job["_flops"]:
            rec["flops"] = job["_flops"][dim]
        result["dimensions"][dim] = rec
        save()
    save()
    return 0


# DreamSim points torch.hub at its own folder and leaves it there, so inside one VBenchI2V.evaluate a
# hub model loaded after i2v_background (camera_motion's CoTracker) would be looked for in DreamSim's
# folder; the reference run orders the dimensions so that it comes last (the harness restores the
# hub folder after every dimension instead).
def evaluate_order(dims: list[str]) -> list[str]:
    return sorted(dims, key=lambda d: d == "i2v_background")


def _reference_job(job_path: str) -> dict:
    """A reference job's settings, with the weight folders, threads and run-time fixes of `run` applied."""
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    os.environ["VBENCH_CACHE_DIR"] = job["cache_dir"]
    os.environ["TORCH_HOME"] = job["torch_home"]
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    apply_fixes(job["device"], job["cache_dir"])
    return job


def evaluate(job_path: str) -> int:
    """Call vbench's own `VBenchI2V(device, full_info, output_dir).evaluate(videos_path, name, dims,
    local=True, resolution=...)` with the same run-time fixes as `run` (CPU loading, DreamSim's device),
    from `work_dir`, where the image suite's `vbench2_beta_i2v/data/crop/<resolution>/` lies."""
    job = _reference_job(job_path)
    _fix_dreamsim(job["device"], job["cache_dir"])
    os.chdir(job["work_dir"])
    from vbench2_beta_i2v import VBenchI2V

    bench = VBenchI2V(job["device"], job["full_info"], job["output_dir"])
    bench.evaluate(job["videos_path"], job["name"], evaluate_order(list(job["dimensions"])), local=True, resolution=job["resolution"])
    return 0


def evaluate_t2v(job_path: str) -> int:
    """Call vbench's own `VBench(device, full_info, output_dir).evaluate(videos_path, name,
    dimension_list=..., local=True, mode=...)` (text-to-video) with the same run-time fixes as `run`."""
    job = _reference_job(job_path)
    from vbench import VBench

    bench = VBench(job["device"], job["full_info"], job["output_dir"])
    bench.evaluate(job["videos_path"], job["name"], dimension_list=list(job["dimensions"]), local=True,
                   mode=job.get("mode", "vbench_standard"))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "evaluate":
        return evaluate(argv[1])
    if len(argv) == 2 and argv[0] == "evaluate-t2v":
        return evaluate_t2v(argv[1])
    if len(argv) >= 1 and argv[0] == "versions":
        print(json.dumps(versions()))
        return 0
    if len(argv) == 3 and argv[0] == "run":
        return run(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
