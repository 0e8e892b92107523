"""Seconds for `stepeval data validate` on the shared benchmark copy (target < 5 s).

    python benchmarks/data_validate.py [PATH] [--repeat 5]

Times the whole CLI process (imports included, as a user waits for it) and the library call alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from stepeval.benchmark import load_benchmark

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmark" / "Step-Video-TI2V-Eval"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cli, lib = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stepeval.cli.main", "data", "validate", args.path], check=True, capture_output=True)
        cli.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loaded = load_benchmark(args.path)
        lib.append(time.perf_counter() - t0)
    print(f"{len(loaded.items)} prompts, {sum(loaded.verified.values())} files verified")
    print(f"stepeval data validate (whole process): median {statistics.median(cli):.3f} s, max {max(cli):.3f} s over {args.repeat}")
    print(f"load_benchmark + verify (library):      median {statistics.median(lib):.3f} s")


if __name__ == "__main__":
    main()
