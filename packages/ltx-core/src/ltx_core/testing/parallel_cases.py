"""Rank functions of the multi-process tests (spawned processes import them by name, so they live in the package):
golden transformer cases through the parallel wrappers, outputs keyed `<variant>/<case>.<output>`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ltx_core.testing.golden import load_case
from ltx_core.testing.transformer_cases import case_arguments, case_model, case_model_loras, run_case


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
        blocks = parallel.model.transformer_blocks
        names = {a.kernel_name for b in blocks for a in (b.attn1, getattr(b, "video_to_audio_attn", None)) if a}
        out[_key(path, "kernels")] = torch.tensor([len(names), len(blocks)])  # distinct kernel names, blocks
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


def distributed_decode_case(rank: int, world: int, path: str, seed: int | None = None) -> dict[str, torch.Tensor]:
    """A golden tiled-decode case through `distributed_tiled_decode` over the default group (with `seed`: a random
    latent of one more latent frame and row than the case's, same channels, for a plan with more tiles); rank 0 hands
    back the frames, the other ranks nothing."""
    from ltx_core.model.video_vae import load_video_decoder
    from ltx_core.parallel.decode import distributed_tiled_decode

    case = load_case(Path(path))
    decoder = load_video_decoder(Path(path).parents[2] / case.params["checkpoint"])
    latent = decode_case_latent(case, seed)
    chunks = list(distributed_tiled_decode(decoder, latent, decode_case_tiling(case)))
    return {"video": torch.cat(chunks, dim=2)} if chunks else {}


def decode_case_latent(case: Any, seed: int | None) -> torch.Tensor:
    latent = case.inputs["latent"]
    if seed is None:
        return latent
    b, c, f, h, w = latent.shape
    return torch.randn(b, c, f + 1, h + 1, w, generator=torch.Generator().manual_seed(seed))


def decode_case_tiling(case: Any) -> Any:
    from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig

    t = case.params["tiling"]
    return TilingConfig(
        SpatialTilingConfig(t["tile_size_in_pixels"], t["tile_overlap_in_pixels"]),
        TemporalTilingConfig(t["tile_size_in_frames"], t["tile_overlap_in_frames"]),
    )


def sharded_weight_cases(
    rank: int, world: int, paths: list[str], sequence_parallel: bool = False, quantization: str | None = None
) -> dict[str, torch.Tensor]:
    """Every case through a transformer whose blocks are sharded over the default group (FSDP2), optionally with
    sequence parallelism over the same ranks and a `quantization` (fp8-cast); plus `<variant>.local_bytes` of the
    weights held."""
    from ltx_core.parallel.sequence import SequenceParallelTransformer
    from ltx_core.parallel.sharding import load_sharded_transformer, local_weight_bytes

    out: dict[str, torch.Tensor] = {}
    for path in map(Path, paths):
        case = load_case(path)
        golden = path.parents[2]
        loras = case_model_loras(case, golden)
        model = load_sharded_transformer(golden / case.params["checkpoint"], loras=loras, quantization=quantization)
        out[f"{path.parent.name}.local_bytes"] = torch.tensor(local_weight_bytes(model))
        runner = SequenceParallelTransformer(model) if sequence_parallel else model
        with torch.inference_mode():
            results = run_case(runner, case)
        for name, value in results.items():
            out[_key(path, name)] = value.clone()
    return out


def broadcast_case(rank: int, world: int, seed: int) -> dict[str, torch.Tensor]:
    """Rank 0's tensors and text reach every rank; then a fingerprint check that only rank 0 passes alike."""
    from ltx_core.errors import InputError
    from ltx_core.parallel.broadcast import broadcast_tensors, broadcast_text, check_same_everywhere, fingerprint

    g = torch.Generator().manual_seed(seed)
    mine = [torch.randn(2, 3, generator=g).bfloat16(), torch.arange(5), torch.ones(1, 4, dtype=torch.bool)]
    got = broadcast_tensors(mine if rank == 0 else None)
    (text,) = broadcast_text(["a prompt, ünïcode"] if rank == 0 else None)
    check_same_everywhere(fingerprint("same", 1), "the arguments")
    refused = torch.tensor(0)
    try:
        check_same_everywhere(fingerprint("seed", 1 if rank == 0 else 2), "the seeds")
    except InputError as exc:
        refused = torch.tensor(1 if str(exc).startswith("the seeds differ between the processes (rank 1") else -1)
    out = {f"t{i}": t for i, t in enumerate(got)}
    out["text_ok"] = torch.tensor(int(text == "a prompt, ünïcode"))
    out["refused"] = refused
    return out


def claims_case(rank: int, world: int, store_path: str, count: int) -> dict[str, torch.Tensor]:
    """The item indices this rank claims from a shared file store (ranks take turns sleeping to interleave)."""
    import time

    import torch.distributed as dist

    from ltx_core.parallel.work_queue import claimed

    store = dist.FileStore(store_path, world)
    taken = []
    for index in claimed(count, store):
        taken.append(index)
        time.sleep(0.01 * (rank + 1))  # uneven "job" times
    return {"taken": torch.tensor(taken, dtype=torch.int64)}
