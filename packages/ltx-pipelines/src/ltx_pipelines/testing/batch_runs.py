"""`--jobs` batches made by groups of processes, as `run_ranks` rank functions: the distilled command line on the
tiny checkpoint files, run in the spawned processes as torchrun would run it (the harness's environment and process
group), with what each process built and printed handed back."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

# The jobs of `jobs_made_together`'s first batch; on process 0 alone, the first one's file cannot be written and the
# second one's prompt enhancement (Gemma, run on process 0 only) fails.
GROUP_JOBS = (
    {"prompt": "a red fox in the snow", "seed": 1, "output_path": "fox.mp4"},
    {"prompt": "a blue bird", "seed": 2, "enhance_prompt": True},
    {"prompt": "a cat on a sofa", "seed": 3},
)
WRITE_FAILURE = "cannot write 'fox.mp4': read-only file system (made up on process 0)"
GEMMA_FAILURE = "Gemma failed to enhance the prompt (made up on process 0)"


def jobs_made_together(rank: int, world: int, folder: str, out: str) -> dict[str, torch.Tensor]:
    """A rank of `run_ranks`: two batches of the distilled command with `--processes-per-job 2` (every job made by
    both processes together), the second with `--shard-weights` as well. Per batch (`group/...`, `sharded/...`):
    the command's exit code, what this process printed on stderr, and for each transformer it built the sequence
    degree of its sequence-parallel wrapper (1: none) and the bytes of block weights this process held."""
    base = [
        "--distilled-checkpoint-path",
        f"{folder}/distilled.safetensors",
        "--spatial-upsampler-path",
        f"{folder}/spatial_upsampler_x2.safetensors",
        "--gemma-root",
        f"{folder}/gemma",
        "--height",
        "64",
        "--width",
        "128",
        "--num-frames",
        "9",
        "--quiet",
        "--processes-per-job",
        "2",
    ]
    group = Path(out) / "group"
    jobs = Path(out) / "group.jsonl"
    if rank == 0:
        lines = [
            {**job, "output_path": str(group / job["output_path"])} if "output_path" in job else job
            for job in GROUP_JOBS
        ]
        jobs.write_text("".join(json.dumps(job) + "\n" for job in lines))
        (Path(out) / "one.jsonl").write_text(json.dumps({"prompt": "a cat", "seed": 4}) + "\n")
    torch.distributed.barrier()
    result: dict[str, torch.Tensor] = {}
    with _kept_process_group(), _failures_on_process_0(rank == 0):
        runs = (
            ("group", jobs, group, []),
            ("sharded", Path(out) / "one.jsonl", Path(out) / "sharded", ["--shard-weights"]),
        )
        for name, batch, folder_out, extra in runs:
            with _built_transformers() as built:
                code, stderr = _command_line([*base, "--jobs", str(batch), "--output-dir", str(folder_out), *extra])
            result[f"{name}/code"] = torch.tensor([code])
            result[f"{name}/stderr"] = torch.tensor(list(stderr.encode()), dtype=torch.uint8)
            result[f"{name}/degrees"] = torch.tensor([degree for degree, _ in built])
            result[f"{name}/block_bytes"] = torch.tensor([held for _, held in built])
    return result


def _command_line(argv: list[str]) -> tuple[int, str]:
    """`python -m ltx_pipelines.distilled ARGV` in this process: its exit code and its stderr."""
    from ltx_pipelines.distilled import main

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, stderr.getvalue()


@contextlib.contextmanager
def _kept_process_group() -> Iterator[None]:
    """The command leaves the process group at its end, as a torchrun process does; here the harness made the group
    and ends it, and the next command joins it again."""
    import torch.distributed as dist

    destroy = dist.destroy_process_group
    dist.destroy_process_group = lambda *args, **kwargs: None
    try:
        yield
    finally:
        dist.destroy_process_group = destroy


@contextlib.contextmanager
def _built_transformers() -> Iterator[list[tuple[int, int]]]:
    """(sequence degree, bytes of block weights held here) of every transformer built meanwhile."""
    from ltx_core.model.transformer.block import TransformerBlock
    from ltx_core.parallel.sequence import SequenceParallelTransformer
    from ltx_core.parallel.sharding import local_weight_bytes
    from ltx_pipelines.utils.blocks import DiffusionStage

    built: list[tuple[int, int]] = []
    build = DiffusionStage._wrapped

    def recorded(self: Any, inner: Any) -> Any:
        model = build(self, inner)
        degrees = [m.size for m in model.modules() if isinstance(m, SequenceParallelTransformer)]
        blocks = [m for m in model.modules() if isinstance(m, TransformerBlock)]
        built.append((degrees[0] if degrees else 1, sum(local_weight_bytes(b) for b in blocks)))
        return model

    DiffusionStage._wrapped = recorded  # type: ignore[method-assign]
    try:
        yield built
    finally:
        DiffusionStage._wrapped = build  # type: ignore[method-assign]


@contextlib.contextmanager
def _failures_on_process_0(here: bool) -> Iterator[None]:
    """On process 0 only: writing `fox.mp4` fails after its first frames were read, and enhancing a prompt fails."""
    if not here:
        yield
        return
    import ltx_core.text_encoders.gemma.enhance as enhance
    import ltx_pipelines.media.mp4 as mp4
    from ltx_core.errors import InputError

    write, rewrite = mp4.write_mp4, enhance.rewrite

    def failing_write(path: Any, video: Any, *args: Any, **kwargs: Any) -> Path:
        if Path(path).name != "fox.mp4":
            return write(path, video, *args, **kwargs)
        next(iter(video))
        raise InputError(WRITE_FAILURE)

    def failing_enhancement(*args: Any, **kwargs: Any) -> str:
        raise InputError(GEMMA_FAILURE)

    mp4.write_mp4, enhance.rewrite = failing_write, failing_enhancement
    try:
        yield
    finally:
        mp4.write_mp4, enhance.rewrite = write, rewrite
