"""DFR (spec new_pipelines §4) vs the official 1.2.0 runs `e2e_120/ltx25_dfr_r0` / `ltx25_dfr_r1` (README_120_pipelines
§5), tensor by tensor: the canvas and its keyframe slots, stage 1 at half size, both spatial upsampler calls, stage 2,
and (r1) one temporal round: the temporal upsampler, two Euler-ancestral tiles anchored on the carried keyframes, the
stitch, the trim, the stage-1 audio cut to the video. The detailing IC-LoRA and a second round have no recording:
`test_dfr_layout.py` checks the layout against the spec's worked examples and formulas."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ltx_core.loader import LoraSpec
from ltx_core.testing.golden import GoldenCase, golden_dir, load_case, pipeline_cases_120
from ltx_core.testing.tiny_dfr import write_tiny_detailing_lora
from ltx_pipelines.dfr_pipeline import DFRPipeline, detailing_downscale_factor
from ltx_pipelines.testing.golden_replay import Bf16Steps, assert_recorded_match, golden_contexts, parity_tolerance
from ltx_pipelines.utils.dfr_layout import resolve_canvas, tile_ranges

CASES = pipeline_cases_120("ltx25_dfr_*")
EXACT = ("noise", "positions", "denoise_mask", "keyframes_mask", "sigmas", "step_index", "video_frames")


@pytest.fixture(scope="module", params=CASES or [None], ids=lambda p: p.stem if p else "none")
def run(request: pytest.FixtureRequest) -> tuple[GoldenCase, dict[str, torch.Tensor]]:
    if request.param is None:
        pytest.skip(f"no DFR cases under {golden_dir()} (e2e_120/ltx25_dfr_*)")
    case = load_case(request.param)
    p = case.params
    temporal = p["temporal_upsampler"]
    pipeline = DFRPipeline(
        case.file(p["checkpoint"]),
        [LoraSpec(case.file(p["distilled_lora"]["file"]), p["distilled_lora"]["strength"])],
        case.file(p["upsampler"]),
        None,
        temporal_upsampler_path=None if temporal is None else case.file(temporal),
        device="cpu",
    )
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        golden_contexts(case.inputs),
        seed=p["seed"],
        height=p["height"],
        width=p["width"],
        num_frames=p["num_frames_request"],
        frame_rate=p["frame_rate"],
        temporal_upsample_rounds=p["temporal_upsample_rounds"],
        tiling_config=None,
        record=lambda name, t: recorded.__setitem__(name, t.detach().clone()),
    )
    recorded["video_frames"] = torch.cat(list(result.video))
    recorded["audio_waveform"] = result.audio.waveform
    assert result.frame_rate == p["playback_fps"]
    return case, recorded


def test_every_recorded_tensor(run: tuple[GoldenCase, dict[str, torch.Tensor]]) -> None:
    case, got = run

    def bound(name: str) -> float | Bf16Steps:
        if name == "audio_waveform":  # the shared audio decoder on a bitwise-equal stage-1 latent: in r1 a small
            return Bf16Steps(1, of_peak=True)  # sample lands 0.0039 off the official vocoder's (float32 on the CPU)
        return 0.0 if name.endswith(EXACT) else Bf16Steps(1)

    assert_recorded_match(case, got, parity_tolerance(case, bound))


def test_the_recorded_layout(run: tuple[GoldenCase, dict[str, torch.Tensor]]) -> None:
    case, got = run
    layout = case.params["layout"]
    canvas = resolve_canvas(layout["requested_frames"])
    assert (canvas.frames, canvas.segment, list(canvas.keyframes)) == (
        layout["canvas_frames"],
        layout["segment"],
        layout["keyframe_positions"],
    )
    for r in layout["rounds"]:
        tiles = tile_ranges(tuple(r["seams"]), 2 ** r["round"])
        assert [
            {
                "anchor_kf_global": list(t.anchors),
                "drop_latent_prefix": t.drop,
                "latent_end_exclusive": t.latent_end,
                "latent_start": t.latent_start,
                "pixel_end": t.pixel_end,
                "pixel_start": t.pixel_start,
                "slot_kf_global": list(t.slots),
            }
            for t in tiles
        ] == r["tiles"]
    assert got["video_frames"].shape[0] == layout["output_frames"]


def test_refusals_before_any_model(tmp_path: Path) -> None:
    from ltx_core.errors import InputError
    from ltx_core.testing.golden import component_checkpoints

    lora = [LoraSpec(tmp_path / "unread.safetensors", 1.0)]
    with pytest.raises(InputError, match=r"no keyframe embedding .* which DFR"):
        DFRPipeline(component_checkpoints()[0], lora, tmp_path / "unread.safetensors", None, device="cpu")
    if not CASES:
        return
    case = load_case(CASES[0])
    pipeline = DFRPipeline(case.file(case.params["checkpoint"]), lora, tmp_path / "unread.safetensors", None)
    call = {"prompt": "a fox", "seed": 1, "height": 64, "width": 64, "num_frames": 41, "frame_rate": 24.0}
    with pytest.raises(InputError, match="need the temporal upsampler: pass --temporal-upsampler-path"):
        pipeline(**call, temporal_upsample_rounds=1)
    with pytest.raises(InputError, match="temporal_upsample_rounds 3 is not one of 0, 1, 2"):
        pipeline(**call, temporal_upsample_rounds=3)
    with pytest.raises(InputError, match="8k\\+1"):
        pipeline(**{**call, "num_frames": 1})


def test_the_detailing_reference_factor(tmp_path: Path) -> None:
    # spec §4.5: the LoRA metadata reference_downscale_factor when present, else 2 (not the IC-LoRA pipeline's 1)
    if not CASES:
        pytest.skip(f"no DFR cases under {golden_dir()} (e2e_120/ltx25_dfr_*)")
    case = load_case(CASES[0])
    checkpoint = case.file(case.params["checkpoint"])
    stated = write_tiny_detailing_lora(tmp_path / "three.safetensors", checkpoint, downscale_factor=3)
    silent = write_tiny_detailing_lora(tmp_path / "none.safetensors", checkpoint, downscale_factor=None)
    assert detailing_downscale_factor(stated) == 3
    assert detailing_downscale_factor(silent) == 2


class _StopAfterStage2Noise(Exception):
    pass


def test_the_detailing_lora_in_stage_2_only(tmp_path: Path) -> None:
    """No recording has a detailing IC-LoRA: checked against the spec (§4.5) instead, stopped before stage 2's loop.
    Stage 1 is the recorded one bit for bit; stage 2 fuses the detailing LoRA and appends the half-size stage-1
    latent after the slots as a clean reference (mask 0, not a keyframe) whose spatial positions are the reference
    grid's scaled by the factor d = 2 (so they span the full-size frame)."""
    if not CASES:
        pytest.skip(f"no DFR cases under {golden_dir()} (e2e_120/ltx25_dfr_*)")
    case = load_case(next(c for c in CASES if c.stem.endswith("r0")))
    p = case.params
    checkpoint = case.file(p["checkpoint"])
    detailing = LoraSpec(write_tiny_detailing_lora(tmp_path / "detailing.safetensors", checkpoint, seed=5), 0.7)
    distilled = LoraSpec(case.file(p["distilled_lora"]["file"]), p["distilled_lora"]["strength"])
    pipeline = DFRPipeline(checkpoint, [distilled], case.file(p["upsampler"]), None, detailing_lora=detailing)
    recorded: dict[str, torch.Tensor] = {}
    fused_in_stage_2: list[tuple[LoraSpec, ...]] = []

    def record(name: str, tensor: torch.Tensor) -> None:
        recorded[name] = tensor.detach().clone()
        if name == "stage2_video_keyframes_mask":  # the last record of stage 2's noised video state
            fused_in_stage_2.append(pipeline.stage.loras)
            raise _StopAfterStage2Noise

    with pytest.raises(_StopAfterStage2Noise):
        pipeline(
            golden_contexts(case.inputs),
            seed=p["seed"],
            height=p["height"],
            width=p["width"],
            num_frames=p["num_frames_request"],
            frame_rate=p["frame_rate"],
            record=record,
        )
    assert fused_in_stage_2 == [(distilled, detailing)] and pipeline.stage.loras == (distilled,)
    stage_1 = {"stage1_video_latent": recorded["stage1_video_latent"]}  # stage 1 untouched by the detailing LoRA
    expected = replace(case, outputs={k: case.outputs[k] for k in stage_1})
    assert_recorded_match(expected, stage_1, parity_tolerance(case, lambda _: 0.0))  # bitwise on the same kernels
    reference = recorded["stage1_reserved_video_latent"]
    _, _, f, h, w = reference.shape
    n_ref = f * h * w
    golden_tokens = case.outputs["stage2_video_positions"].shape[2]  # video + slots, no reference
    positions = recorded["stage2_video_positions"]
    assert positions.shape[2] == golden_tokens + n_ref
    assert torch.equal(positions[:, :, :golden_tokens], case.outputs["stage2_video_positions"])
    ref_positions = positions[0, :, golden_tokens:]
    # the reference grid (h x w latent cells of 32 px) scaled by d = 2: cell (i, j) spans [64 i, 64 i + 64)
    rows = torch.arange(h).repeat_interleave(w).repeat(f).float()
    cols = torch.arange(w).repeat(h * f).float()
    assert torch.equal(ref_positions[1], torch.stack([64 * rows, 64 * rows + 64], dim=-1))
    assert torch.equal(ref_positions[2], torch.stack([64 * cols, 64 * cols + 64], dim=-1))
    assert torch.equal(ref_positions[0], case.outputs["stage1_video_positions"][0, 0, :n_ref])  # the same times
    assert recorded["stage2_video_denoise_mask"][0, golden_tokens:].eq(0).all()
    assert recorded["stage2_video_keyframes_mask"][0, golden_tokens:].eq(0).all()
    assert torch.equal(recorded["stage2_video_clean_latent"][0, golden_tokens:], reference[0].flatten(1).T)
