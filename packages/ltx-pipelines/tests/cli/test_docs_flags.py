"""The docs name only flags and modules that exist (README.md, CLAUDE.md, docs/*.md).

Deliberately simple parsing, documented here so a doc edit that breaks it is easy to understand:

* Commands: a line containing `python -m ltx_pipelines.<name>`, plus the lines that follow it while the previous one
  ends with a backslash (a shell continuation in a fenced block). An inline code span holding such a command counts
  too, as its own command. Every `--flag` token in a command must be an option of `<name>`'s Typer app.
* Flag tables in docs/pipelines.md: in a pipeline's section (heading `## <name>: ` + the command as a code span),
  the flags in the FIRST cell of each table row belong to `<name>` (other cells may name flags a pipeline does NOT
  take, e.g. "there is no --num-frames"). The three tables under `## Shared flags` belong to the pipelines their
  lead-in sentences name (`SHARED_TABLE_SCOPES`).
* Coverage: every pipeline module (one with a `main` running its command line) has its section in docs/pipelines.md,
  and every option of every pipeline is named somewhere in that file.
* Dotted paths: a code span that is exactly `ltx_core.<...>` or `ltx_pipelines.<...>` must import; the longest
  importable prefix is the module and the rest one module-level name (`getattr`). `from ltx_... import a, b` lines in
  ```python blocks must import as well.

A `--flag` token is `--` followed by lowercase words joined by single hyphens; glob-like mentions (`--video-*`,
`--*-stg-blocks`) are not flags.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main

from ltx_pipelines.cli.commands import PIPELINES as COMMAND_LINES
from ltx_pipelines.cli.commands import build_app

ROOT = Path(__file__).resolve().parents[4]
DOCS = [
    "README.md",
    "CLAUDE.md",
    "docs/architecture.md",
    "docs/checkpoints.md",
    "docs/pipelines.md",
    "docs/performance.md",
    "docs/multi-gpu.md",
]
PIPELINES = (
    "distilled",
    "ti2vid_one_stage",
    "ti2vid_two_stages",
    "ti2vid_two_stages_hq",
    "keyframe_interpolation",
    "a2vid_two_stage",
    "retake",
    "ic_lora",
    "dubit",
    "lipdub",
    "t2a_one_stage",
    "dfr_pipeline",
)
GUIDED = (
    "ti2vid_one_stage",
    "ti2vid_two_stages",
    "ti2vid_two_stages_hq",
    "keyframe_interpolation",
    "a2vid_two_stage",
    "retake",
)
# "Every command takes these" / "Text/image-to-video pipelines (all but retake, dubit and t2a_one_stage)" / "Guided
# stages (...)"
NOT_VIDEO_GEN = ("retake", "dubit", "lipdub", "t2a_one_stage")
SHARED_TABLE_SCOPES = (PIPELINES, tuple(p for p in PIPELINES if p not in NOT_VIDEO_GEN), GUIDED)

FLAG = re.compile(r"(?<![\w*-])--[a-z0-9]+(?:-[a-z0-9]+)*(?![\w*-])")
COMMAND = re.compile(r"python -m ltx_pipelines\.(\w+)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"(?:ltx_core|ltx_pipelines)(?:\.\w+)+")
SECTION = re.compile(r"^## (\w+): `python -m ltx_pipelines\.(\w+)`")


def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


@cache
def _flags(pipeline: str) -> frozenset[str]:
    """Every option string (`--x`, `--no-x`) of the pipeline's Typer command, plus `--help`."""
    command = typer.main.get_command(build_app(pipeline))
    return frozenset({"--help", *(o for p in command.params for o in (*p.opts, *p.secondary_opts))})


def _commands(text: str) -> Iterator[tuple[str, str]]:
    """(pipeline, command text) for every command line (with its continuations) and inline command span."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        for span in CODE_SPAN.findall(line):
            if match := COMMAND.search(span):
                yield match.group(1), span
        if "```" in line or not (match := COMMAND.search(line)) or "`python -m" in line:
            continue
        command = [line]
        while command[-1].rstrip().endswith("\\") and i + len(command) < len(lines):
            command.append(lines[i + len(command)])
        yield match.group(1), "\n".join(command)


def _table_first_cells(lines: list[str]) -> list[list[str]]:
    """The first cells of each table's rows (header and separator rows skipped), one list per table."""
    tables: list[list[str]] = []
    previous_was_row = False
    for line in lines:
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            tables.append([])
        elif is_row and not set(line) <= set("|-: "):
            tables[-1].append(line.split("|")[1])
        previous_was_row = is_row
    return tables


