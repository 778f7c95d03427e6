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
        adapter = GuidanceParallelAdapter(
            X0Model(model), 1, index=layout.guidance_index, count=layout.guidance_degree, group=layout.guidance_group
        )
        video, audio, ptb = case_arguments(case)
        with torch.no_grad():
            v_x0, a_x0 = adapter(video, audio, ptb)
        out[_key(path, "video_x0")] = v_x0
        out[_key(path, "audio_x0")] = a_x0
    return out


def distributed_decode_case(rank: int, world: int, path: str, seed: int | None = None) -> dict[str, torch.Tensor]:
    """A golden tiled-decode case through `distributed_tiled_decode` over the default group (with `seed`: a random
    latent of one more latent frame and row than the case's, same channels, for a plan with more tiles); every rank
    hands back the frames."""
    from ltx_core.model.video_vae import load_video_decoder
    from ltx_core.parallel.decode import distributed_tiled_decode

    case = load_case(Path(path))
    decoder = load_video_decoder(Path(path).parents[2] / case.params["checkpoint"])
    latent = decode_case_latent(case, seed)
    chunks = list(distributed_tiled_decode(decoder, latent, decode_case_tiling(case), numerics=case.numerics))
    return {"video": torch.cat(chunks, dim=2)}


def diffusion_case_tiling(params: list[dict[str, Any]]) -> Any:
    """A `TileSizeConfig` tiling every axis some of the golden diffusion-decoder cases tile (their `tiling` params)."""
    from ltx_core.model.video_vae.tiling import TileSizeConfig

    axes = {a: (0, 0) for a in ("frames", "height", "width")}
    for p in params:
        for axis, value in (p.get("tiling") or {}).items():
            if value["tile_size"]:
                axes[axis] = (value["tile_size"], value["overlap"])
    return TileSizeConfig(**axes)


def distributed_diffusion_decode(
    rank: int, world: int, checkpoints: list[str], latent_case: str, tiling_cases: list[str]
) -> dict[str, torch.Tensor]:
    """Each LTX-2.5 diffusion-decoder file's tiled decode of a golden case's latent through
    `distributed_tiled_decode` over the default group, from a generator seeded with the case's seed: the frames
    (`<file stem>.video`) and the generator's next draws after it (`<file stem>.after`)."""
    from ltx_core.model.video_vae import load_video_decoder
    from ltx_core.parallel.decode import distributed_tiled_decode

    case = load_case(Path(latent_case))
    tiling = diffusion_case_tiling([load_case(Path(p)).params for p in tiling_cases])
    out: dict[str, torch.Tensor] = {}
    for checkpoint in map(Path, checkpoints):
        decoder = load_video_decoder(checkpoint)
        generator = torch.Generator().manual_seed(case.params["generator_seed"])
        chunks = list(distributed_tiled_decode(decoder, case.inputs["latent"], tiling, generator=generator))
        out[f"{checkpoint.stem}.video"] = torch.cat(chunks, dim=2)
        out[f"{checkpoint.stem}.after"] = torch.randn(4, generator=generator)
    return out


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
        model = load_sharded_transformer(
            golden / case.params["checkpoint"], loras=loras, quantization=quantization, numerics=case.numerics
        )
        out[f"{path.parent.name}.local_bytes"] = torch.tensor(local_weight_bytes(model))
        runner = SequenceParallelTransformer(model) if sequence_parallel else model
        with torch.inference_mode():
            results = run_case(runner, case)
        for name, value in results.items():
            out[_key(path, name)] = value.clone()
    return out


