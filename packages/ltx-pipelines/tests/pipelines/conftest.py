"""The shared pipeline tester: every pipeline built from in-memory components (diffusers' dummy-component tests).

Each of the ten pipelines is described once by a `PipelineCase`: how to build it from `InMemoryModels` (random tiny
modules, no checkpoint file read; the LoRAs are tiny files made from the same transformer) and how to call it with
precomputed prompt contexts at a given seed and size. Test functions that take a `pipeline_case` argument run once per
pipeline (`pytest_generate_tests`); `components` is built once per session. `test_pipelines_common.py` checks, for
every case: it runs;
the output shapes (frames, height, width, audio rate and length); the same seed gives bitwise the same output and
another seed another one; bad input raises a one-line `LTXError` before any model is built; explicit sigmas win over
the default schedule. The per-pipeline test files add only their own cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.loader import LoraSpec
from ltx_core.testing.in_memory import InMemoryModels, tiny_in_memory_models, tiny_prompt_contexts
from ltx_core.types import Audio

VERSION = "ltx23"
HEIGHT = WIDTH = 64  # the smallest two-stage size
FRAMES, FPS = 9, 24.0  # 2 latent frames: the smallest two-stage latent the upsampler's GroupNorm takes at 64 px
RATE = 16000  # the source media's audio rate (retake, A2Vid, lip-dub)
GUIDED = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,))
STAGE_1 = (1.0, 0.5, 0.0)  # explicit schedules: shorter than every default, so the tests stay fast
STAGE_2 = (0.909375, 0.0)


@dataclass(frozen=True)
class Components:
    """What every case builds from: the in-memory models (as dev and as distilled checkpoint), LoRA files made from
    their transformer, and precomputed positive / negative contexts."""

    distilled: InMemoryModels
    dev: InMemoryModels
    lora: LoraSpec
    ic_lora: LoraSpec
    positive: Any
    negative: Any


def make_components(folder: Path) -> Components:
    """The tiny in-memory models of `VERSION` and their LoRAs (written into `folder`)."""
    from ltx_core.model.transformer import transformer_checkpoint_state_dict
    from ltx_core.testing.tiny_checkpoints import LORA_RANK, _save, transformer_lora_state_dict

    models = tiny_in_memory_models(VERSION, seed=0, name="tiny-distilled.safetensors")
    state = transformer_checkpoint_state_dict(models.build("transformer", dtype=None, device=torch.device("cpu")))
    rng = torch.random.get_rng_state()
    try:
        torch.manual_seed(1)
        lora, ic_lora = transformer_lora_state_dict(state, LORA_RANK), transformer_lora_state_dict(state, LORA_RANK)
    finally:
        torch.random.set_rng_state(rng)
    _save(folder / "lora.safetensors", lora, {"format": "pt"})
    ic_meta = {"format": "pt", "reference_downscale_factor": "1"}  # a full-size reference: 64 px outputs work
    _save(folder / "ic_lora.safetensors", ic_lora, ic_meta)
    return Components(
        distilled=models,
        dev=models.renamed("tiny-dev.safetensors"),
        lora=LoraSpec(folder / "lora.safetensors", 0.8),
        ic_lora=LoraSpec(folder / "ic_lora.safetensors"),
        positive=tiny_prompt_contexts(VERSION, seed=0),
        negative=tiny_prompt_contexts(VERSION, seed=1),
    )


def source_frames(frames: int = FRAMES, size: int = HEIGHT) -> torch.Tensor:
    """A smooth uint8 clip `[frames, size, size, 3]` (retake, IC-LoRA and lip-dub references)."""
    small = torch.rand(1, 3, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    big = torch.nn.functional.interpolate(small, size=(frames, size, size), mode="trilinear")
    return (big[0].permute(1, 2, 3, 0) * 255).to(torch.uint8)


def tones(seconds: float) -> Audio:
    t = torch.arange(round(seconds * RATE)) / RATE
    return Audio(torch.stack([0.5 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 330.0)]).float(), RATE)


Call = Callable[..., Any]  # (pipeline, components, seed, **overrides) → result


@dataclass(frozen=True)
class PipelineCase:
    """One pipeline as the shared tester sees it.

    `build(components)` makes it; `call(pipeline, components, seed, **overrides)` runs it at HEIGHT x WIDTH x FRAMES
    with the explicit schedules in `sigmas` (argument name → values; the recorder sees them under `recorded`);
    `bad` maps a description to (overrides, message pattern) of input that must fail with a one-line `LTXError`.
    `audio_rate` is the output's audio sampling rate (None: the vocoder's); `sound_only`: the result has audio and no
    video (text to audio)."""

    name: str
    build: Callable[[Components], Any]
    call: Call
    sigmas: dict[str, tuple[float, ...]]
    recorded: dict[str, str]  # argument name → the recorded name of the schedule a stage ran
    bad: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    audio_rate: int | None = None
    sound_only: bool = False
    version: str = VERSION
    frames: int = FRAMES
    height: int = HEIGHT
    width: int = WIDTH
    frame_rate: float = FPS

    @property
    def expected_audio_rate(self) -> int:
        """The source media's rate where the output audio is the input's, else the tiny vocoder's output rate."""
        if self.audio_rate is not None:
            return self.audio_rate
        from ltx_core.testing.tiny_checkpoints import tiny_vocoder_config

        vocoder = tiny_vocoder_config(self.version)
        return int(vocoder["bwe"]["output_sampling_rate"] if "bwe" in vocoder else vocoder["output_sampling_rate"])


