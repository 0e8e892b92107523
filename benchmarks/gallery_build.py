"""Benchmark: the report gallery's media: build time with 1 and 2 worker processes, a rebuild with
nothing changed, the report folder's size, and Chromium's time from opening the gallery to the
first playing video.

The run: the static, camera and noise baselines at the Step-Video-TI2V size (544 x 992, 102 frames,
25 fps) on N Step-Video-TI2V-Eval items, made once by `stepeval generate` into --work and reused by
later invocations. Each build writes the HTML report with a fresh preview cache (`--media preview`);
the rebuild reuses the cache of the 2-worker build. The per-video cost is extrapolated linearly to
the full benchmark (298 items x 8 models); the estimate is printed as such.

    python benchmarks/gallery_build.py --items 8 [--work /tmp/gallery-bench] [--bench PATH] [--browser-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reports.build import ReportOptions, assemble_report, write_report  # noqa: E402
from reports.inputs import load_inputs  # noqa: E402

FULL_ITEMS, FULL_MODELS = 298, 8
SIZE = ["--set", "height=544", "--set", "width=992", "--set", "num_frames=102", "--set", "fps=25"]


def folder_size(path: Path, under: str = "") -> tuple[int, int]:
    files = [p for p in (path / under if under else path).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def make_run(bench: Path, work: Path, items: int) -> Path:
    run = work / "run"
    if (run / "generations.parquet").is_file():
        return run
    cmd = [sys.executable, "-m", "stepeval.cli.main", "generate", str(bench), "--model", "static", "--model", "camera",
           "--model", "noise", "--present-only", "--sample", str(items), "--seed", "0", *SIZE, "--run-dir", str(run)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO)
    print(f"generated the run in {time.perf_counter() - t0:.1f} s: {run}")
    return run


def build(report, out: Path, cache: Path, workers: int) -> dict:
    c0 = time.process_time()
    t0 = time.perf_counter()
    paths = write_report(report, out, ("html",), media="preview", media_workers=workers, media_cache=cache)
    return {"wall": time.perf_counter() - t0, "cpu_parent": time.process_time() - c0, **paths.media}


def first_playing(gallery: Path, runs: int) -> list[dict]:
    """Open the gallery from disk in a fresh Chromium each time; press Play on the first item as soon
    as the page is parsed; times are from the start of navigation (performance.now())."""
    from tests.browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    probe = """
      window.__t = {};
      document.addEventListener('playing', () => { if (!window.__t.playing) window.__t.playing = performance.now(); }, true);
      document.addEventListener('DOMContentLoaded', () => {
        window.__t.dom = performance.now();
        const b = document.querySelector('article.g-item .g-play');
        if (b) { window.__t.click = performance.now(); b.click(); }
      });
    """
    out = []
    with sync_playwright() as p:
        for _ in range(runs):
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.add_init_script(probe)
                page.goto(gallery.as_uri())
                page.wait_for_function("() => window.__t && window.__t.playing", timeout=60000)
                t = page.evaluate("() => window.__t")
                t["videos_on_page"] = page.evaluate("() => document.querySelectorAll('video').length")
                t["videos_loading"] = page.evaluate("() => Array.from(document.querySelectorAll('video')).filter(v => v.getAttribute('src')).length")
                out.append(t)
            finally:
                browser.close()
    return out


def full_size_page(work: Path, runs: int) -> None:
    """The page's own cost at full size: a synthetic run of 298 items x 8 models with every pair
    judged by 3 annotators and 10 metrics per video (reports.testing, no video files), gallery
    built with --media none; Chromium's time to parse the page (data included) and draw page 1."""
    from reports import build_report
    from reports.testing import make_run as synthetic_run, step_eval_items
    from tests.browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    models = ["stepvideo-ti2v@motion_score=2", "stepvideo-ti2v@motion_score=5", "stepvideo-ti2v@motion_score=10",
              "stepvideo-ti2v@motion_score=20", "cogvideox-i2v", "wan-i2v@steps=40", "camera@speed=2", "static"]
    root = work / "synthetic-full"
    if not (root / "judgments.jsonl").is_file():
        shutil.rmtree(root, ignore_errors=True)
        synthetic_run(root, models, items=step_eval_items(), annotators=3)
    t0 = time.perf_counter()
    paths = build_report(root, work / "synthetic-full-report", annotations=root / "judgments.jsonl", bootstrap=0,
                         formats=["html"], media="none")
    print(f"full-size synthetic report (298 x 8, 75k judgments), --media none, bootstrap 0: {time.perf_counter() - t0:.1f} s; "
          f"gallery.html {paths.gallery.stat().st_size / 2**20:.2f} MiB")
    with sync_playwright() as p:
        for _ in range(runs):
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(paths.gallery.as_uri())
                t = page.evaluate("""() => ({dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
                                             cards: document.querySelectorAll('article.g-item').length,
                                             players: document.querySelectorAll('.g-video').length})""")
                print(f"chromium, full-size gallery page: drawn {t['dom']:.0f} ms after opening ({t['cards']} items, "
                      f"{t['players']} players on page 1)")
            finally:
                browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--work", type=Path, default=Path("/tmp/gallery-bench"))
    ap.add_argument("--bench", type=Path, default=REPO.parent / "shared" / "benchmark" / "Step-Video-TI2V-Eval")
    ap.add_argument("--browser-runs", type=int, default=3)
    ap.add_argument("--full-size-page", action="store_true", help="Only time the full-size page (synthetic data, no video).")
    args = ap.parse_args()
    if args.full_size_page:
        args.work.mkdir(parents=True, exist_ok=True)
        full_size_page(args.work, max(1, args.browser_runs))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    run = make_run(args.bench, args.work, args.items)
    t0 = time.perf_counter()
    inputs = load_inputs(run)
    report = assemble_report(inputs, ReportOptions(n_bootstrap=0))
    print(f"read + assemble (no media): {time.perf_counter() - t0:.2f} s")
    videos = [p for p in (run / "videos").rglob("*.mp4")]
    n_videos = len(videos)
    source_bytes = sum(p.stat().st_size for p in videos)
    print(f"{n_videos} source videos ({len(inputs.models)} models x {len(inputs.items)} items), "
          f"{source_bytes / 2**20:.1f} MiB")

    results = {}
    for workers in (1, 2):
        cache = args.work / f"cache-{workers}"
        shutil.rmtree(cache, ignore_errors=True)
        out = args.work / f"report-{workers}"
        results[workers] = build(report, out, cache, workers)
        r = results[workers]
        print(f"workers={workers}: {r['wall']:.1f} s wall ({r['wall'] / n_videos:.2f} s/video), "
              f"{r['encoded']} media made, {r['cached']} cached")
    again = build(report, args.work / "report-2", args.work / "cache-2", 2)
    print(f"rebuild, nothing changed: {again['wall']:.2f} s wall, {again['encoded']} media made, {again['cached']} cached")
    t0 = time.perf_counter()
    write_report(report, args.work / "report-none", ("html",), media="none", media_cache=args.work / "cache-2")
    print(f"same report, --media none (thumbnails from the cache): {time.perf_counter() - t0:.2f} s")

    files, total = folder_size(args.work / "report-2")
    mfiles, mbytes = folder_size(args.work / "report-2", "media")
    print(f"report folder: {files} files, {total / 2**20:.1f} MiB (media {mfiles} files, {mbytes / 2**20:.1f} MiB; "
          f"{mbytes / max(n_videos, 1) / 1024:.0f} KiB per video with its poster; sources {source_bytes / 2**20:.1f} MiB)")

    full = FULL_ITEMS * FULL_MODELS
    per_video = {w: results[w]["wall"] / n_videos for w in (1, 2)}
    print(f"extrapolated to {FULL_ITEMS} x {FULL_MODELS} = {full} videos (linear in videos; measured on {n_videos}): "
          f"1 worker {per_video[1] * full / 60:.1f} min, 2 workers {per_video[2] * full / 60:.1f} min, "
          f"folder ~{(mbytes / n_videos) * full / 2**30:.2f} GiB")

    if args.browser_runs:
        timings = first_playing(args.work / "report-2" / "gallery.html", args.browser_runs)
        for t in timings:
            print("chromium, file://: " + ", ".join(f"{k} {v:.0f} ms" if isinstance(v, float) else f"{k} {v}" for k, v in t.items()))
        print(f"median: parsed {statistics.median(t['dom'] for t in timings):.0f} ms, first video playing "
              f"{statistics.median(t['playing'] for t in timings):.0f} ms after opening")
    (args.work / "results.json").write_text(json.dumps({"videos": n_videos, "builds": results, "rebuild": again,
                                                        "folder_bytes": total, "media_bytes": mbytes}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
