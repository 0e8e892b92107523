"""Every command shown in the README's tour is run by a test.

The tour's ```bash blocks are parsed into commands: the command path (`data info`, `generate import`,
the module a `torchrun -m` line starts), the launcher (torchrun or not) and the long options the line
shows (options in `[...]` are optional). Then the tests/ tree is read with Python's tokenizer, and a
tour command counts as run when some test invokes the same command path with every one of those
options written in the same call:

- `main([...])`, `cli([...])`, `run_cli(...)`, `stepeval(...)` (the in-process entry point and the
  subprocess helpers of tests/), or
- a list that runs `stepeval`, `-m stepeval.cli.main` or `-m MODULE` (subprocess / torchrun argv).

A tour line that no test runs fails this test with the list of such lines, so a command added to the
README needs a test that runs it (tests/test_readme_commands.py has the ones no room owns).
"""

from __future__ import annotations

import ast
import io
import re
import shlex
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
RUNNERS = {"main", "cli", "run_cli", "stepeval"}
LAUNCHER_LITERALS = {"torchrun", "torch.distributed.run"}
STEPEVAL_MODULE = "stepeval.cli.main"


@dataclass(frozen=True)
class TourCommand:
    line: str
    module: str  # stepeval.cli.main for `stepeval ...`
    path: tuple[str, ...]
    options: frozenset[str]
    torchrun: bool


@dataclass(frozen=True)
class Invocation:
    file: str
    lineno: int
    module: str
    argv: tuple[str | None, ...]  # literal strings; None where the element is an expression
    options: frozenset[str]
    torchrun: bool


# -- the README ----------------------------------------------------------------------------------------


def tour_lines(readme: str) -> list[str]:
    """The command lines of the tour's bash blocks (continuations joined, comments dropped)."""
    start = readme.index("## A short tour")
    end = min((i for i in (readme.find("\n## ", start + 1), readme.find("\n### ", start + 1)) if i != -1), default=len(readme))
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", readme[start:end], flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def command_tree():
    import typer

    from stepeval.cli.main import _load_plugins, app

    _load_plugins()
    return typer.main.get_command(app)


def _subcommands(tree, path: tuple[str, ...]) -> dict:
    node = tree
    for part in path:
        node = node.commands[part]
    return getattr(node, "commands", None) or {}


def parse_command(line: str, tree) -> TourCommand:
    text = re.sub(r"\[[^\]]*\]", " ", line)  # optional parts
    tokens = shlex.split(text, comments=True)
    if ">" in tokens:
        tokens = tokens[: tokens.index(">")]
    torchrun = tokens[0] == "torchrun"
    if torchrun:
        module = tokens[tokens.index("-m") + 1]
        rest = tokens[tokens.index("-m") + 2:]
    else:
        assert tokens[0] == "stepeval", line
        module, rest = STEPEVAL_MODULE, tokens[1:]
    path: tuple[str, ...] = ()
    if module == STEPEVAL_MODULE:
        while rest and rest[0] in _subcommands(tree, path):
            path, rest = (*path, rest[0]), rest[1:]
    options = frozenset(t.split("=", 1)[0] for t in rest if t.startswith("--"))
    return TourCommand(line, module, path, options, torchrun)


# -- the tests ------------------------------------------------------------------------------------------


def _literal(tok: tokenize.TokenInfo) -> str | None:
    if tok.type != tokenize.STRING or re.match(r"^[rRbBuU]*[fF]", tok.string):
        return None
    value = ast.literal_eval(tok.string)
    return value if isinstance(value, str) else None


_OPTION_IN_STRING = re.compile(r"^[rRbBuUfF]*(?:'''|\"\"\"|'|\")(--[A-Za-z0-9][A-Za-z0-9-]*)")
_OPTION_IN_MIDDLE = re.compile(r"^(--[A-Za-z0-9][A-Za-z0-9-]*)")


def _options(toks: list[tokenize.TokenInfo]) -> frozenset[str]:
    out = set()
    for t in toks:
        m = _OPTION_IN_STRING.match(t.string) if t.type == tokenize.STRING else None
        if m is None and tokenize.tok_name.get(t.type) == "FSTRING_MIDDLE":  # Python 3.12+
            m = _OPTION_IN_MIDDLE.match(t.string)
        if m:
            out.add(m.group(1))
    return frozenset(out)


def _elements(toks: list[tokenize.TokenInfo], open_i: int, close_i: int) -> list[list[tokenize.TokenInfo]]:
    """The top-level comma-separated elements between a bracket pair."""
    elements, current, depth = [], [], 0
    for t in toks[open_i + 1: close_i]:
        if t.type == tokenize.OP and t.string in "([{":
            depth += 1
        elif t.type == tokenize.OP and t.string in ")]}":
            depth -= 1
        if depth == 0 and t.type == tokenize.OP and t.string == ",":
            elements.append(current)
            current = []
        else:
            current.append(t)
    if current:
        elements.append(current)
    return elements


