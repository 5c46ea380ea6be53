"""The docs say what is true: every link resolves and every snippet runs.

The files: README.md, docs/*.md and bench/README.md. Conventions for writing them:

Links
    Every relative link target (``[text](path)``, ``![alt](path)``, ``[ref]: path``) exists,
    relative to the file, inside the repository. A ``#anchor`` into a Markdown file must be one
    of its headings, as GitHub spells them (lower case, punctuation dropped, spaces to hyphens,
    ``-1``, ``-2`` … for repeats). Absolute URLs are not fetched. README.md links every other
    file, and its folder tree (the ``text`` block whose first line is ``bnnc/``) lists exactly the
    packages and public modules at the top of bnnc/.

Blocks, by the language after the opening fence
    ``python``: runs. The blocks of one file run in order, in one namespace.
    ``bnn``: must parse (bnnc's text language).
    ``console``: the lines that start with ``$ `` are commands; the other lines are output for
    the reader, not compared.
    ``sh``, ``bash``, ``shell``: every line is a command (``#`` comment lines are skipped).
    ``text``, no language, anything else: not run.
    A line ending in ``\\`` continues on the next one.

Commands
    ``bnnc …`` or ``python …`` (also ``python3``, ``.venv/bin/python``, ``.venv/bin/bnnc``),
    run with this interpreter (``bnnc`` as ``python -m bnnc``), with bnnc from this checkout;
    leading ``NAME=value`` words set environment variables, and ``a && b`` runs b when a exits
    with 0. Pipes, redirections and other programs are refused: mark such a block no-test.
    A command must exit with 0, or with N when its line ends in the comment ``# exit N``
    (``bnnc MODEL --check-sat`` exits with 10 on SAT, 20 on UNSAT).

Where
    Each file runs in a fresh temporary folder that holds copies of examples/, bench/ and
    tests/fixtures/, beside a link named ``shared`` to the repository's ``../shared`` (when there
    is one), so ``../shared/…`` and the training data's default location work as in a checkout.
    The blocks of one file build on each other: a file written by one is there for the next.

Markers: HTML comments on the lines just before a block (blank lines may separate them)
    ``<!-- no-test: REASON -->``: not run. The reason is required (it takes minutes, it needs
    files nobody has, it rewrites the repository…); use it sparingly.
    ``<!-- needs-shared[: REASON] -->``: skipped when ``../shared`` is absent; implied by a command
    that names ``../shared``. A block that uses what such a block wrote needs the marker too.
    ``<!-- ci: REASON -->``: a quick-start command, set-up included, that .ci/run runs verbatim:
    not run here, but each of its lines must be in .ci/run. Every other block that sets up an
    environment (``python3 -m venv``, ``pip install``) must be marked no-test.
    Any other one-line ``<!-- name… -->`` comment is an error: a misspelt marker would
    otherwise go unnoticed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bnnc.frontend.text import parse_text

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
# What a document's commands may read: copied, so that a command writing beside its input
# (e.g. a script's default output folder) never touches the checkout.
COPIED = ["examples", "bench", "tests/fixtures"]
# Generous: the slowest command the docs run takes about 10 s alone, more on a busy machine.
COMMAND_TIMEOUT = 300

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*([\w-]+)\s*(?::\s*(.*?))?\s*-->\s*$")
MARKERS = {"no-test", "needs-shared", "ci"}
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
EXIT_COMMENT = re.compile(r"#\s*exit\s+(\d+)\s*$")
SETUP = re.compile(r"(^|[\s/])(pip3?|python3?(\.\d+)?\s+-m\s+(venv|pip))\b")
PYTHON = re.compile(r"^python3?(\.\d+)?$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Document:
    path: Path
    blocks: list[Block]
    headings: list[str]  # heading texts, in order
    links: list[tuple[int, str]]  # (line, target)


def parse(path: Path) -> Document:
    """Blocks with their markers, headings and link targets (outside code) of one Markdown file."""
    blocks: list[Block] = []
    headings: list[str] = []
    links: list[tuple[int, str]] = []
    pending: dict[str, str] = {}
    pending_line = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            token, lang = fence.group(1), fence.group(2).lower()
            body: list[str] = []
            i += 1
            while i < len(lines) and not (
                lines[i].strip().startswith(token) and set(lines[i].strip()) == {token[0]}
            ):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise AssertionError(f"{path.name}:{i}: a code block is never closed")
            start = i - len(body)
            blocks.append(Block(path, start, lang, "\n".join(body) + "\n", pending))
            pending = {}
            i += 1
            continue
        marker = MARKER.match(line)
        if marker:
            name, reason = marker.group(1), marker.group(2) or ""
            if name not in MARKERS:  # a typo would silently run (or skip) a block
                raise AssertionError(f"{path.name}:{i + 1}: unknown marker {name!r}")
            if name in ("no-test", "ci") and not reason:
                raise AssertionError(f"{path.name}:{i + 1}: <!-- {name}: … --> needs a reason")
            pending[name] = reason
            pending_line = i + 1
        elif line.strip() and pending:
            raise AssertionError(f"{path.name}:{pending_line}: a marker not followed by a block")
        heading = HEADING.match(line)
        if heading:
            headings.append(heading.group(2))
        prose = CODE_SPAN.sub("", line)
        links += [(i + 1, m.group(1)) for m in INLINE_LINK.finditer(prose)]
        reference = REFERENCE_LINK.match(prose)
        if reference:
            links.append((i + 1, reference.group(1)))
        i += 1
    if pending:
        raise AssertionError(f"{path.name}:{pending_line}: a marker not followed by a block")
    return Document(path, blocks, headings, links)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"(`+)(.+?)\1", r"\2", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(document: Document) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in document.headings:
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_links_resolve(path: Path) -> None:
    document = parse(path)
    broken = []
    for line, target in document.links:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            continue  # an absolute URL (https:, mailto:): not fetched
        file_part, _, anchor = target.partition("#")
        file = path if not file_part else (path.parent / urllib.parse.unquote(file_part))
        file = file.resolve()
        where = f"{path.name}:{line}: {target}"
        if not file.is_relative_to(ROOT):
            broken.append(f"{where}: outside the repository")
        elif not file.exists():
            broken.append(f"{where}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(parse(file)):
            broken.append(f"{where}: no heading #{anchor} in {file.name}")
    assert not broken, "\n".join(broken)


def test_readme_links_every_doc() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in parse(DOCS[0]).links}
    missing = [doc_id(path) for path in DOCS[1:] if path not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_readme_tree_lists_the_package() -> None:
    """The folder tree in README.md names every package and public module of bnnc/."""
    tree = next(b for b in parse(DOCS[0]).blocks if b.text.startswith("bnnc/\n"))
    listed = set(re.findall(r"^[├└]── (\S+)", tree.text, flags=re.MULTILINE))
    package = ROOT / "bnnc"
    actual = {
        f"{p.name}/" if p.is_dir() else p.name
        for p in package.iterdir()
        if not p.name.startswith(("_", "."))
        and ((p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py")
    }
    assert listed == actual, f"README tree: {sorted(listed)}; bnnc/: {sorted(actual)}"


def test_quick_start_is_what_ci_runs() -> None:
    """The README's quick-start commands are the ones .ci/run runs, verbatim."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    quick_start = [b for b in parse(DOCS[0]).blocks if "ci" in b.markers]
    assert len(quick_start) == 2, "README.md: the two quick-start blocks are marked <!-- ci: … -->"
    for block in quick_start:
        for line in filter(None, map(str.strip, block.text.splitlines())):
            assert line in ci, f"{block.where}: .ci/run does not run {line!r}"


