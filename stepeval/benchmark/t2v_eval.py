"""Step-Video-T2V-Eval: 128 text-to-video prompts in one upstream file.

    ROOT/Step-Video-T2V-Eval         UTF-8, one prompt a line, no newline after the last (upstream's
                                     `benchmark/Step-Video-T2V-Eval` of stepfun-ai/Step-Video-T2V)
    ROOT/categories-inferred.csv     optional: `line,category`, the label file read when none is given

Item ids are the 1-based line number, zero-padded (`001` ... `128`): they do not depend on any label
file, so a user's own labels regroup the same ids. An item's category is its `domain`, so
`--domain sports`, stratified samples and per-category breakdowns work as they do for the TI2V
benchmark's domains.

Upstream publishes no labels: its README names 11 categories and the lines are grouped in that
order. The label file stepeval ships (benchmark/Step-Video-T2V-Eval/categories-inferred.csv in the
repository) records where those groups were read to start and end; it is an inference, and any
label file of the same form replaces it (`labels=`, `stepeval data ... --labels FILE`).
The prompt file is verified against upstream's git blob id, which needs no network to trust.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from stepeval.benchmark.items import T2V, BenchmarkItem, LoadedBenchmark, Problem
from stepeval.benchmark.manifest import git_blob_id_of_file
from stepeval.benchmark.prompts import read_prompt
from stepeval.errors import UserError

NAME = "step-video-t2v-eval"
PROMPT_FILE = "Step-Video-T2V-Eval"
LABEL_FILE = "categories-inferred.csv"
# git blob id of the file at stepfun-ai/Step-Video-T2V commit 3e58c42e (last change, 2025-02-17)
UPSTREAM_GIT_BLOB = "c8383a969dc1928740dfceefdb25d67fd95d8a0e"
UPSTREAM = "stepfun-ai/Step-Video-T2V, file benchmark/Step-Video-T2V-Eval"
NUM_PROMPTS = 128
LABELS_ENV = "STEPEVAL_T2V_LABELS"


def item_id(line: int) -> str:
    return f"{line:03d}"


def looks_like_t2v_eval(root: Path) -> bool:
    root = Path(root)
    return (root / PROMPT_FILE).is_file() or (root.is_file() and root.name == PROMPT_FILE)


def shipped_labels() -> Path:
    """The inferred label file in the repository's benchmark/ folder (installed editable, as the
    README does), beside Step-Video-TI2V-Eval's manifest."""
    return Path(__file__).resolve().parents[2] / "benchmark" / "Step-Video-T2V-Eval" / LABEL_FILE


def default_labels(root: Path) -> Path | None:
    """The label file used when none is given: $STEPEVAL_T2V_LABELS, the one beside the prompt
    file, or the one stepeval ships; None when there is none."""
    if os.environ.get(LABELS_ENV):
        return Path(os.environ[LABELS_ENV])
    for candidate in (root / LABEL_FILE, shipped_labels()):
        if candidate.is_file():
            return candidate
    return None


def read_labels(path: Path) -> dict[int, str]:
    """line (1-based) -> category from a CSV with a header `line,category` (or `id,category`, the
    ids being the zero-padded line numbers). A malformed file is one UserError naming the file,
    the row and the fix; nothing is guessed."""
    fix = "write a CSV with the header `line,category` and one row per prompt line (1-based), as categories-inferred.csv does"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UserError("label file not found", path=path, hint="pass an existing label file, or leave --labels out to use the inferred one") from exc
    except UnicodeDecodeError as exc:
        raise UserError("label file is not valid UTF-8", path=path, hint="re-save it as UTF-8") from exc
    except OSError as exc:
        raise UserError(f"cannot read label file ({exc.strerror})", path=path, hint="check its permissions") from exc
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise UserError("label file is empty", path=path, hint=fix)
    header = [h.strip().lower() for h in rows[0]]
    key = next((k for k in ("line", "id") if k in header), None)
    if key is None or "category" not in header:
        raise UserError(f"label file has no `line` and `category` columns (header: {','.join(rows[0])})", path=path, hint=fix)
    at_key, at_cat = header.index(key), header.index("category")
    labels: dict[int, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(at_key, at_cat):
            raise UserError(f"row {n} has {len(row)} column(s), expected {len(header)}", path=path, hint=fix)
        raw_line, category = row[at_key].strip(), row[at_cat].strip()
        if not raw_line.isdigit() or int(raw_line) < 1:
            raise UserError(f"row {n}: {key} {raw_line!r} is not a line number (1, 2, ...)", path=path, hint=fix)
        if not category:
            raise UserError(f"row {n}: line {int(raw_line)} has an empty category", path=path, hint=fix)
        if int(raw_line) in labels:
            raise UserError(f"row {n}: line {int(raw_line)} is labelled twice", path=path, hint="give each line one category")
        labels[int(raw_line)] = category
    if not labels:
        raise UserError("label file has no rows", path=path, hint=fix)
    return labels


def _ranges(numbers: list[int]) -> str:
    """1,2,3,7 -> '1-3, 7' (the lines a message names)."""
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)


