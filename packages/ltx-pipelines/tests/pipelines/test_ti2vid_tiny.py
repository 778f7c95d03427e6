"""The guided text/image-to-video pipelines end to end on generated tiny checkpoints: the MP4 each CLI writes,
determinism, guidance passes per step following the scales, per-stage LoRAs and schedules, the distilled-checkpoint
warning, and one-line errors (no file) for bad inputs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ltx_core.components.guiders import MultiModalGuiderFactory, MultiModalGuiderParams
from ltx_core.errors import InputError
from ltx_core.guidance.perturbations import PerturbationType
from ltx_core.loader import LoraSpec
from ltx_pipelines.testing.command_lines import flags
from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline
from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline
from ltx_pipelines.ti2vid_two_stages_hq import TI2VidTwoStagesHQPipeline
from ltx_pipelines.utils import checkpoints, schedules
from ltx_pipelines.utils.blocks import PromptEncoder
from ltx_pipelines.utils.helpers import ImageConditioningInput

HEIGHT, WIDTH, FRAMES, FPS = 64, 128, 9, 24.0  # smallest two-stage size the reflect-padded LTX-2 decoder takes
NEUTRAL = MultiModalGuiderParams()
GUIDED = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)


@pytest.fixture(scope="module")
def contexts(components: Any) -> dict[str, tuple[Any, Any]]:
    """Precomputed positive and negative contexts of the LTX-2.3 tiny widths (no Gemma; the shared tester's)."""
    return {"ltx23": (components.positive, components.negative)}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("img") / "frame.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)).save(path)
    return path


def _lora(folder: Path, strength: float = 0.8) -> list[LoraSpec]:
    return [LoraSpec(folder / "distilled_lora.safetensors", strength)]


def _pipeline(kind: str, folder: Path) -> Any:
    ckpt, up = folder / "dev.safetensors", folder / "spatial_upsampler_x2.safetensors"
    if kind == "one_stage":
        return TI2VidOneStagePipeline(ckpt, folder / "gemma", device="cpu")
    if kind == "two_stages":
        return TI2VidTwoStagesPipeline(ckpt, _lora(folder), up, folder / "gemma", device="cpu")
    return TI2VidTwoStagesHQPipeline(ckpt, _lora(folder), 0.25, 0.5, up, folder / "gemma", device="cpu")


def _generate(pipeline: Any, ctx: tuple[Any, Any], seed: int, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        seed=seed,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        frame_rate=FPS,
        num_inference_steps=2,
        video_guider_params=GUIDED,
        audio_guider_params=GUIDED,
    )
    args.update(kw)
    result = pipeline(ctx[0], ctx[1], **args)
    result.video.close()
    return result


# --- command line ------------------------------------------------------------------------------------------------

MODULES = {"one_stage": "ti2vid_one_stage", "two_stages": "ti2vid_two_stages", "hq": "ti2vid_two_stages_hq"}


def _app(kind: str) -> Any:
    from ltx_pipelines.cli.commands import build_app

    return build_app(MODULES[kind])


def _cli_args(kind: str, folder: Path, out: Path, *extra: str) -> list[str]:
    args = flags(
        checkpoint_path=folder / "dev.safetensors",
        gemma_root=folder / "gemma",
        prompt="a red fox in the snow",
        negative_prompt="blurry",
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        frame_rate=FPS,
        num_inference_steps=2,
        output_path=out,
        quiet=True,
    )
    if kind != "one_stage":
        args += flags(
            spatial_upsampler_path=folder / "spatial_upsampler_x2.safetensors",
            distilled_lora=(folder / "distilled_lora.safetensors", 0.8),
        )
    return [*args, *extra]


def _invoke(kind: str, args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(_app(kind), args)
    return result.exit_code, result.output


def _probe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return {
            "frames": frames,
            "size": (video.codec_context.width, video.codec_context.height),
            "fps": float(video.average_rate),
            "audio": len(container.streams.audio),
        }


@pytest.mark.parametrize(("kind", "version"), [("one_stage", "ltx2"), ("two_stages", "ltx23"), ("hq", "ltx2")])
def test_cli_writes_mp4_with_audio(
    tiny_sets: dict[str, Path], image: Path, tmp_path: Path, kind: str, version: str
) -> None:
    out = tmp_path / "nested" / "out.mp4"
    extra = ["--image", str(image), "0", "1.0"] if kind == "two_stages" else []
    extra += ["--max-batch-size", "4"] if kind == "one_stage" else []
    code, text = _invoke(kind, _cli_args(kind, tiny_sets[version], out, "--seed", "3", *extra))
    assert code == 0, text
    assert _probe(out) == {"frames": FRAMES, "size": (WIDTH, HEIGHT), "fps": FPS, "audio": 1}
    assert not list(out.parent.glob(".*partial*"))


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        ("two_stages", ["--height", "96"], "multiple of 64"),
        ("one_stage", ["--num-frames", "10"], "8k+1"),
        ("two_stages", ["--stage-1-sigmas", "1.0", "0.5", "0.7", "0.0"], "strictly decreasing"),
        ("hq", ["--stage-2-sigmas", "0.9", "0.5"], "must end at 0.0"),
        ("one_stage", ["--sigmas", "1.0", "x", "0.0"], "not a number"),
    ],
)
def test_bad_values_exit_2_one_line_no_file(
    tiny_sets: dict[str, Path], tmp_path: Path, kind: str, extra: list[str], message: str
) -> None:
    out = tmp_path / "out.mp4"
    code, text = _invoke(kind, _cli_args(kind, tiny_sets["ltx23"], out, *extra))
    assert code == 2, text
    assert message in " ".join(text.replace("│", " ").split())  # the message may wrap inside rich's box
    assert not out.exists()