def _distilled(c: Components) -> Any:
    from ltx_pipelines.distilled import DistilledPipeline

    return DistilledPipeline(c.distilled, None, c.distilled, device="cpu", cache_transformer=True)


def _one_stage(c: Components) -> Any:
    from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline

    return TI2VidOneStagePipeline(c.dev, None, device="cpu", cache_transformer=True)


def _two_stages(c: Components) -> Any:
    from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline

    return TI2VidTwoStagesPipeline(c.dev, [c.lora], c.dev, None, device="cpu", cache_transformer=True)


def _hq(c: Components) -> Any:
    from ltx_pipelines.ti2vid_two_stages_hq import TI2VidTwoStagesHQPipeline

    return TI2VidTwoStagesHQPipeline(c.dev, [c.lora], 0.25, 0.5, c.dev, None, device="cpu", cache_transformer=True)


def _keyframes(c: Components) -> Any:
    from ltx_pipelines.keyframe_interpolation import KeyframeInterpolationPipeline

    return KeyframeInterpolationPipeline(c.dev, [c.lora], c.dev, None, device="cpu", cache_transformer=True)


def _ic_lora(c: Components) -> Any:
    from ltx_pipelines.ic_lora import ICLoraPipeline

    return ICLoraPipeline(c.distilled, c.distilled, None, [c.ic_lora], device="cpu", cache_transformer=True)


def _dubit(c: Components) -> Any:
    from ltx_pipelines.dubit import DubItPipeline

    return DubItPipeline(c.distilled, c.distilled, None, c.ic_lora, device="cpu", cache_transformer=True)


def _retake(c: Components) -> Any:
    from ltx_pipelines.retake import RetakePipeline

    return RetakePipeline(c.distilled, None, device="cpu", cache_transformer=True)


def _a2vid(c: Components) -> Any:
    from ltx_pipelines.a2vid_two_stage import A2VidPipelineTwoStage

    return A2VidPipelineTwoStage(c.dev, [c.lora], c.dev, None, device="cpu", cache_transformer=True)


def _t2a(c: Components) -> Any:
    from ltx_pipelines.t2a_one_stage import T2AOneStagePipeline

    return T2AOneStagePipeline(c.dev, None, device="cpu", cache_transformer=True)


def _geometry(kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "height": kw.pop("height", HEIGHT),
        "width": kw.pop("width", WIDTH),
        "num_frames": kw.pop("num_frames", FRAMES),
        "frame_rate": kw.pop("frame_rate", FPS),
    }


