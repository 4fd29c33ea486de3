"""Every ```python block of README.md and docs/*.md runs, one case per block (id ``file:line`` of its fence).

A block runs in this process, in a fresh namespace (``__name__ == "docs_snippet"``), with ``filterwarnings = error``
and the c13 default pipeline reset after it by conftest's fixtures. Its line numbers are the markdown's, so a
traceback points into the document. A block containing a top-level ``await`` (or whose setup or check does) runs
inside one ``asyncio.run``; the others run plainly.

Whatever a block needs comes from the document, in HTML comments (not rendered on GitHub):

- ``<!-- setup: CODE -->`` right before the opening fence (blank lines allowed): CODE runs first, in the block's
  namespace. It supplies what the prose assumes (``app``, ``target``...) and replaces servers and remote hosts by
  loopback ones or test doubles.
- ``<!-- check: CODE -->`` right after the closing fence: CODE runs after the block, in its namespace, and asserts
  what the block or its comments claim.
- ``<!-- define NAME: CODE -->`` anywhere in the file names a fragment; ``<!-- setup NAME OTHER: CODE -->`` (or
  ``check``) runs the named fragments first, then CODE, which may be left out (``<!-- setup NAME -->``).

CODE may span several lines. Setup and check code also find ``monkeypatch`` (pytest's, undone after the case) and
``defer(function, *args)``, which calls ``function(*args)`` after the case, even a failed one (last deferred first):
the way to stop a loopback server the setup started.
What is not runnable Python (signatures, reference listings, fragments of a config) is fenced ``text``, shell
commands ``sh``.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import re
import signal
import textwrap
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON = frozenset({"python", "py", "python3"})  # fences that must run
TIME_LIMIT_S = 20.0  # per block, setup and check included; they take well under a second each

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
COMMENT = re.compile(r"<!--\s*(?P<kind>setup|check|define)\b(?P<names>[^:>]*?)\s*(?::(?P<code>.*?))?-->", re.S)
HINT = (
    "A block runs in a fresh namespace: give it what the prose assumes with <!-- setup: ... --> right before its "
    "fence, or fence it as ```text if it is not runnable Python (see the docstring of tests/test_docs.py)."
)


@dataclass
class Part:
    role: str  # "setup", "block" or "check"
    code: str
    line: int  # where the code starts in the file


@dataclass
class Snippet:
    path: Path
    name: str  # the path shown in ids and messages
    line: int  # the opening fence's
    parts: list[Part] = field(default_factory=list)
    problem: str = ""  # a mistake in the hidden comments, reported when the case runs

    @property
    def id(self) -> str:
        return f"{self.name}:{self.line}"

    @property
    def block(self) -> Part:
        return next(part for part in self.parts if part.role == "block")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _comment_code(text: str, match: re.Match[str]) -> Part | None:
    raw = match.group("code")
    if raw is None or not raw.strip():
        return None
    first, _, rest = raw.partition("\n")
    return Part("", first.strip() + "\n" + textwrap.dedent(rest), _line_of(text, match.start("code")))


def _touched_fence(text: str, fences: list[re.Match[str]], comment: re.Match[str]) -> re.Match[str] | None:
    """The fence a setup comment precedes or a check comment follows, with only whitespace between."""
    if comment.group("kind") == "setup":
        after = [f for f in fences if f.start() >= comment.end()]
        if after and not text[comment.end() : after[0].start()].strip():
            return after[0]
    else:
        before = [f for f in fences if f.end() <= comment.start()]
        if before and not text[before[-1].end() : comment.start()].strip():
            return before[-1]
    return None


def parse(path: Path, root: Path = ROOT, stray: list[str] | None = None) -> list[Snippet]:
    """The ```python blocks of ``path``, each with the parts its comments attach to it. A setup or check comment
    that touches no ```python fence is described in ``stray``."""
    text = path.read_text(encoding="utf-8")
    shown = str(path.relative_to(root))
    fences = list(FENCE.finditer(text))
    comments = list(COMMENT.finditer(text))
    defined: dict[str, list[Part]] = {}
    for comment in comments:
        if comment.group("kind") == "define":
            part = _comment_code(text, comment)
            defined[comment.group("names").strip()] = [part] if part else []

    snippets: list[Snippet] = []
    by_fence: dict[int, Snippet] = {}
    for fence in fences:
        if fence.group("lang") in PYTHON:
            body = textwrap.dedent(fence.group("body"))
            snippet = Snippet(path, shown, _line_of(text, fence.start()))
            snippet.parts.append(Part("block", body, snippet.line + 1))
            snippets.append(snippet)
            by_fence[fence.start()] = snippet

    for comment in comments:
        kind = comment.group("kind")
        if kind == "define":
            continue
        touched = _touched_fence(text, fences, comment)
        target = by_fence.get(touched.start()) if touched is not None else None
        where = f"{shown}:{_line_of(text, comment.start())}"
        if target is None:
            if stray is not None:
                stray.append(f"{where}: a <!-- {kind} --> comment must touch a ```python fence (blank lines only)")
            continue
        parts: list[Part] = []
        for name in comment.group("names").split():
            if name not in defined:
                target.problem = f"{where}: <!-- {kind} {name} -->: no <!-- define {name}: ... --> in this file"
                continue
            parts.extend(defined[name])
        own = _comment_code(text, comment)
        if own is not None:
            parts.append(own)
        # In document order: setups before the block, checks after it.
        tagged = [Part(kind, part.code, part.line) for part in parts]
        at = target.parts.index(target.block) if kind == "setup" else len(target.parts)
        target.parts[at:at] = tagged
    return snippets


STRAY: list[str] = []
SNIPPETS = [snippet for path in DOCS for snippet in parse(path, stray=STRAY)]


def _compile(snippet: Snippet, part: Part) -> CodeType:
    source = "\n" * (part.line - 1) + part.code
    try:
        code: CodeType = compile(
            source, str(snippet.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except SyntaxError as exc:
        what = "the block" if part.role == "block" else f"its {part.role}"
        raise AssertionError(f"{snippet.id}: {what} is not valid Python ({exc}). {HINT}") from exc
    return code


def _fail(snippet: Snippet, part: Part, exc: BaseException) -> AssertionError:
    what = {
        "setup": "its hidden setup failed",
        "block": "the block itself raised",
        "check": "its hidden check failed (the block does not do what it or its comments claim)",
    }[part.role]
    message = f"{snippet.id}: {what}: {type(exc).__name__}: {exc}"
    # exec'd code gets no assertion rewriting: name the document's line that raised.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(snippet.path)]
    if frames:
        message += f"\n  at {snippet.name}:{frames[-1].lineno}: {frames[-1].line}"
    return AssertionError(message + (f"\n{HINT}" if part.role == "block" else ""))


async def _run_async(snippet: Snippet, codes: list[tuple[Part, CodeType]], namespace: dict[str, object]) -> None:
    for part, code in codes:
        try:
            if code.co_flags & inspect.CO_COROUTINE:
                await eval(code, namespace)
            else:
                exec(code, namespace)
        except Exception as exc:
            raise _fail(snippet, part, exc) from exc


def _run_sync(snippet: Snippet, codes: list[tuple[Part, CodeType]], namespace: dict[str, object]) -> None:
    for part, code in codes:
        try:
            exec(code, namespace)
        except Exception as exc:
            raise _fail(snippet, part, exc) from exc


class _TimeLimit:
    """SIGALRM after ``seconds`` (main thread only), so a block that blocks fails instead of hanging the suite."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.armed = threading.current_thread() is threading.main_thread()
        self.previous: object = None

    def _expired(self, signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"{self.what}: still running after {self.seconds} s")

    def __enter__(self) -> None:
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)  # type: ignore[arg-type]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_doc_snippet_runs(snippet: Snippet, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not snippet.problem, snippet.problem
    codes = [(part, _compile(snippet, part)) for part in snippet.parts]
    is_async = any(code.co_flags & inspect.CO_COROUTINE for _, code in codes)
    with _TimeLimit(TIME_LIMIT_S, snippet.id), contextlib.ExitStack() as deferred:
        namespace: dict[str, object] = {
            "__name__": "docs_snippet",
            "monkeypatch": monkeypatch,
            "defer": deferred.callback,
        }
        try:
            if is_async:
                asyncio.run(_run_async(snippet, codes, namespace))
            else:
                _run_sync(snippet, codes, namespace)
        finally:
            from c13_middleware import get_tracer

            get_tracer().shutdown(timeout_millis=2_000)  # a batch exporter's thread, if the block configured one