@pytest.mark.parametrize("kind", ["two_stages", "hq"])
def test_missing_distilled_lora_names_the_flag(tiny_sets: dict[str, Path], tmp_path: Path, kind: str) -> None:
    folder = tiny_sets["ltx23"]
    args = _cli_args(kind, folder, tmp_path / "out.mp4")
    i = args.index("--distilled-lora")
    code, text = _invoke(kind, args[:i] + args[i + 3 :])
    assert code == 2 and "--distilled-lora" in text
    cls = TI2VidTwoStagesPipeline if kind == "two_stages" else TI2VidTwoStagesHQPipeline
    extra = (0.25, 0.5) if kind == "hq" else ()
    with pytest.raises(InputError, match="--distilled-lora"):
        cls(folder / "dev.safetensors", [], *extra, folder / "spatial_upsampler_x2.safetensors", None)


def test_lora_file_as_checkpoint_is_refused(tiny_sets: dict[str, Path], tmp_path: Path) -> None:
    folder = tiny_sets["ltx23"]
    out = tmp_path / "out.mp4"
    args = _cli_args("one_stage", folder, out)
    args[args.index("--checkpoint-path") + 1] = str(folder / "distilled_lora.safetensors")
    code, text = _invoke("one_stage", args)
    assert code == 2 and "LoRA file" in text and len(text.strip().splitlines()) == 1
    assert not out.exists()


# --- Python API --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["one_stage", "two_stages"])
def test_cached_transformers_are_reused_across_calls(tiny_sets: dict[str, Path], contexts: dict, kind: str) -> None:
    folder = tiny_sets["ltx23"]
    short = {} if kind == "one_stage" else {"stage_2_sigmas": (0.909375, 0.0)}
    plain = _generate(_pipeline(kind, folder), contexts["ltx23"], 5, **short)
    pipeline = _pipeline(kind, folder)
    pipeline.cache_transformer = True
    stages = [pipeline.stage] if kind == "one_stage" else [pipeline.stage_1, pipeline.stage_2]
    first = _generate(pipeline, contexts["ltx23"], 5, **short)
    models = [stage.transformer() for stage in stages]  # already built: the call kept them
    assert all(stage.is_built for stage in stages)
    second = _generate(pipeline, contexts["ltx23"], 5, **short)
    assert [stage.transformer() for stage in stages] == models  # the same objects: nothing was rebuilt
    for result in (first, second):  # caching changes nothing in the numbers
        assert torch.equal(result.video_latent, plain.video_latent)
        assert torch.equal(result.audio_latent, plain.audio_latent)
    pipeline.release()
    assert not any(stage.is_built for stage in stages) and pipeline.cache_transformer
    pipeline.cache_transformer = False
    assert not pipeline.cache_transformer
    _generate(pipeline, contexts["ltx23"], 5, **short)
    assert not any(stage.is_built for stage in stages)  # not cached: freed at the end of the call


def test_keep_models_keeps_every_block_and_changes_nothing(tiny_sets: dict[str, Path], contexts: dict) -> None:
    folder = tiny_sets["ltx23"]
    short = {"stage_2_sigmas": (0.909375, 0.0)}
    plain = _generate(_pipeline("two_stages", folder), contexts["ltx23"], 5, **short)
    pipeline = _pipeline("two_stages", folder)
    pipeline.keep_models = True
    assert pipeline.keep_models and pipeline.cache_transformer
    decoders = [pipeline.video_decoder, pipeline.audio_decoder, pipeline.upsampler]
    runs = []
    for _ in range(2):
        result = pipeline(
            contexts["ltx23"][0],
            contexts["ltx23"][1],
            seed=5,
            height=HEIGHT,
            width=WIDTH,
            num_frames=FRAMES,
            frame_rate=FPS,
            num_inference_steps=2,
            video_guider_params=GUIDED,
            audio_guider_params=GUIDED,
            **short,
        )
        runs.append((torch.cat(list(result.video)), result))
        kept = [block.models._models for block in decoders]
        assert all(block.models.is_built for block in decoders)
    assert [block.models._models for block in decoders] == kept  # the second call reused them
    assert torch.equal(runs[0][0], runs[1][0])
    for _frames, result in runs:
        assert torch.equal(result.video_latent, plain.video_latent)
        assert torch.equal(result.audio.waveform, plain.audio.waveform)
    pipeline.keep_models = False
    assert not any(block.models.is_built for block in decoders)
    assert not pipeline.stage_1.is_built and not pipeline.stage_2.is_built


