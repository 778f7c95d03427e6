"""What a `--jobs` batch shares with the commands it drives while it runs them (see `cli.batch`): the jobs parsed
so far, the pipeline kept between jobs, the prompts Gemma encodes ahead. Outside a batch, nothing."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ltx_pipelines.cli.jobs import BadJob, Job
from ltx_pipelines.cli.options import CommonArgs


class JobRefused(Exception):
    """A job's checks failed while the batch was parsing its jobs."""


@dataclass
class Collected:
    """A job that parsed and passed its checks: its arguments and its generation (as `run_pipeline_cli` got them)."""

    job: Job
    args: CommonArgs
    generate: Callable[..., Any]


@dataclass
class BatchState:
    """What the batch run shares with the commands it drives (through `BATCH`)."""

    collecting: Job | None = None
    collected: list[Collected] = field(default_factory=list)
    bad: list[BadJob] = field(default_factory=list)
    prompts: dict[str, None] = field(default_factory=dict)  # texts Gemma encodes ahead for the current group
    pipeline_key: str | None = None
    pipeline: Any = None


BATCH: ContextVar[BatchState | None] = ContextVar("ltx_batch", default=None)


def batch_state() -> BatchState | None:
    return BATCH.get()


def shared_pipeline(options: CommonArgs, cls: type, *args: Any, **kwargs: Any) -> Any:
    """`cls(*args, **kwargs, runtime=..., parallel=...)` with the runtime flags of `options` (`--offload`,
    `--quantization`, `--compile`) and the process layout the command joined (under torchrun); in a batch, one
    instance per distinct set of arguments, kept built between jobs (the previous group's pipeline is released
    first), with its group's prompts encoded ahead."""
    from ltx_pipelines.cli.parallel import current_layout

    kwargs = {**kwargs, "runtime": options.runtime()}
    state = BATCH.get()
    if state is None:
        return cls(*args, **kwargs, parallel=current_layout())
    key = repr((cls.__qualname__, args, sorted(kwargs.items())))
    if key != state.pipeline_key:
        if state.pipeline is not None:
            state.pipeline.release()
        state.pipeline, state.pipeline_key = None, None
        pipeline = cls(*args, **kwargs)
        pipeline.prompt_encoder.encode_ahead(list(state.prompts))  # Gemma once for the group, then freed
        pipeline.keep_models = True
        state.pipeline, state.pipeline_key = pipeline, key
    return state.pipeline