def test_every_hidden_setup_and_check_belongs_to_a_python_block() -> None:
    assert not STRAY, "\n".join(STRAY)


def test_docs_have_python_blocks_and_the_readme_quick_starts_are_checked() -> None:
    readme = [s for s in SNIPPETS if s.path.name == "README.md"]
    assert len(SNIPPETS) >= 30 and len(readme) >= 5
    servers = [s for s in readme if "@app.get(" in s.block.code]
    assert len(servers) == 2, "the README's FastAPI and Flask quick starts"
    for snippet in servers:
        assert any(p.role == "check" for p in snippet.parts), f"{snippet.id}: a quick start without a check"


def test_parse_attaches_setup_check_and_named_fragments(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- define base: x = 1 -->\n"
        "text\n\n"
        "<!-- setup base:\ny = x + 1\n-->\n\n"
        "```python\nz = y * 2\n```\n"
        "<!-- check: assert z == 4 -->\n"
        "```text\nnot(python\n```\n"
        "<!-- check: assert False -->\n",
        encoding="utf-8",
    )
    stray: list[str] = []
    (snippet,) = parse(doc, root=tmp_path, stray=stray)
    assert stray == ["doc.md:15: a <!-- check --> comment must touch a ```python fence (blank lines only)"]
    assert snippet.id == "doc.md:8"
    assert [(p.role, p.code.strip(), p.line) for p in snippet.parts] == [
        ("setup", "x = 1", 1),
        ("setup", "y = x + 1", 4),
        ("block", "z = y * 2", 9),
        ("check", "assert z == 4", 11),
    ]
