"""Pipeline runs shared by tests: a golden guided end-to-end case (one-stage, two-stage, HQ, keyframe interpolation)
recording every intermediate (the parity test, and `parallel_guided_case` on several processes), and the tiny
distilled pipeline on several processes with a tiled decode or with each transformer placement: resident, sharded,
streamed (`run_ranks` rank functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ltx_core.loader import LoraSpec
from ltx_core.testing.golden import GoldenCase, load_case
from ltx_pipelines.keyframe_interpolation import KeyframeInterpolationPipeline
from ltx_pipelines.testing.golden_replay import golden_contexts, guider_params, recorder
from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline
from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline
from ltx_pipelines.ti2vid_two_stages_hq import TI2VidTwoStagesHQPipeline
from ltx_pipelines.utils.helpers import ImageConditioningInput

GUIDED_PIPELINES = ("ti2vid_one_stage", "ti2vid_two_stages", "ti2vid_two_stages_hq", "keyframe_interpolation")
# (name, sharded weights, offload): the ways `parallel_placed_distilled` holds the transformer
PLACEMENTS = (
    ("replicated", False, "none"),
    ("sharded", True, "none"),
    ("cpu", False, "cpu"),
    ("disk", False, "disk"),
    ("auto", False, "auto"),
)


def guided_case_images(case: GoldenCase) -> list[ImageConditioningInput]:
    """The case's images after the codec round trip (`image_after_crf`): our CRF emulation is off."""
    spec = case.params.get("image_conditioning") or []
    specs = spec if isinstance(spec, list) else [spec]
    out = []
    for i, s in enumerate(specs):
        key = "image_after_crf" if not isinstance(spec, list) else f"image_after_crf_{i}"
        out.append(ImageConditioningInput(case.inputs[key].numpy(), s["frame_idx"], s["strength"], 0))
    return out


def guided_case_pipeline(case: GoldenCase, **options: Any) -> Any:
    """The case's pipeline on the CPU with the case's numerics (`options`: `PipelineOptions`, e.g. `parallel`)."""
    p = case.params
    options.setdefault("numerics", case.numerics)
    ckpt = case.file(p["checkpoint"])
    lora = p.get("distilled_lora")
    if p["pipeline"] == "ti2vid_one_stage":
        return TI2VidOneStagePipeline(ckpt, None, device="cpu", **options)
    upsampler = case.file(p["upsampler"])
    if p["pipeline"] == "ti2vid_two_stages_hq":
        loras = [LoraSpec(case.file(lora["file"]))]
        strengths = (lora["stage_1_strength"], lora["stage_2_strength"])
        return TI2VidTwoStagesHQPipeline(ckpt, loras, *strengths, upsampler, None, device="cpu", **options)
    cls = KeyframeInterpolationPipeline if p["pipeline"] == "keyframe_interpolation" else TI2VidTwoStagesPipeline
    assert lora["stage_1_strength"] is None  # the distilled LoRA is a stage-2 LoRA here
    loras = [LoraSpec(case.file(lora["file"]), lora["stage_2_strength"])]
    return cls(ckpt, loras, upsampler, None, device="cpu", **options)


def run_guided_case(path: Path, **options: Any) -> dict[str, torch.Tensor]:
    """Every recorded tensor of the case, plus `video_frames` and `audio_waveform` (on every rank of a parallel
    run)."""
    case = load_case(path)
    p = case.params
    assert p["tiling"] is None
    recorded, record = recorder()
    result = guided_case_pipeline(case, **options)(
        golden_contexts(case.inputs),
        golden_contexts(case.inputs, "negative_"),
        seed=p["seed"],
        height=p["height"],
        width=p["width"],
        num_frames=p["num_frames"],
        frame_rate=p["frame_rate"],
        num_inference_steps=p["num_inference_steps"],
        video_guider_params=guider_params(p["video_guider"]),
        audio_guider_params=guider_params(p["audio_guider"]),
        images=guided_case_images(case),
        max_batch_size=p["max_batch_size"],
        record=record,
    )
    recorded["video_frames"] = torch.cat(list(result.video))
    recorded["audio_waveform"] = result.audio.waveform
    assert result.audio.sampling_rate == p["audio_sampling_rate"]
    return recorded


def parallel_guided_case(rank: int, world: int, path: str) -> dict[str, torch.Tensor]:
    """A rank of `ltx_core.testing.distributed.run_ranks`: the case with its guidance passes spread over `world`
    groups of one process each (`parallel/...`), and on rank 0 also in this process alone (`single/...`)."""
    from ltx_core.parallel.layout import init_layout

    layout = init_layout(guidance_degree=world)
    out = {f"parallel/{k}": v for k, v in run_guided_case(Path(path), parallel=layout).items()}
    if rank == 0:
        out.update({f"single/{k}": v for k, v in run_guided_case(Path(path)).items()})
    return out


