"""One command per pipeline module, each a `PipelineCli` (data: option set, checks, how the parsed arguments map to
the pipeline class's constructor and call), built into a Typer app by the one shared path in `cli.app`.

A pipeline module's `main(argv)` calls `main("<module name>", argv)` here; the command module is imported only then,
so that importing a pipeline (its class) never imports Typer.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

from ltx_pipelines.cli.app import PipelineCli

# pipeline module (ltx_pipelines.<name>) → the module under cli.commands holding its `COMMANDS[name]`
_COMMAND_MODULES = {
    "distilled": "distilled",
    "ti2vid_one_stage": "guided",
    "ti2vid_two_stages": "guided",
    "ti2vid_two_stages_hq": "guided",
    "keyframe_interpolation": "guided",
    "ic_lora": "ic_lora",
    "dubit": "ic_lora",
    "lipdub": "ic_lora",  # the old name of dubit
    "retake": "retake",
    "a2vid_two_stage": "a2vid_two_stage",
    "t2a_one_stage": "t2a_one_stage",
    "dfr_pipeline": "dfr",
}
PIPELINES = tuple(_COMMAND_MODULES)


def command(pipeline: str) -> PipelineCli:
    """The command line of `ltx_pipelines.<pipeline>`."""
    if pipeline not in _COMMAND_MODULES:
        raise ValueError(f"no command line for {pipeline!r}; known: {', '.join(PIPELINES)}")
    module = importlib.import_module(f"{__name__}.{_COMMAND_MODULES[pipeline]}")
    return module.COMMANDS[pipeline]


def build_app(pipeline: str) -> typer.Typer:
    """The Typer app of `python -m ltx_pipelines.<pipeline>` (tests invoke it with Typer's `CliRunner`)."""
    return command(pipeline).app(pipeline)


def main(pipeline: str, argv: Sequence[str] | None = None) -> None:
    """Run `ltx_pipelines.<pipeline>`'s command line on `argv` (None: `sys.argv`); exits with its code."""
    app = build_app(pipeline)
    app(args=None if argv is None else list(argv), prog_name=f"python -m ltx_pipelines.{pipeline}")
