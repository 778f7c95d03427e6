"""One name per concept across the packages (issue 15 item 6): no public class of `ltx_pipelines` shares its name
with one of `ltx_core`, except the seed's block names, which wrap the core model of the same name."""

from __future__ import annotations

import ast
from pathlib import Path

import ltx_core
import ltx_pipelines

SEED_NAMES = {"AudioDecoder", "VideoDecoder"}  # ltx_pipelines.utils.blocks wrap ltx_core's decoders


def _public_classes(package: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                found.setdefault(node.name, []).append(str(path.relative_to(package.parent)))
    return found


def test_no_public_class_name_is_shared_across_the_packages() -> None:
    core = _public_classes(Path(ltx_core.__file__).parent)
    pipelines = _public_classes(Path(ltx_pipelines.__file__).parent)
    shared = {name: core[name] + pipelines[name] for name in core.keys() & pipelines.keys() - SEED_NAMES}
    assert not shared, shared