def parallel_tiled_distilled(rank: int, world: int, tile_pixels: int, device: str = "cpu") -> dict[str, torch.Tensor]:
    """A rank of `run_ranks`: the distilled pipeline on the in-memory tiny LTX-2.3 models over `world` processes
    (guidance groups of one process each: the latents are the one-process bits), decoded in spatial tiles of
    `tile_pixels` spread over the ranks; what every rank gets (`_distilled_call`). `device`
    "cuda": each rank on its own GPU (NCCL)."""
    from ltx_core.model.video_vae import TilingConfig
    from ltx_core.model.video_vae.tiling import SpatialTilingConfig
    from ltx_core.parallel.layout import init_layout

    tiling = TilingConfig(SpatialTilingConfig(tile_pixels, 32), None)
    place = torch.device("cuda", rank) if device == "cuda" else torch.device(device)
    layout = init_layout(guidance_degree=world, device=place)
    return run_tiled_distilled(tiling, device=place, parallel=layout)


def run_tiled_distilled(tiling: Any, device: torch.device | str = "cpu", **options: Any) -> dict[str, torch.Tensor]:
    """The distilled pipeline (in-memory tiny LTX-2.3 models, precomputed contexts) with a tiled decode: its final
    video latent, frames and waveform."""
    from ltx_core.testing.in_memory import tiny_in_memory_models
    from ltx_pipelines.distilled import DistilledPipeline

    models = tiny_in_memory_models("ltx23")
    pipeline = DistilledPipeline(models, None, models, device=device, **options)
    return _distilled_call(pipeline, 128, 192, tiling)


def parallel_placed_distilled(rank: int, world: int, folder: str) -> dict[str, torch.Tensor]:
    """A rank of `run_ranks`: the distilled pipeline on the tiny checkpoint files in `folder` (precomputed contexts)
    with the video tokens split over every process, its transformer held each way a run can hold it: replicated and
    resident (`replicated/...`), its blocks sharded over the processes (`sharded/...`), streamed from RAM (`cpu/...`)
    or from the file (`disk/...`), or as `--offload auto` decides when the last rank has no RAM to spare and the
    others plenty (`auto/...`); each run's final video latent, frames and waveform. Rank 0 also runs it alone
    (`single/...`: one process, resident). Plus the bytes of transformer weights this rank held in the replicated and
    sharded runs (`held_bytes`) and those of the blocks alone when replicated (`block_bytes`), the offload mode the
    auto run chose here (`auto_mode`: its index in `OffloadMode`) and the "offload:" lines this rank logged
    (`offload_lines`)."""
    import logging
    from unittest import mock

    from ltx_core.offload import policy
    from ltx_core.parallel.layout import init_layout
    from ltx_core.parallel.sharding import local_weight_bytes
    from ltx_pipelines.utils.blocks.stage import TransformerRuntime

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    stage_logger = logging.getLogger("ltx_pipelines.utils.blocks.stage")
    stage_logger.addHandler(handler)
    stage_logger.setLevel(logging.INFO)
    ram = policy.DEFAULT_RAM_RESERVE_BYTES if rank == world - 1 else 2**40  # what `probe_memory` finds in "auto"
    out, held = {}, []
    for name, sharded, offload in PLACEMENTS:
        pipeline = _file_distilled(
            folder, parallel=init_layout(sharded_weights=sharded), runtime=TransformerRuntime(offload=offload)
        )
        pipeline.cache_transformer = True  # kept after the call, to be measured
        memory = policy.MemoryInfo("cpu", None, ram) if name == "auto" else policy.probe_memory("cpu")
        with mock.patch.object(policy, "probe_memory", return_value=memory):
            out.update(_named(name, _distilled_call(pipeline, 64, 128)))
        transformer = pipeline.stage._inner
        if name in ("replicated", "sharded"):
            held.append(local_weight_bytes(transformer))
        if name == "replicated":
            out["block_bytes"] = torch.tensor(local_weight_bytes(transformer.transformer_blocks))
        if name == "auto":
            out["auto_mode"] = torch.tensor(list(policy.OffloadMode).index(pipeline.stage.offload_choice.mode))
        pipeline.release()
    out["held_bytes"] = torch.tensor(held)
    out["offload_lines"] = torch.tensor(sum(line.startswith("offload:") for line in lines))
    stage_logger.removeHandler(handler)
    if rank == 0:
        out.update(_named("single", _distilled_call(_file_distilled(folder), 64, 128)))
    return out


def _named(name: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{name}/{key}": value for key, value in tensors.items()}


def _file_distilled(folder: str | Path, **options: Any) -> Any:
    """The distilled pipeline on the tiny checkpoint files in `folder`, on the CPU (`options`: `PipelineOptions`)."""
    from ltx_pipelines.distilled import DistilledPipeline

    root = Path(folder)
    return DistilledPipeline(
        root / "distilled.safetensors", None, root / "spatial_upsampler_x2.safetensors", device="cpu", **options
    )


def _distilled_call(pipeline: Any, height: int, width: int, tiling: Any = None) -> dict[str, torch.Tensor]:
    """One call with the tiny precomputed contexts; the final video latent, the frames (read to the end) and the
    waveform this process got (every process of a parallel run gets them)."""
    from ltx_core.testing.in_memory import tiny_prompt_contexts

    result = pipeline(
        tiny_prompt_contexts("ltx23"),
        seed=3,
        height=height,
        width=width,
        num_frames=9,
        frame_rate=24.0,
        tiling_config=tiling,
    )
    with result.video:
        frames = torch.cat(list(result.video)).cpu()
    return {"video_latent": result.video_latent.cpu(), "frames": frames, "audio": result.audio.waveform.cpu()}
