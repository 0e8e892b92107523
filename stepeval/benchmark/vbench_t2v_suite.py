"""VBench's standard text-to-video prompt suite, read from VBench's own `VBench_full_info.json`.

The file ships inside the vbench package (`vbench/VBench_full_info.json`), so the VBench environment
`stepeval vbench setup` creates holds it; a copy from the VBench repository works the same. A path
may name the file itself, a folder holding it (the vbench package, a copy), a VBench checkout
(`vbench/VBench_full_info.json`), or a VBench environment (its site-packages' vbench).

Each entry is `{"prompt_en", "dimension": [...], "auxiliary_info"?: {dimension: {...}}}`. The entries
come in eleven blocks, one per file of VBench's `prompts/prompts_per_dimension/`, named after the
entry's first dimension (`subject_consistency` prompts are also scored on dynamic_degree and
motion_smoothness, `scene` on background_consistency, `overall_consistency` on aesthetic_quality and
imaging_quality). That first dimension is the item's `domain`, so `--domain color` is the color
prompts, and stratified samples keep the blocks' mix.

Ids: `<first dimension>/<n>`, n (three digits, from 001) the entry's position in its block, which is
its line in VBench's `prompts_per_dimension/<first dimension>.txt`. They depend on nothing else.

One prompt, one item: VBench names a prompt's videos `<prompt>-<k>.mp4`, so an entry that repeats an
earlier prompt (vbench 0.1.5 lists two appearance_style prompts again under overall_consistency)
scores the same videos; it is merged into the first, whose `extra["dimensions"]` and
`extra["auxiliary_info"]` then hold both entries', and its own id is recorded in
`extra["merged_ids"]` (it is no item of its own).

Samples: VBench's protocol is five videos per prompt (`<prompt>-0.mp4` ... `-4.mp4`); in stepeval that
is `num_samples: 5` (`stepeval generate ... --num-samples 5`). The vbench_t2v metric notes a run
with another number as a departure from the protocol.
"""

from __future__ import annotations

from pathlib import Path

from stepeval.benchmark.items import T2V, BenchmarkItem, LoadedBenchmark, Problem
from stepeval.benchmark.manifest import git_blob_id_of_file
from stepeval.benchmark.vbench_suite import read_json_list
from stepeval.errors import UserError

NAME = "vbench-t2v"
FULL_INFO_FILE = "VBench_full_info.json"
PACKAGE_DIR = "vbench"
# git blob id of VBench_full_info.json as the vbench==0.1.5 wheel ships it (946 entries, 944 prompts);
# the pin of the VBench environment, so a copy that differs is not the suite the scores refer to.
VBENCH_VERSION = "0.1.5"
UPSTREAM_GIT_BLOB = "a3a4f0968c1a15f19518903b98d7cca9ef9cbe5a"
NUM_PROMPTS = 944
SAMPLES_PER_PROMPT = 5  # VBench's evaluator reads <prompt>-0.mp4 ... <prompt>-4.mp4
SETUP_HINT = (
    "create the VBench environment with `stepeval vbench setup` and pass its folder (default ~/.cache/stepeval/vbench-env), "
    f"or pass a copy of {FULL_INFO_FILE} (vbench/ folder of github.com/Vchitect/VBench)"
)


def item_id(first_dimension: str, n: int) -> str:
    return f"{first_dimension}/{n:03d}"


# Where the full info is looked for under a folder, in order: a copy or the vbench package itself, a
# VBench checkout, a virtual environment (its Python version is its own, hence the pattern).
PLACES = (FULL_INFO_FILE, f"{PACKAGE_DIR}/{FULL_INFO_FILE}", f"lib/python3*/site-packages/{PACKAGE_DIR}/{FULL_INFO_FILE}")


def find_full_info(path: Path) -> Path | None:
    path = Path(path)
    if path.is_file():
        return path
    for place in PLACES:
        found = sorted(path.glob(place)) if "*" in place else [path / place]
        hit = next((p for p in found if p.is_file()), None)
        if hit is not None:
            return hit
    return None


def _is_t2v_full_info(file: Path) -> bool:
    """A JSON list whose first entry has a prompt and dimensions and no image (VBench-I2V's has one)."""
    try:
        with open(file, encoding="utf-8") as f:
            head = f.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return head.lstrip().startswith("[") and '"prompt_en"' in head and '"dimension"' in head and '"image_name"' not in head


def looks_like_vbench_t2v(path: Path) -> bool:
    path = Path(path)
    if path.is_file():
        return path.suffix == ".json" and _is_t2v_full_info(path)
    found = find_full_info(path)
    return found is not None and _is_t2v_full_info(found)


def installed_full_info(env_path: Path | None = None) -> Path:
    """The full info of the VBench environment (default: `stepeval vbench setup`'s), or a UserError
    naming where it was looked for and the fix."""
    from stepeval.metrics.vbench_env import default_env_path  # the environment's one owner

    env = Path(env_path or default_env_path()).expanduser()
    found = find_full_info(env)
    if found is None:
        raise _not_found(env)
    return found


