"""DistilledPipeline on an LTX-2.5 file vs the official 1.2.0 runs (golden README_120 §6.3-6.4), tensor by tensor:
the 2.5 transformer (keyframe embedding, no prompt AdaLN, no FFN biases), the Euler-ancestral stage 1 drawing from
its own generator (seed + 10000), the duration head choosing the clip length (`auto`), the keyframes mask, the
diffusion video decoder and the BWE vocoder. Each case runs from its precomputed contexts (the text path has its own
golden tests), in bf16 on the CPU, with the 1.2.0 numerics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ltx_core.model.duration_head import AutoDuration
from ltx_core.testing.golden import GoldenCase, golden_dir, load_case, ltx25_e2e_cases
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.testing.golden_replay import Bf16Steps, assert_recorded_match, golden_contexts, parity_tolerance
from ltx_pipelines.utils.helpers import ImageConditioningInput

CASES = ltx25_e2e_cases("ltx25_distilled_*")
EXACT = ("noise", "positions", "denoise_mask", "keyframes_mask", "sigmas", "step_index", "video_frames")
# The diffusion decoder in bf16 is bitwise the official CPU decode under the AVX2 caps: the default attention on the
# CPU cuts the neighbourhood attention into the official eager fallback's SDPA calls, and the Linears see the official
# layouts (docs/numerics.md, "The diffusion video decoder in bf16").
NOT_COMPARED = ("image_after_crf",)  # the official libx264 round trip (build-dependent): we start from its output


def _request(case: GoldenCase) -> int | AutoDuration:
    asked = case.params["num_frames_request"]
    if isinstance(asked, dict):
        return AutoDuration(**asked["auto_duration"])
    return int(asked)


@pytest.fixture(scope="module", params=CASES or [None], ids=lambda p: p.stem if p else "none")
def run(request: pytest.FixtureRequest) -> tuple[GoldenCase, dict[str, torch.Tensor]]:
    if request.param is None:
        pytest.skip(f"no LTX-2.5 end-to-end cases under {golden_dir()} (e2e_120/)")
    case = load_case(request.param)
    p, inp = case.params, case.inputs
    pipeline = DistilledPipeline(case.file(p["checkpoint"]), None, case.file(p["upsampler"]), device="cpu")
    images = []
    if p.get("image_conditioning"):
        spec = p["image_conditioning"]
        # the official CRF round trip depends on the libx264 build: start from its output (CRF 0 skips ours)
        image = case.outputs["image_after_crf"].numpy()
        images = [ImageConditioningInput(image, spec["frame_idx"], spec["strength"], 0)]
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        golden_contexts(inp),
        seed=p["seed"],
        height=p["height"],
        width=p["width"],
        num_frames=_request(case),
        frame_rate=p["frame_rate"],
        images=images,
        tiling_config=None,
        record=lambda name, t: recorded.__setitem__(name, t.detach().clone()),
    )
    recorded["video_frames"] = torch.cat(list(result.video))
    recorded["audio_waveform"] = result.audio.waveform
    assert result.audio.sampling_rate == p["audio_sampling_rate"]
    return case, recorded


def test_every_recorded_tensor(run: tuple[GoldenCase, dict[str, torch.Tensor]]) -> None:
    case, got = run

    def bound(name: str) -> float | Bf16Steps:
        return 0.0 if name.endswith(EXACT) else Bf16Steps(1)

    compared = replace(case, outputs={k: v for k, v in case.outputs.items() if k not in NOT_COMPARED})
    assert_recorded_match(compared, got, parity_tolerance(case, bound))


def test_the_head_chose_the_recorded_length(run: tuple[GoldenCase, dict[str, torch.Tensor]]) -> None:
    case, got = run
    assert got["video_frames"].shape[0] == case.params["num_frames"]
    if "duration_seconds" in case.outputs:
        assert torch.equal(got["duration_seconds"], case.outputs["duration_seconds"])


def test_files_without_a_head_refuse_an_automatic_length(tmp_path: Path) -> None:
    from ltx_core.errors import InputError
    from ltx_core.testing.golden import component_checkpoints

    pipeline = DistilledPipeline(component_checkpoints()[0], None, tmp_path / "unread.safetensors", device="cpu")
    with pytest.raises(InputError, match="no duration head"):
        pipeline("a fox", seed=1, height=64, width=64, num_frames=AutoDuration(), frame_rate=24.0)
