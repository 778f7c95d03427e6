"""Generated keyframe slots (`generated_keyframes=N`, spec new_pipelines §8, delta B.4) vs the official 1.2.0 run
`e2e_120/ltx25_distilled_genkf` (README_120_pipelines §6), tensor by tensor: the slot block appended after the video
tokens in stage 1 (keyframes mask 1, one pixel frame of time), its latents handed back undecoded; and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.conditioning.generated_keyframes import evenly_spaced_keyframes
from ltx_core.errors import InputError
from ltx_core.testing.golden import GoldenCase, golden_dir, load_case, pipeline_cases_120
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.testing.golden_replay import Bf16Steps, assert_recorded_match, golden_contexts, parity_tolerance

CASES = pipeline_cases_120("ltx25_distilled_genkf")
EXACT = ("noise", "positions", "denoise_mask", "keyframes_mask", "sigmas", "step_index", "video_frames")


@pytest.fixture(scope="module")
def run() -> tuple[GoldenCase, dict[str, torch.Tensor], object]:
    if not CASES:
        pytest.skip(f"no generated-keyframe case under {golden_dir()} (e2e_120/ltx25_distilled_genkf)")
    case = load_case(CASES[0])
    p = case.params
    pipeline = DistilledPipeline(case.file(p["checkpoint"]), None, case.file(p["upsampler"]), device="cpu")
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        golden_contexts(case.inputs),
        seed=p["seed"],
        height=p["height"],
        width=p["width"],
        num_frames=p["num_frames"],
        frame_rate=p["frame_rate"],
        tiling_config=None,
        generated_keyframes=p["generated_keyframes"],
        record=lambda name, t: recorded.__setitem__(name, t.detach().clone()),
    )
    recorded["video_frames"] = torch.cat(list(result.video))
    recorded["audio_waveform"] = result.audio.waveform
    return case, recorded, result


def test_every_recorded_tensor(run: tuple[GoldenCase, dict[str, torch.Tensor], object]) -> None:
    case, got, _ = run

    def bound(name: str) -> float | Bf16Steps:
        return 0.0 if name.endswith(EXACT) else Bf16Steps(1)

    assert_recorded_match(case, got, parity_tolerance(case, bound))


def test_the_slots_are_returned_undecoded(run: tuple[GoldenCase, dict[str, torch.Tensor], object]) -> None:
    case, got, result = run
    p = case.params
    assert evenly_spaced_keyframes(p["generated_keyframes"], p["num_frames"]) == p["generated_keyframe_positions"]
    assert torch.equal(result.generated_keyframes, got["stage1_video_generated_keyframes"])  # type: ignore[attr-defined]
    assert got["video_frames"].shape[0] == p["num_frames"]  # the slots add no decoded frame
    assert "stage2_video_generated_keyframes" not in got  # stage 1 only


def test_evenly_spaced_positions_by_hand() -> None:
    # round(linspace(0, F - 1, N + 2))[1:-1], float32, half to even: 0, 2.5, 5 -> 2 (not 3); 0, 8, 16 -> 8
    assert evenly_spaced_keyframes(1, 6) == [2]
    assert evenly_spaced_keyframes(1, 17) == [8]
    assert evenly_spaced_keyframes(3, 121) == [30, 60, 90]
    assert evenly_spaced_keyframes(0, 9) == []
    with pytest.raises(InputError, match="need at least 4 frames, got 3"):
        evenly_spaced_keyframes(2, 3)


def test_files_without_the_keyframe_embedding_refuse_slots(tmp_path: Path) -> None:
    from ltx_core.testing.golden import component_checkpoints

    checkpoint = component_checkpoints()[0]  # LTX-2: no keyframe embedding
    pipeline = DistilledPipeline(checkpoint, None, tmp_path / "unread.safetensors", device="cpu")
    with pytest.raises(InputError, match="no keyframe embedding") as error:
        pipeline("a fox", seed=1, height=64, width=64, num_frames=17, frame_rate=24.0, generated_keyframes=1)
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def keyframe_models() -> object:
    """The shared tester's tiny LTX-2.3 modules with a transformer that has the keyframe embedding (the golden
    recording covers the distilled pipeline only)."""
    from ltx_core.model.transformer import build_transformer
    from ltx_core.testing.in_memory import InMemoryModels, tiny_modules

    config, modules = tiny_modules("ltx23")
    config = {**config, "transformer": {**config["transformer"], "use_keyframes_abs_pos_embedding": True}}
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(3)
        transformer = build_transformer(config)
        torch.nn.init.normal_(transformer.keyframes_abs_pos_embedding, std=0.5)
    finally:
        torch.random.set_rng_state(state)
    modules = {**modules, "transformer": transformer.to(torch.bfloat16).eval()}
    return InMemoryModels(config, modules, name="tiny-keyframes.safetensors")


@pytest.mark.parametrize("pipeline_name", ["ti2vid_one_stage", "ti2vid_two_stages"])
def test_slots_in_the_guided_pipelines(keyframe_models: object, components: object, pipeline_name: str) -> None:
    """Slots at round(linspace(0, 16, 4))[1:-1] = 5, 11 of 17 frames: two latent frames of tokens after the video,
    time [k, k + 1) / fps, keyframes mask 1, returned undecoded; stage 1 only in the two-stage flow."""
    from ltx_core.components.guiders import MultiModalGuiderParams
    from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline
    from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline

    c = components
    if pipeline_name == "ti2vid_one_stage":
        pipeline = TI2VidOneStagePipeline(keyframe_models, None, device="cpu")
        size, sigmas = 32, {"sigmas": (1.0, 0.5, 0.0)}
    else:
        pipeline = TI2VidTwoStagesPipeline(keyframe_models, [c.lora], keyframe_models, None, device="cpu")  # type: ignore[attr-defined]
        size, sigmas = 64, {"stage_1_sigmas": (1.0, 0.5, 0.0), "stage_2_sigmas": (0.909375, 0.0)}
    guider = MultiModalGuiderParams(cfg_scale=2.0)
    recorded: dict[str, torch.Tensor] = {}
    frames, fps = 17, 24.0
    result = pipeline(
        c.positive,  # type: ignore[attr-defined]
        c.negative,  # type: ignore[attr-defined]
        seed=4,
        height=size,
        width=size,
        num_frames=frames,
        frame_rate=fps,
        num_inference_steps=2,
        video_guider_params=guider,
        audio_guider_params=guider,
        generated_keyframes=2,
        record=lambda name, t: recorded.__setitem__(name, t.detach().clone()),
        **{k: torch.tensor(v) for k, v in sigmas.items()},
    )
    result.video.close()  # the slots are not decoded: the frames are the other tests' business
    h = w = size // 2 // 32 if pipeline_name != "ti2vid_one_stage" else size // 32
    slots = result.generated_keyframes
    assert slots is not None and tuple(slots.shape) == (1, result.video_latent.shape[1], 2, h, w)
    assert torch.equal(slots, recorded["stage1_video_generated_keyframes"])
    per_slot = h * w
    positions = recorded["stage1_video_positions"][0, :, -2 * per_slot :]
    expected_time = torch.tensor([[5.0, 6.0]] * per_slot + [[11.0, 12.0]] * per_slot) / fps
    assert torch.equal(positions[0], expected_time)
    keyframes = recorded["stage1_video_keyframes_mask"][0, :, 0]
    assert keyframes[-2 * per_slot :].eq(1).all() and keyframes[per_slot : -2 * per_slot].eq(0).all()
    assert "stage2_video_generated_keyframes" not in recorded