def broadcast_case(rank: int, world: int, seed: int) -> dict[str, torch.Tensor]:
    """Rank 0's tensors and text reach every rank; a tensor the broadcast cannot describe is refused by every rank
    (`refused_dtype`, `refused_dims`: 1 when this rank raised the source's message); a fingerprint check that only
    rank 0 passes alike; arguments where the last rank holds another seed and every rank another device
    (`arguments`: this rank's message, as UTF-8 bytes)."""
    from ltx_core.errors import InputError
    from ltx_core.parallel.broadcast import (
        broadcast_tensors,
        broadcast_text,
        check_same_arguments,
        check_same_everywhere,
        fingerprint,
    )

    g = torch.Generator().manual_seed(seed)
    mine = [torch.randn(2, 3, generator=g).bfloat16(), torch.arange(5), torch.ones(1, 4, dtype=torch.bool)]
    got = broadcast_tensors(mine if rank == 0 else None)
    (text,) = broadcast_text(["a prompt, ünïcode"] if rank == 0 else None)
    out = {f"t{i}": t for i, t in enumerate(got)}
    out["text_ok"] = torch.tensor(int(text == "a prompt, ünïcode"))
    for name, bad, expected in (
        ("refused_dtype", torch.zeros(2, dtype=torch.complex64), "cannot broadcast a torch.complex64 tensor; valid"),
        ("refused_dims", torch.zeros([1] * 9), "cannot broadcast a tensor of 9 dimensions; at most 8"),
    ):
        try:
            broadcast_tensors([torch.ones(1), bad] if rank == 0 else None)
            out[name] = torch.tensor(0)
        except TypeError as exc:
            out[name] = torch.tensor(int(str(exc).startswith(expected)))
    check_same_everywhere(fingerprint("same", 1), "the arguments")
    refused = torch.tensor(0)
    try:
        check_same_everywhere(fingerprint("seed", 1 if rank == 0 else 2), "the seeds")
    except InputError as exc:
        refused = torch.tensor(1 if str(exc).startswith("the seeds differ between the processes (rank 1") else -1)
    out["refused"] = refused
    arguments = [("--prompt", "a fox"), ("--seed", 12345 if rank == world - 1 else 10), ("--device", f"cuda:{rank}")]
    check_same_arguments(arguments[:1])
    try:
        check_same_arguments(arguments, hint="; start them alike")
        message = ""
    except InputError as exc:
        message = str(exc)
    out["arguments"] = torch.tensor(list(message.encode()), dtype=torch.uint8)
    return out


def liveness_case(rank: int, world: int, timeout: float) -> dict[str, torch.Tensor]:
    """Three scenes on `world` (3) processes with `timeout` (seconds) for every group and heartbeat:

    - `busy`: rank 0 works alone for 2.5 timeouts (Gemma, say) before sharing its result: the others receive it;
    - `gate`: rank 0 is stopped (SIGSTOP) before sharing: the others give up on it after about `timeout`;
    - `exchange`: rank 1 is stopped before an all-gather of the sequence group: ranks 0 and 2 fail in it after
      `timeout` and name rank 1.

    A stopped rank is resumed (SIGCONT) once the others have reported. Per scene: `<scene>/seconds` this rank waited,
    `<scene>/lost` the ranks its error named (`-1`: no error); `busy/value` what it received."""
    import os
    import signal
    import time
    from datetime import timedelta

    import torch.distributed as dist

    from ltx_core.errors import LostProcessError
    from ltx_core.parallel.layout import init_layout
    from ltx_core.parallel.liveness import is_lost_contact, lost_contact

    store = dist.distributed_c10d._get_default_store()
    store.set(f"test/pid{rank}", str(os.getpid()))
    out: dict[str, torch.Tensor] = {}

    def report(scene: str, began: float, lost: tuple[int, ...] | None) -> None:
        out[f"{scene}/seconds"] = torch.tensor(time.monotonic() - began)
        out[f"{scene}/lost"] = torch.tensor(lost if lost is not None else (-1,), dtype=torch.int64)

    def reported(scene: str, stopped: int) -> None:
        """The last of the other ranks to report resumes the stopped one."""
        if store.add(f"test/{scene}/reported", 1) == world - 1:
            os.kill(int(store.get(f"test/pid{stopped}")), signal.SIGCONT)

    layout = init_layout(timeout=timedelta(seconds=timeout))
    began = time.monotonic()
    if rank == 0:
        time.sleep(2.5 * timeout)
    (value,) = layout.share([torch.tensor([7.0])] if rank == 0 else None, torch.device("cpu"))
    report("busy", began, None)
    out["busy/value"] = value

    layout = init_layout(timeout=timedelta(seconds=timeout))  # fresh groups and wait points for each scene
    began = time.monotonic()
    if rank == 0:
        os.kill(os.getpid(), signal.SIGSTOP)
    else:
        try:
            layout.share(None, torch.device("cpu"))
            report("gate", began, None)
        except LostProcessError as exc:
            report("gate", began, exc.ranks)
        reported("gate", 0)

    layout = init_layout(timeout=timedelta(seconds=timeout))
    began = time.monotonic()
    if rank == 1:
        os.kill(os.getpid(), signal.SIGSTOP)
    else:
        parts = [torch.zeros(1) for _ in range(world)]
        try:
            dist.all_gather(parts, torch.ones(1), group=layout.sequence_group)
            report("exchange", began, None)
        except RuntimeError as exc:
            assert is_lost_contact(exc), exc
            report("exchange", began, lost_contact(exc, layout.ranks).ranks)
        reported("exchange", 1)
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