def read_prompts(path: Path) -> list[str]:
    """The file's prompts, one a line, each kept byte for byte (a CR of a CRLF copy dropped)."""
    text = read_prompt(path)  # UTF-8 or one clear error; a BOM dropped
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    if lines and lines[-1] == "":  # an editor's final newline is not a prompt
        lines.pop()
    return lines


def load_t2v_eval(
    root: str | Path,
    *,
    ids: set[str] | None = None,
    verify: bool = True,
    labels: str | Path | None = None,
) -> LoadedBenchmark:
    """Load (a copy of) Step-Video-T2V-Eval: text-only items, categories from a label file.

    root: the folder holding the prompt file (or the file itself).
    ids: restrict to these ids (`001` ... `128`). verify: compare the file with upstream's git blob id.
    labels: a label file; default `default_labels(root)`.
    """
    root = Path(root)
    if root.is_file() and root.name == PROMPT_FILE:
        root = root.parent
    prompt_file = root / PROMPT_FILE
    if not root.is_dir():
        raise UserError("benchmark folder not found", path=root, hint=f"pass the folder that holds the {PROMPT_FILE} file")
    if not prompt_file.is_file():
        raise UserError(
            f"not a Step-Video-T2V-Eval folder (no {PROMPT_FILE} file inside)",
            path=root,
            hint=f"point at the benchmark/ folder of a copy of {UPSTREAM.split(',')[0]}",
        )
    label_file = Path(labels) if labels is not None else default_labels(root)
    label_map = read_labels(label_file) if label_file is not None else {}

    problems: list[Problem] = []
    verified: dict[str, bool] = {}
    if verify:
        found = git_blob_id_of_file(prompt_file)
        verified[PROMPT_FILE] = found == UPSTREAM_GIT_BLOB
        if not verified[PROMPT_FILE]:
            problems.append(Problem(
                "checksum_mismatch", prompt_file,
                f"prompt file differs from upstream (git blob id {found}, expected {UPSTREAM_GIT_BLOB}); "
                f"fix: restore it byte for byte from {UPSTREAM} (commit 3e58c42e)",
            ))  # fmt: skip
    try:
        prompts = read_prompts(prompt_file)
    except UserError as exc:  # a damaged copy is reported with the rest, not raised
        problems.append(Problem.from_error("bad_prompt", exc))
        prompts = None
    if prompts is None:  # nothing to count or label: the file's own problem is the whole story
        wanted = [item_id(n) for n in range(1, NUM_PROMPTS + 1) if ids is None or item_id(n) in ids]
        return LoadedBenchmark(name=NAME, root=root, items=[], problems=problems, expected_ids=wanted, verified=verified, task=T2V, label_file=label_file)
    expected = [item_id(n) for n in range(1, max(len(prompts), NUM_PROMPTS) + 1)]
    if len(prompts) != NUM_PROMPTS:
        problems.append(Problem(
            "bad_prompt", prompt_file,
            f"{len(prompts)} prompt lines, upstream has {NUM_PROMPTS}; fix: restore the file from {UPSTREAM}",
        ))  # fmt: skip
    if label_file is not None:
        unlabelled = [n for n in range(1, len(prompts) + 1) if n not in label_map]
        beyond = sorted(n for n in label_map if n > len(prompts))
        if unlabelled:
            problems.append(Problem("bad_label", label_file, f"no category for line(s) {_ranges(unlabelled)} of {PROMPT_FILE}; fix: add a row for each"))
        if beyond:
            problems.append(Problem("bad_label", label_file, f"labels line(s) {_ranges(beyond)}, but {PROMPT_FILE} has {len(prompts)} lines; fix: remove those rows or use the matching prompt file"))
    if ids is not None:
        unknown = sorted(set(ids) - set(expected))
        if unknown:
            raise UserError(
                f"{len(unknown)} subset id(s) are not in Step-Video-T2V-Eval: {', '.join(unknown[:5])}",
                hint=f"ids are the prompt's line number, 001 to {expected[-1]}; see `stepeval data ids`",
            )
    items: list[BenchmarkItem] = []
    for n, prompt in enumerate(prompts, start=1):
        iid = item_id(n)
        if ids is not None and iid not in ids:
            continue
        if not prompt.strip():
            problems.append(Problem("bad_prompt", prompt_file, f"line {n} is empty; fix: restore the file from {UPSTREAM}", iid))
            continue
        items.append(BenchmarkItem(
            id=iid, prompt=prompt, image_path=None, benchmark=NAME, domain=label_map.get(n, ""),
            extra={"line": n}, task=T2V,
        ))  # fmt: skip
    return LoadedBenchmark(
        name=NAME,
        root=root,
        items=items,
        problems=problems,
        expected_ids=[i for i in expected if ids is None or i in ids],
        verified=verified,
        task=T2V,
        label_file=label_file,
    )
