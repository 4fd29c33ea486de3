"""The layers hold: no import cycle, and importing the package (or only the middleware) loads only what it needs.

See docs/architecture.md; ``lint-imports`` (``make lint``) checks the layer order itself.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import c13_middleware
from c13_middleware.trace._observe import ObservedRequest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {"c13_middleware": ROOT / "c13_middleware", "c13_middleware.integrations": ROOT / "integrations"}
LAZY_PACKAGES = [
    "c13_middleware",
    "c13_middleware.client",
    "c13_middleware.export",
    "c13_middleware.export.otlp",
    "c13_middleware.export.prometheus",
    "c13_middleware.findings",
    "c13_middleware.profiling",
    "c13_middleware.server",
    "c13_middleware.trace",
]
PUBLIC_PACKAGES = [*LAZY_PACKAGES, "c13_middleware.propagation"]


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package), for both source trees (integrations/ is mapped into the package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join([package, *parts])] = (path, is_package)
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    # ``from package import name``: an edge to the submodule when ``name`` is one, else to the package.
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names} & known


def import_graph() -> dict[str, set[str]]:
    """Every import of every module: module level, inside functions and under ``if TYPE_CHECKING:`` alike."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(node, module, is_package, known)
        edges.discard(module)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as the list of modules around it), or None. Iterative depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "c13_middleware.trace._span" in graph["c13_middleware.trace._context"]  # module level
    assert "c13_middleware.trace._resource" in graph["c13_middleware.trace._span"]  # under TYPE_CHECKING
    assert "c13_middleware.export.otlp.grpc_transport" in graph["c13_middleware.export.otlp.exporter"]  # local
    assert "c13_middleware.server.asgi" in graph["c13_middleware.integrations.starlette"]  # integrations mapped
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_import_graph_has_no_cycle() -> None:
    assert find_cycle(import_graph()) is None


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(result.stdout)
    return [name for name in modules if name == "c13_middleware" or name.startswith("c13_middleware.")]


def test_importing_the_package_loads_almost_nothing() -> None:
    loaded = _loaded_after("import c13_middleware")
    assert len(loaded) <= 15, loaded
    # The server package and its extension registry are the one server module the composition root may load: it
    # is where the profiler is plugged into the server.
    allowed = {"c13_middleware.server", "c13_middleware.server._extensions"}
    heavy = [name for name in loaded if name.split(".")[1:2] in (["profiling"], ["export"], ["server"])]
    assert set(heavy) <= allowed, heavy


def test_the_middleware_alone_loads_no_profiler_exporter_or_metrics() -> None:
    loaded = _loaded_after("from c13_middleware import C13ASGIMiddleware")
    assert "c13_middleware.server.asgi" in loaded
    unwanted = [name for name in loaded if name.startswith(("c13_middleware.profiling", "c13_middleware.export"))]
    assert unwanted == []


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_every_public_name_resolves_and_is_listed(package: str) -> None:
    module = importlib.import_module(package)
    listing = dir(module)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
        assert name in listing, name
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")  # noqa: B009 (the lookup is the test)


def _type_checking_imports(package: str) -> dict[str, set[str]]:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    (block,) = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    imports: dict[str, set[str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        imports.setdefault("." * node.level + (node.module or ""), set()).update(a.name for a in node.names)
    return imports


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_table_matches_the_type_checking_imports(package: str) -> None:
    """What mypy and IDEs see is what ``__getattr__`` returns."""
    module = importlib.import_module(package)
    table = {source: set(names) for source, names in module._EXPORTS.items()}
    assert table == _type_checking_imports(package)
    assert {name for names in table.values() for name in names} == set(module.__all__) - {"__version__"}


def test_layer_packages_and_the_root_export_the_same_objects() -> None:
    for package in PUBLIC_PACKAGES[1:]:
        module = importlib.import_module(package)
        for name in set(module.__all__) & set(c13_middleware.__all__):
            assert getattr(module, name) is getattr(c13_middleware, name), (package, name)


def test_the_server_request_is_what_observers_are_promised() -> None:
    seen: list[Any] = []

    class Observer:
        def request_started(self, request: ObservedRequest) -> None:
            seen.append(request)

        def request_finished(self, request: ObservedRequest, duration_s: float) -> None:
            seen.append(request)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "scheme": "https", "path": "/", "headers": [], "query_string": b""}
    middleware = c13_middleware.C13ASGIMiddleware(
        app, observers=[Observer()], exporter=c13_middleware.InMemoryExporter()
    )
    asyncio.run(middleware(scope, receive, send))
    assert len(seen) == 2
    request = seen[1]
    members = [name for name, value in vars(ObservedRequest).items() if isinstance(value, property)]
    assert sorted(members) == ["error_type", "method", "route", "scheme", "span", "status"]
    assert isinstance(request.span, c13_middleware.Span)
    assert (request.method, request.scheme, request.route, request.status) == ("GET", "https", None, 503)
    assert request.error_type == "503"
