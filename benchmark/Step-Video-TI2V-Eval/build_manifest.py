"""Regenerate manifest.csv from the full checksum list (kept outside the project).

    python benchmark/Step-Video-TI2V-Eval/build_manifest.py ../shared/benchmark/step-video-ti2v-eval-manifest.csv

The project keeps ids, layout and upstream git blob ids only: no prompts, no images (those stay
with the data, wherever the user keeps it).
"""

import csv
import sys
from pathlib import Path

COLUMNS = ["id", "domain", "aspect", "number", "folder", "txt_git_blob", "png_git_blob"]


def main(source: str) -> None:
    with open(source, encoding="utf-8", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["id"])
    out = Path(__file__).with_name("manifest.csv")
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r[k] for k in COLUMNS})
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
