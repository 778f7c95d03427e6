"""Rank functions of the multi-process tests (spawned processes import them by name, so they live in the package):
golden transformer cases through the parallel wrappers, outputs keyed `<variant>/<case>.<output>`."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_core.testing.golden import load_case
from ltx_core.testing.transformer_cases import case_arguments, case_model, run_case


def _key(path: Path, name: str) -> str:
    return f"{path.parent.name}/{path.stem}.{name}"


def sequence_parallel_cases(
    rank: int, world: int, paths: list[str], video_tokens: int | None = None
) -> dict[str, torch.Tensor]:
    """Every case through a `SequenceParallelTransformer` over the default group (optionally on the first
    `video_tokens` video tokens)."""
    from ltx_core.parallel.sequence import SequenceParallelTransformer

    out: dict[str, torch.Tensor] = {}
    for path in map(Path, paths):
        case = load_case(path)
        parallel = SequenceParallelTransformer(case_model(case, path.parents[2]))
        for name, value in run_case(parallel, case, video_tokens).items():
            out[_key(path, name)] = value
        parallel.release()
    return out


def guidance_parallel_cases(rank: int, world: int, paths: list[str], guidance_degree: int) -> dict[str, torch.Tensor]:
    """Every case's batch (its rows standing for guidance passes) as x0 through `GuidanceParallelAdapter` with one
    row per chunk, over `guidance_degree` groups (and sequence parallelism inside a group when the world is larger)."""
    from ltx_core.model.transformer.x0 import X0Model
    from ltx_core.parallel.guidance import GuidanceParallelAdapter
    from ltx_core.parallel.layout import init_layout
    from ltx_core.parallel.sequence import SequenceParallelTransformer

    layout = init_layout(guidance_degree)
    out: dict[str, torch.Tensor] = {}
    for path in map(Path, paths):
        case = load_case(path)
        model = case_model(case, path.parents[2])
        if layout.sequence_degree > 1:
            model = SequenceParallelTransformer(model, layout.sequence_group)
        adapter = GuidanceParallelAdapter(X0Model(model), 1, index=layout.guidance_index,
                                          count=layout.guidance_degree, group=layout.guidance_group)  # fmt: skip
        video, audio, ptb = case_arguments(case)
        with torch.no_grad():
            v_x0, a_x0 = adapter(video, audio, ptb)
        out[_key(path, "video_x0")] = v_x0
        out[_key(path, "audio_x0")] = a_x0
    return out