def commands(block: Block) -> Iterator[tuple[str, int]]:
    """The command lines of a shell or console block, with the exit code each expects."""
    lines = block.text.splitlines()
    joined: list[str] = []
    while lines:
        line = lines.pop(0)
        while line.endswith("\\") and lines:
            line = line[:-1] + " " + lines.pop(0).strip()
        joined.append(line)
    for line in joined:
        if block.lang == "console":
            if not line.startswith("$ "):
                continue  # output for the reader
            line = line[2:]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        expected = EXIT_COMMENT.search(line)
        yield line, int(expected.group(1)) if expected else 0


def argv_chains(line: str, where: str) -> list[tuple[dict[str, str], list[str]]]:
    """The ``&&``-separated commands of a line: environment and argv, bnnc and python mapped
    to this interpreter."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    chains: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            chains.append([])
        elif set(word) <= set("();<>|&"):
            pytest.fail(f"{where}: {word!r} is not supported in `{line}`; mark the block no-test")
        else:
            chains[-1].append(word)
    result = []
    for chain in chains:
        env = {}
        while chain and re.match(r"^[A-Za-z_]\w*=", chain[0]):
            name, _, value = chain.pop(0).partition("=")
            env[name] = value
        if not chain:
            pytest.fail(f"{where}: an empty command in `{line}`")
        program = Path(chain[0]).name
        if program == "bnnc":
            argv = [sys.executable, "-m", "bnnc", *chain[1:]]
        elif PYTHON.match(program):
            argv = [sys.executable, *chain[1:]]
        else:
            pytest.fail(f"{where}: only bnnc and python commands run, not `{line}`: mark no-test")
        result.append((env, argv))
    return result


def run_command(line: str, expected: int, where: str, cwd: Path) -> None:
    for k, (extra, argv) in enumerate(chains := argv_chains(line, where)):
        env = {**os.environ, **extra}
        # bnnc from this checkout, whatever the interpreter has installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
        )
        want = expected if k == len(chains) - 1 else 0
        if done.returncode != want:
            pytest.fail(
                f"{where}: `{line}` exited with {done.returncode}, the text says {want}\n"
                f"--- stdout (end)\n{done.stdout[-3000:]}\n--- stderr (end)\n{done.stderr[-3000:]}"
            )


def workdir(tmp_path: Path) -> Path:
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    for name in COPIED:
        shutil.copytree(
            ROOT / name, cwd / name, ignore=shutil.ignore_patterns("__pycache__", "models")
        )
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    return cwd


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_snippets_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = workdir(tmp_path)
    monkeypatch.chdir(cwd)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    skipped = []
    for block in parse(path).blocks:
        if "no-test" in block.markers or "ci" in block.markers:
            continue
        shell = block.lang in ("console", "sh", "bash", "shell")
        if shell and any(SETUP.search(line) for line, _ in commands(block)):
            pytest.fail(f"{block.where}: a set-up command; mark the block no-test or ci")
        needs_shared = "needs-shared" in block.markers or "../shared" in block.text
        if needs_shared and not SHARED.is_dir():
            skipped.append(block.where)
            continue
        if block.lang == "python":
            # Padded so that a traceback gives the line in the Markdown file.
            code = compile("\n" * block.line + block.text, str(path), "exec")
            exec(code, namespace)
        elif block.lang == "bnn":
            parse_text(block.text, block.where)
        elif shell:
            for line, expected in commands(block):
                run_command(line, expected, block.where, cwd)
    if skipped:
        pytest.skip(f"ran the other blocks; these need {SHARED} (../shared): {skipped}")


def test_encodings_doc_covers_the_name_table() -> None:
    """docs/encodings.md reads the one table of encodings: each name has its own mention."""
    from bnnc.encodings import ENCODINGS

    text = (ROOT / "docs" / "encodings.md").read_text()
    missing = [name for name in ENCODINGS if f"`{name}`" not in text]
    assert not missing, f"docs/encodings.md does not describe {missing}"