def _not_found(path: Path) -> UserError:
    looked = ", ".join(str(path / place) for place in PLACES)
    return UserError(f"VBench's standard prompt suite ({FULL_INFO_FILE}) is not here (looked for {looked})", path=path, hint=SETUP_HINT)


def _entry(e: object) -> tuple[str, list[str], dict] | None:
    """(prompt, dimensions, auxiliary info) of a well-formed entry, else None."""
    if not isinstance(e, dict):
        return None
    prompt, dims, aux = e.get("prompt_en"), e.get("dimension"), e.get("auxiliary_info") or {}
    dims = [dims] if isinstance(dims, str) else dims
    if not (isinstance(prompt, str) and prompt.strip() and isinstance(dims, list) and dims and all(isinstance(d, str) and d for d in dims)):
        return None
    return prompt, list(dims), aux if isinstance(aux, dict) else {}


def load_vbench_t2v_suite(path: str | Path, *, ids: set[str] | None = None, verify: bool = True) -> LoadedBenchmark:
    """Load VBench's standard T2V prompt suite from `path` (see the module doc for what it may name).

    ids: restrict to these ids. verify: compare the file with vbench 0.1.5's copy (git blob id).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError("benchmark path not found", path=path, hint=SETUP_HINT)
    file = find_full_info(path)
    if file is None:
        raise _not_found(path)
    root = file.parent
    problems: list[Problem] = []
    verified: dict[str, bool] = {}
    if verify:
        found = git_blob_id_of_file(file)
        verified[FULL_INFO_FILE] = found == UPSTREAM_GIT_BLOB
        if not verified[FULL_INFO_FILE]:
            problems.append(Problem(
                "checksum_mismatch", file,
                f"differs from the copy vbench=={VBENCH_VERSION} ships (git blob id {found}, expected {UPSTREAM_GIT_BLOB}): "
                f"scores on it are not on VBench's standard suite; fix: use the file of the VBench environment (`stepeval vbench setup`)",
            ))  # fmt: skip
    items: list[BenchmarkItem] = []
    by_prompt: dict[str, int] = {}  # prompt -> index in items
    expected: list[str] = []
    block_sizes: dict[str, int] = {}
    for n, raw in enumerate(read_json_list(file, "prompt entries (VBench's full-info format)", restore=f"restore the file; {SETUP_HINT}")):
        parsed = _entry(raw)
        if parsed is None:
            problems.append(Problem("bad_prompt", file, f"entry {n} has no prompt_en or no dimension list (ignored); fix: restore the file"))
            continue
        prompt, dims, aux = parsed
        first = dims[0]
        block_sizes[first] = block_sizes.get(first, 0) + 1
        iid = item_id(first, block_sizes[first])
        if prompt in by_prompt:  # the same videos serve both entries: one item, both entries' dimensions
            k = by_prompt[prompt]
            old = items[k]
            merged = {
                **old.extra,
                "dimensions": list(dict.fromkeys([*old.extra["dimensions"], *dims])),
                "auxiliary_info": {**aux, **old.extra["auxiliary_info"]},
                "merged_ids": [*old.extra.get("merged_ids", []), iid],
            }
            items[k] = BenchmarkItem(id=old.id, prompt=old.prompt, image_path=None, benchmark=NAME, domain=old.domain, extra=merged, task=T2V)
            continue
        expected.append(iid)
        by_prompt[prompt] = len(items)
        items.append(BenchmarkItem(
            id=iid, prompt=prompt, image_path=None, benchmark=NAME, domain=first,
            extra={"dimensions": dims, "auxiliary_info": aux, "entry": n}, task=T2V,
        ))  # fmt: skip
    if not items:
        raise UserError(f"no usable prompt entry in {file.name}", path=file, hint=SETUP_HINT)
    if ids is not None:
        unknown = sorted(set(ids) - set(expected))
        if unknown:
            merged = {m: it.id for it in items for m in it.extra.get("merged_ids", [])}
            said = [f"{u} (the same prompt as {merged[u]})" if u in merged else u for u in unknown[:5]]
            raise UserError(f"{len(unknown)} subset id(s) are not in VBench's standard suite: {', '.join(said)}",
                            path=file, hint="ids are <first dimension>/<line> (e.g. color/001); see `stepeval data ids`")
        items = [it for it in items if it.id in ids]
        expected = [i for i in expected if i in ids]
    # the categories (each prompt's first dimension) come from the suite file itself
    return LoadedBenchmark(name=NAME, root=root, items=items, problems=problems, expected_ids=expected, verified=verified, task=T2V,
                           label_file=file)


def scored_dimensions(item: BenchmarkItem) -> tuple[str, ...] | None:
    """The dimensions VBench scores an item's videos on; None for an item of another benchmark."""
    if item.benchmark != NAME:
        return None
    return tuple(item.extra.get("dimensions") or ())


def ids_for_dimensions(items: list[BenchmarkItem], dimensions: set[str] | list[str] | tuple[str, ...]) -> list[str]:
    """The ids of the suite's items VBench scores on any of `dimensions` (a dimension served by
    another block's prompts, e.g. aesthetic_quality, is not one `--domain`)."""
    wanted = set(dimensions)
    return [it.id for it in items if wanted & set(scored_dimensions(it) or ())]