def _call_distilled(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    return p(c.positive, seed=seed, **_geometry(kw), **kw)


def _call_guided(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    return p(
        c.positive,
        c.negative,
        seed=seed,
        **_geometry(kw),
        num_inference_steps=2,
        video_guider_params=GUIDED,
        audio_guider_params=GUIDED,
        **kw,
    )


def _call_ic_lora(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    from ltx_pipelines.ic_lora import VideoConditioningInput
    from ltx_pipelines.media.video import VideoClip

    geometry = _geometry(kw)
    reference = [VideoConditioningInput(VideoClip(source_frames(geometry["num_frames"]), FPS), 0.8)]
    return p(c.positive, seed=seed, **geometry, video_conditioning=reference, **kw)


def _call_dubit(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    from ltx_pipelines.media.video import VideoClip

    clip = VideoClip(source_frames(kw.pop("num_frames", FRAMES)), FPS)
    return p(
        c.positive,
        seed,
        kw.pop("height", HEIGHT),
        kw.pop("width", WIDTH),
        [],
        clip,
        reference_audio=tones(12 / FPS),
        **kw,
    )


def _call_retake(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    from ltx_pipelines.media.video import VideoClip

    clip = VideoClip(source_frames(kw.pop("num_frames", FRAMES)), FPS)
    start, end = kw.pop("start_time", 0.1), kw.pop("end_time", 0.3)
    return p(clip, c.positive, start, end, seed, source_audio=tones(FRAMES / FPS), **kw)


def _call_a2vid(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    geometry = _geometry(kw)
    audio = tones(geometry["num_frames"] / FPS)
    return p(
        c.positive,
        seed,
        **geometry,
        audio=audio,
        negative_prompt=c.negative,
        num_inference_steps=2,
        video_guider_params=GUIDED,
        **kw,
    )


def _call_t2a(p: Any, c: Components, seed: int, **kw: Any) -> Any:
    geometry = _geometry(kw)  # no size: the length only
    length = {"num_frames": geometry["num_frames"], "frame_rate": geometry["frame_rate"]}
    return p(c.positive, c.negative, seed=seed, **length, num_inference_steps=2, audio_guider_params=GUIDED, **kw)


_TWO = {"stage_1_sigmas": STAGE_1, "stage_2_sigmas": STAGE_2}
_TWO_RECORDED = {"stage_1_sigmas": "stage1_sigmas", "stage_2_sigmas": "stage2_sigmas"}
_SIZE = {"height not a multiple of 64": ({"height": 96}, "height"), "9 + 1 frames": ({"num_frames": 10}, "frame")}

CASES = (
    PipelineCase("distilled", _distilled, _call_distilled, _TWO, _TWO_RECORDED, _SIZE),
    PipelineCase(
        "ti2vid_one_stage",
        _one_stage,
        _call_guided,
        {"sigmas": STAGE_1},
        {"sigmas": "stage1_sigmas"},
        {"height not a multiple of 32": ({"height": 48}, "height"), "9 + 1 frames": _SIZE["9 + 1 frames"]},
    ),
    PipelineCase("ti2vid_two_stages", _two_stages, _call_guided, _TWO, _TWO_RECORDED, _SIZE),
    PipelineCase("ti2vid_two_stages_hq", _hq, _call_guided, _TWO, _TWO_RECORDED, _SIZE),
    PipelineCase("keyframe_interpolation", _keyframes, _call_guided, _TWO, _TWO_RECORDED, _SIZE),
    PipelineCase("ic_lora", _ic_lora, _call_ic_lora, _TWO, _TWO_RECORDED, _SIZE),
    PipelineCase(
        "dubit",
        _dubit,
        _call_dubit,
        _TWO,
        _TWO_RECORDED,
        {"height not a multiple of 64": ({"height": 96}, "height")},
    ),
    PipelineCase(
        "retake",
        _retake,
        _call_retake,
        {"sigmas": STAGE_1},
        {"sigmas": "stage1_sigmas"},
        {"window ends before it starts": ({"start_time": 0.3, "end_time": 0.1}, "end")},
    ),
    PipelineCase("a2vid_two_stage", _a2vid, _call_a2vid, _TWO, _TWO_RECORDED, _SIZE, audio_rate=RATE),
    PipelineCase(
        "t2a_one_stage",
        _t2a,
        _call_t2a,
        {"sigmas": STAGE_1},
        {"sigmas": "stage1_sigmas"},
        {"9 + 1 frames": _SIZE["9 + 1 frames"]},
        sound_only=True,
    ),
)


@pytest.fixture(scope="session")
def components(tmp_path_factory: pytest.TempPathFactory) -> Components:
    """The in-memory models, their LoRA files and precomputed contexts, made once per session."""
    return make_components(tmp_path_factory.mktemp("in_memory_loras"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`pipeline_case`: one run per pipeline (module-scoped, so fixtures built on it are shared by a file's tests);
    `bad_input`: one run per (pipeline, bad input)."""
    if "bad_input" in metafunc.fixturenames:
        pairs = [(c, b) for c in CASES for b in c.bad]
        metafunc.parametrize(("pipeline_case", "bad_input"), pairs, ids=[f"{c.name}-{b}" for c, b in pairs])
    elif "pipeline_case" in metafunc.fixturenames:
        metafunc.parametrize("pipeline_case", CASES, ids=[c.name for c in CASES], scope="module")
