"""Benchmark: build time and output size of `stepeval report` on a synthetic run.

The run: 8 model tags x 298 items (Step-Video-TI2V-Eval's ids), every pair of models judged
(28 comparisons) by 3 annotators on the 3 dimensions (75,096 judgments, plus gold items), and the
9 VBench-I2V dimensions plus the motion score per video; 2000 bootstrap resamples. Target: < 10 s.

    python benchmarks/report_build.py [--repeat 3] [--bootstrap 2000] [--models 8] [--items 298]

Prints one line per repetition and a summary (median), with the stage split (read inputs,
assemble the tables, write the files), wall and process CPU time (CPU time is the fairer number
on a machine shared with other work), and the same build with --bootstrap 0 as the reference
point for what the statistics cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from reports.build import ReportOptions, assemble_report, write_report
from reports.inputs import load_inputs
from reports.testing import make_run, step_eval_items

MODELS = [
    "stepvideo-ti2v@motion_score=2", "stepvideo-ti2v@motion_score=5", "stepvideo-ti2v@motion_score=10",
    "stepvideo-ti2v@motion_score=20", "cogvideox-i2v", "wan-i2v@steps=40", "camera@speed=2", "static",
]


def folder_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def build_once(run_dir: Path, out: Path, bootstrap: int, seed: int) -> dict:
    c0 = time.process_time()
    t0 = time.perf_counter()
    inputs = load_inputs(run_dir, annotations=run_dir / "judgments.jsonl")
    t1 = time.perf_counter()
    report = assemble_report(inputs, ReportOptions(n_bootstrap=bootstrap, seed=seed))
    t2 = time.perf_counter()
    write_report(report, out)
    t3 = time.perf_counter()
    return {"read": t1 - t0, "assemble": t2 - t1, "write": t3 - t2, "total": t3 - t0, "cpu": time.process_time() - c0,
            "judgments": len(inputs.judgments), "pages": len(report.pages)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--items", type=int, default=298)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    models = MODELS[: args.models]
    with tempfile.TemporaryDirectory(prefix="stepeval-report-bench-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        make_run(tmp / "bench-run", models, items=step_eval_items(args.items), annotators=3, seed=args.seed)
        print(f"synthetic run written in {time.perf_counter() - t:.1f} s ({len(models)} models, {args.items} items)")
        results = []
        for r in range(args.repeat):
            res = build_once(tmp / "bench-run", tmp / "report", args.bootstrap, args.seed)
            results.append(res)
            print(f"run {r + 1}: total {res['total']:.2f} s wall, {res['cpu']:.2f} s CPU (read {res['read']:.2f}, assemble {res['assemble']:.2f}, "
                  f"write {res['write']:.2f}); {res['judgments']} judgments, {res['pages']} pages")
        files, size = folder_size(tmp / "report")
        html = sum(p.stat().st_size for p in (tmp / "report").rglob("*.html"))
        ref = build_once(tmp / "bench-run", tmp / "report-nobootstrap", 0, args.seed)
        med = statistics.median(r["total"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        print(f"median total: {med:.2f} s wall, {cpu:.2f} s CPU with --bootstrap {args.bootstrap} (target < 10 s); "
              f"reference --bootstrap 0: {ref['total']:.2f} s wall, {ref['cpu']:.2f} s CPU")
        print(f"output: {files} files, {size / 1e6:.1f} MB ({html / 1e6:.1f} MB of HTML)")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