def invocations(path: Path) -> list[Invocation]:
    source = path.read_text(encoding="utf-8")
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    toks = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    pairs, stack = {}, []
    for i, t in enumerate(toks):
        if t.type == tokenize.OP and t.string in "([{":
            stack.append(i)
        elif t.type == tokenize.OP and t.string in ")]}" and stack:
            pairs[stack.pop()] = i
    found = []
    for open_i, close_i in pairs.items():
        if toks[open_i].string not in "([":
            continue
        elements = _elements(toks, open_i, close_i)
        values = [(_literal(e[0]) if len(e) == 1 else None) for e in elements]
        body = toks[open_i: close_i + 1]
        torchrun = any(v in LAUNCHER_LITERALS for v in values)
        module, argv = None, None
        if "-m" in values and values.index("-m") + 1 < len(values) and values[values.index("-m") + 1]:
            k = values.index("-m")
            if torchrun and values.count("-m") > 1:  # torch.distributed.run ... -m MODULE
                k = len(values) - 1 - values[::-1].index("-m")
            module, argv = values[k + 1], values[k + 2:]
        elif values and values[0] == "stepeval":
            module, argv = STEPEVAL_MODULE, values[1:]
        else:
            callee = toks[open_i - 1] if open_i else None
            if toks[open_i].string == "[" and callee is not None and callee.string == "(" and open_i >= 2:
                callee = toks[open_i - 2]  # main([...])
            if callee is not None and callee.type == tokenize.NAME and callee.string in RUNNERS:
                module, argv = STEPEVAL_MODULE, values
        if module is None:
            continue
        while argv and argv[0] in ("--verbose", "-v"):
            argv = argv[1:]
        found.append(Invocation(path.relative_to(REPO).as_posix(), toks[open_i].start[0], module, tuple(argv), _options(body), torchrun))
    return found


def runs(cmd: TourCommand, inv: Invocation, tree) -> bool:
    if inv.module != cmd.module or inv.torchrun != cmd.torchrun or not cmd.options <= inv.options:
        return False
    if cmd.module != STEPEVAL_MODULE:
        return True
    if not cmd.path:  # `stepeval --help`
        return bool(inv.argv) and inv.argv[0] in cmd.options
    n = len(cmd.path)
    if tuple(inv.argv[:n]) != cmd.path:
        return False
    following = inv.argv[n] if len(inv.argv) > n else None
    return following not in _subcommands(tree, cmd.path)  # `generate import` is not `generate PATH`


# -- the checks -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree():
    return command_tree()


@pytest.fixture(scope="module")
def tour(tree) -> list[TourCommand]:
    return [parse_command(line, tree) for line in tour_lines((REPO / "README.md").read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def all_invocations() -> list[Invocation]:
    out = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name != Path(__file__).name:
            out.extend(invocations(path))
    return out


def test_the_tour_is_parsed_into_the_commands_it_shows(tour):
    by_line = {c.line.split("#")[0].strip(): c for c in tour}
    assert len(tour) >= 25
    info = next(c for c in tour if c.line.startswith("stepeval data info"))
    assert info.path == ("data", "info") and not info.options and not info.torchrun
    gen = next(c for c in tour if c.line.startswith("stepeval generate PATH --model static"))
    assert gen.path == ("generate",) and gen.options == {"--model", "--sample", "--name"}
    imp = next(c for c in tour if c.line.startswith("stepeval generate import"))
    assert imp.path == ("generate", "import") and imp.options == {"--engine", "--mapping"}
    par = next(c for c in tour if "parallel_run" in c.line)
    assert par.torchrun and par.module == "generators.stepvideo.parallel_run"
    assert par.options == {"--model-dir", "--image", "--prompt", "--sp-degree", "--cfg-degree", "--out"}
    shard = next(c for c in tour if c.torchrun and c.module == STEPEVAL_MODULE)
    assert shard.path == ("generate",) and shard.options == {"--config"}
    score = next(c for c in tour if c.path == ("score",) and "--metrics" in c.options)
    assert "--device" not in score.options  # shown in [...]: optional
    ids = next(c for c in tour if c.path == ("data", "ids"))
    assert ids.options == {"--sample", "--seed"}  # `> ci-ids.txt` is the shell's
    assert by_line["stepeval --help"].path == () and by_line["stepeval --help"].options == {"--help"}


def test_the_scanner_sees_the_invocation_forms_tests_use(tree):
    src = '''
main(["generate", "import", str(b), "--engine", "x"])
run_cli("--verbose", "data", "info", str(p))
subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "stepeval.cli.main",
                "generate", "--config", str(c)])
cmd = [sys.executable, "-m", "generators.stepvideo.parallel_run", f"--sp-degree={sp}", "--out", str(o)]
Path("run")
'''
    path = TESTS / "__scanner_probe__.py"
    try:
        path.write_text(src, encoding="utf-8")
        found = invocations(path)
    finally:
        path.unlink()
    argvs = {inv.argv[:2] for inv in found}
    assert ("generate", "import") in argvs and ("data", "info") in argvs
    tr = next(i for i in found if i.torchrun)
    assert tr.module == STEPEVAL_MODULE and tr.argv[0] == "generate" and "--config" in tr.options
    par = next(i for i in found if i.module == "generators.stepvideo.parallel_run")
    assert not par.torchrun and par.options == {"--sp-degree", "--out"}
    assert not any(i.argv[:1] == ("run",) for i in found)  # Path("run") is no command
    gen = parse_command("stepeval generate PATH --model static", tree)
    assert not any(runs(gen, i, tree) for i in found)  # `generate import` does not run `generate PATH`


def test_every_tour_command_is_run_by_a_test(tour, all_invocations, tree):
    unrun = [c.line for c in tour if not any(runs(c, inv, tree) for inv in all_invocations)]
    assert not unrun, "README tour commands no test runs (with the options shown):\n  " + "\n  ".join(unrun)