def test_prompt_encoder_can_keep_gemma_and_the_text_path(tiny_sets: dict[str, Path]) -> None:
    folder = tiny_sets["ltx23"]
    encoder = PromptEncoder(folder / "dev.safetensors", folder / "gemma", device="cpu")
    prompts = ["a red fox in the snow", "blurry, low quality"]
    want = encoder(prompts)
    assert not encoder.models.is_built
    encoder.models.keep = True
    first = encoder(prompts)
    resident = encoder.models._models
    second = encoder(prompts)
    assert encoder.models._models is resident and resident.is_built
    for w, a, b in zip(want, first, second, strict=True):
        assert torch.equal(w.video_context, a.video_context) and torch.equal(w.video_context, b.video_context)
        assert torch.equal(w.audio_context, a.audio_context) and torch.equal(w.audio_context, b.audio_context)
    encoder.models.release()
    assert not encoder.models.is_built and not resident.is_built


class _PassCounter:
    """Wraps the built transformer: per call, the batch rows and each row's perturbation kinds."""

    def __init__(self, stage: Any) -> None:
        self.real = stage.transformer
        self.calls: list[tuple[int, list[set[PerturbationType]]]] = []

    def __call__(self) -> Any:
        model = self.real()

        def call(video: Any, audio: Any, perturbations: Any) -> Any:
            kinds = [{p.type for p in c.perturbations} for c in perturbations.configs] if perturbations else [set()]
            self.calls.append((video.latent.shape[0], kinds))
            assert audio.latent.shape[0] == video.latent.shape[0]
            return model(video, audio, perturbations)

        return call


SELF_ATTN = {PerturbationType.SKIP_VIDEO_SELF_ATTN, PerturbationType.SKIP_AUDIO_SELF_ATTN}
ISOLATE = {PerturbationType.SKIP_A2V_CROSS_ATTN, PerturbationType.SKIP_V2A_CROSS_ATTN}


@pytest.mark.parametrize(
    ("params", "expected", "max_batch_size"),
    [
        (NEUTRAL, [set()], 4),
        (MultiModalGuiderParams(cfg_scale=3.0), [set(), set()], 4),
        (MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,)), [set(), set(), SELF_ATTN], 4),
        (GUIDED, [set(), set(), SELF_ATTN, ISOLATE], 4),
        (MultiModalGuiderParams(modality_scale=2.0), [set(), ISOLATE], 4),
        (GUIDED, [set(), set(), SELF_ATTN, ISOLATE], 1),
    ],
    ids=["neutral", "cfg", "cfg+stg", "cfg+stg+modality", "modality", "max-batch-size-1"],
)
def test_guidance_passes_follow_the_scales(
    tiny_sets: dict[str, Path],
    contexts: dict,
    monkeypatch: pytest.MonkeyPatch,
    params: MultiModalGuiderParams,
    expected: list[set],
    max_batch_size: int,
) -> None:
    pipeline = _pipeline("one_stage", tiny_sets["ltx23"])
    counter = _PassCounter(pipeline.stage)
    monkeypatch.setattr(pipeline.stage, "transformer", counter)
    monkeypatch.setattr(pipeline, "_decode", lambda *args, **kwargs: None)  # only the denoising matters here
    steps = 2
    pipeline(
        *contexts["ltx23"],
        seed=1,
        height=64,
        width=64,
        num_frames=FRAMES,
        frame_rate=FPS,
        num_inference_steps=2,
        video_guider_params=params,
        audio_guider_params=params,
        sigmas=[1.0, 0.5, 0.0],
        max_batch_size=max_batch_size,
    )
    rows = [kinds for _, kinds in counter.calls]
    if max_batch_size >= len(expected):  # one call per step carrying every pass
        assert [n for n, _ in counter.calls] == [len(expected)] * steps
        assert rows == [expected] * steps
    else:  # --max-batch-size 1: one batch-1 call per pass
        assert [n for n, _ in counter.calls] == [1] * (len(expected) * steps)
        assert [k[0] for k in rows] == expected * steps