def _sections(text: str) -> dict[str, list[str]]:
    """`## ` heading → the lines up to the next `## ` heading."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line, [])
        else:
            current.append(line)
    return sections


@cache
def _doc_flag_claims() -> tuple[tuple[str, str, str], ...]:
    """(where, pipeline, flag) for every flag the docs attribute to a pipeline."""
    claims = []
    for doc in DOCS:
        for pipeline, command in _commands(_read(doc)):
            claims += [(f"{doc}: {command.splitlines()[0].strip()}", pipeline, f) for f in FLAG.findall(command)]
    for heading, lines in _sections(_read("docs/pipelines.md")).items():
        if heading == "## Shared flags":
            tables = _table_first_cells(lines)
            assert len(tables) == len(SHARED_TABLE_SCOPES), "update SHARED_TABLE_SCOPES to the shared flag tables"
            for cells, scope in zip(tables, SHARED_TABLE_SCOPES, strict=True):
                claims += [
                    (f"shared table {cell.strip()}", p, f) for cell in cells for f in FLAG.findall(cell) for p in scope
                ]
        elif match := SECTION.match(heading):
            assert match.group(1) == match.group(2), heading
            cells = [cell for table in _table_first_cells(lines) for cell in table]
            claims += [(f"{heading} table", match.group(1), f) for cell in cells for f in FLAG.findall(cell)]
    return tuple(claims)


def test_parsing_finds_what_the_docs_hold() -> None:
    """Guards the parsing itself: the claims must cover every pipeline and known flags from each kind of source."""
    claims = {(pipeline, flag) for _, pipeline, flag in _doc_flag_claims()}
    assert {p for p, _ in claims} == set(PIPELINES)
    assert ("distilled", "--distilled-checkpoint-path") in claims  # README / pipelines.md command
    assert ("dubit", "--reference-strength") in claims  # a pipeline section's table
    assert ("retake", "--audio-skip-step") in claims  # the guided shared table
    assert ("dubit", "--num-frames") not in claims  # named in a table's third cell only ("there is no ...")
    assert not FLAG.findall("`--video-*` `--*-stg-blocks` --no-regenerate-*")


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_documented_flags_exist(pipeline: str) -> None:
    accepted = _flags(pipeline)
    unknown = sorted(
        {f"{flag} ({where})" for where, p, flag in _doc_flag_claims() if p == pipeline and flag not in accepted}
    )
    assert not unknown, f"flags the docs give {pipeline} but its CLI does not accept: {unknown}"


def test_every_pipeline_has_a_section() -> None:
    package = ROOT / "packages/ltx-pipelines/src/ltx_pipelines"
    modules = {f.stem for f in package.glob("*.py") if "\ndef main(" in f.read_text(encoding="utf-8")}
    assert modules == set(PIPELINES) == set(COMMAND_LINES)
    sections = {m.group(1) for heading in _sections(_read("docs/pipelines.md")) if (m := SECTION.match(heading))}
    assert sections == set(PIPELINES)


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_flag_is_documented(pipeline: str) -> None:
    text = _read("docs/pipelines.md")
    command = typer.main.get_command(build_app(pipeline))
    named = set(FLAG.findall(text))
    missing = [p.opts[0] for p in command.params if named.isdisjoint((*p.opts, *p.secondary_opts))]
    assert not missing, f"{pipeline} options missing from docs/pipelines.md: {missing}"


def _resolve(dotted: str) -> Any:
    """Import the longest importable prefix of `dotted`, then one attribute; raises when either fails."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as exc:
            if exc.name is None or not ".".join(parts[:i]).startswith(exc.name):
                raise  # a module that exists but fails to import
            continue
        rest = parts[i:]
        assert len(rest) <= 1, f"{dotted}: only module-level names are checked ({'.'.join(rest)} is nested)"
        return getattr(module, rest[0]) if rest else module
    raise ModuleNotFoundError(dotted)


def _dotted_paths() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = _read(doc)
        found += [(doc, span) for span in CODE_SPAN.findall(text) if DOTTED.fullmatch(span)]
        for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL):
            for module, names in re.findall(r"^from ((?:ltx_core|ltx_pipelines)[\w.]*) import (.+)$", block, re.M):
                found += [(doc, f"{module}.{name.split(' as ')[0].strip()}") for name in names.split(",")]
    return found


def test_dotted_paths_import() -> None:
    paths = _dotted_paths()
    assert ("docs/pipelines.md", "ltx_pipelines.utils.blocks") in paths
    assert ("docs/pipelines.md", "ltx_pipelines.distilled.DistilledPipeline") in paths  # from a ```python block
    broken = []
    for doc, dotted in sorted(set(paths)):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError, AssertionError) as exc:
            broken.append(f"{doc}: {dotted} ({exc})")
    assert not broken, "\n".join(broken)
