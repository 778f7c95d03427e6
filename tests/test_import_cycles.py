"""No import circles inside ltx_core or ltx_pipelines: module A importing B (at any depth, lazily or for type
checking) while B imports A. A package's `__init__` importing its own submodules is not a circle. And the layering
rules: ltx_core never imports ltx_pipelines; nothing in ltx_pipelines outside `cli/` imports `ltx_pipelines.cli`
except each pipeline module's `main()` (which hands over to it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ltx_core
import ltx_pipelines

PACKAGES = {"ltx_core": Path(ltx_core.__file__).parent, "ltx_pipelines": Path(ltx_pipelines.__file__).parent}


def _imports(path: Path) -> set[str]:
    """Every absolute module (and `module.name`) that a file imports, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return found


def _files(package: str) -> dict[str, Path]:
    root = PACKAGES[package]
    files = {}
    for path in root.rglob("*.py"):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _graph(package: str = "ltx_core") -> dict[str, set[str]]:
    files = _files(package)
    return {
        name: {t for t in _imports(path) if t in files and t != name and not t.startswith(name + ".")}
        for name, path in files.items()
    }


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_circle_finder_by_hand() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circles(package: str) -> None:
    graph = _graph(package)
    assert not _circles(graph), f"import circles in {package}: {_circles(graph)}"


def test_layering() -> None:
    core_up = [n for n, p in _files("ltx_core").items() if any(t.startswith("ltx_pipelines") for t in _imports(p))]
    assert not core_up, f"ltx_core modules importing ltx_pipelines: {core_up}"
    pipeline_modules = {f"ltx_pipelines.{p.stem}" for p in PACKAGES["ltx_pipelines"].glob("*.py")}
    into_cli = [
        n
        for n, p in _files("ltx_pipelines").items()
        if not n.startswith("ltx_pipelines.cli")
        and n not in pipeline_modules
        and any(t.startswith("ltx_pipelines.cli") for t in _imports(p))
    ]
    assert not into_cli, f"modules outside cli/ importing it: {into_cli}"


def test_ltx_core_graph_is_read() -> None:
    graph = _graph()
    assert "ltx_core.geometry" in graph and "ltx_core.model.video_vae.decoder" in graph
    assert _circles(graph) == []