def test_loras_per_stage(tiny_sets: dict[str, Path]) -> None:
    folder = tiny_sets["ltx23"]
    user = [LoraSpec(folder / "ic_lora.safetensors", 0.3)]
    distilled = _lora(folder, 0.8)
    ckpt, up = folder / "dev.safetensors", folder / "spatial_upsampler_x2.safetensors"
    two = TI2VidTwoStagesPipeline(ckpt, distilled, up, None, user, device="cpu")
    assert two.stage_1.loras == tuple(user) and two.stage_2.loras == (*user, *distilled)
    hq = TI2VidTwoStagesHQPipeline(ckpt, distilled, 0.25, 0.5, up, None, user, device="cpu")
    path = folder / "distilled_lora.safetensors"
    assert hq.stage_1.loras == (*user, LoraSpec(path, 0.25)) and hq.stage_2.loras == (*user, LoraSpec(path, 0.5))
    one = TI2VidOneStagePipeline(ckpt, None, user, device="cpu")
    assert one.stage.loras == tuple(user)


def test_sigma_overrides_and_checks(tiny_sets: dict[str, Path], contexts: dict) -> None:
    pipeline = _pipeline("two_stages", tiny_sets["ltx23"])
    recorded: dict[str, torch.Tensor] = {}
    _generate(
        pipeline,
        contexts["ltx23"],
        2,
        stage_1_sigmas=[1.0, 0.6, 0.0],
        stage_2_sigmas=torch.tensor([0.8, 0.0]),
        record=lambda name, t: recorded.__setitem__(name, t),
    )
    assert recorded["stage1_sigmas"].tolist() == pytest.approx([1.0, 0.6, 0.0])
    assert recorded["stage2_sigmas"].tolist() == pytest.approx([0.8, 0.0])
    # stage 2 starts from the upsampled latent re-noised to the first stage-2 sigma: under the default 1.2.0
    # numerics a float32 lerp from the clean latent (delta A.4; the mask is 1 everywhere, so the second lerp is a copy)
    noise, clean = recorded["stage2_video_noise"].float(), recorded["stage2_video_clean_latent"].float()
    expected = torch.lerp(clean, noise, 0.8).to(torch.bfloat16)
    assert torch.equal(recorded["stage2_video_noised_tokens"], expected)
    with pytest.raises(InputError, match="strictly decreasing"):
        _generate(pipeline, contexts["ltx23"], 2, stage_1_sigmas=[1.0, 1.0, 0.0])


def test_hq_schedule_shift_follows_the_stage_1_token_count() -> None:
    # spec 3.1 reference: 15 steps, latent (1, 128, 16, 17, 30) = 8160 tokens (HQ default, 544 x 960, 121 frames)
    shape = schedules.stage_latent_shape(544, 960, 121, 24.0, channels=128)
    assert tuple(shape.to_torch_shape()) == (1, 128, 16, 17, 30)
    sigmas = schedules.scheduler_sigmas(15, shape)
    assert sigmas[:4].tolist() == pytest.approx([1.0, 0.99349070, 0.98601490, 0.97733963], abs=1e-7)
    assert sigmas[-3:].tolist() == pytest.approx([0.50337785, 0.10000002, 0.0], abs=1e-7)
    assert schedules.scheduler_sigmas(15)[1].item() == pytest.approx(0.98724955, abs=1e-7)  # no latent: 4096


def test_hq_refuses_sigma_dependent_guiders(tiny_sets: dict[str, Path], contexts: dict) -> None:
    pipeline = _pipeline("hq", tiny_sets["ltx23"])
    with pytest.raises(InputError, match="MultiModalGuiderParams"):
        _generate(pipeline, contexts["ltx23"], 1, video_guider_params=MultiModalGuiderFactory.constant(GUIDED))


def test_images_outside_the_clip_are_refused(tiny_sets: dict[str, Path], contexts: dict, image: Path) -> None:
    pipeline = _pipeline("one_stage", tiny_sets["ltx23"])
    with pytest.raises(InputError, match="valid: 0 to 8"):
        _generate(pipeline, contexts["ltx23"], 1, images=[ImageConditioningInput(image, 9, 1.0)])
    with pytest.raises(InputError, match="multiple of 32"):
        _generate(pipeline, contexts["ltx23"], 1, height=48)


def test_distilled_checkpoint_warns_once(
    tiny_sets: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(checkpoints, "_warned", set())
    folder = tiny_sets["ltx23"]
    with caplog.at_level(logging.WARNING, logger=checkpoints.__name__):
        TI2VidOneStagePipeline(folder / "dev.safetensors", None, device="cpu")
        assert not caplog.records
        for _ in range(2):
            TI2VidOneStagePipeline(folder / "distilled.safetensors", None, device="cpu")
    assert len(caplog.records) == 1 and "DISTILLED" in caplog.records[0].getMessage()
    assert checkpoints.looks_distilled(folder / "distilled.safetensors")
    assert not checkpoints.looks_distilled(folder / "dev.safetensors")
