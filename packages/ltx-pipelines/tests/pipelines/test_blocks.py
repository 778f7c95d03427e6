"""Pipeline blocks on the golden end-to-end checkpoints: model lifecycle (built for a call, freed to meta after,
kept only when asked), LoRA swapping on a cached transformer, lazy decoding, precomputed contexts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.loader import LoraSpec
from ltx_core.model.transformer import load_transformer
from ltx_core.testing.cpu_parity import COMPONENT_ON_OTHER_KERNELS, parity_for, recording_for
from ltx_core.testing.golden import GoldenCase, load_case
from ltx_core.text_encoders.gemma import PromptContexts
from ltx_pipelines.testing.golden_replay import assert_close
from ltx_pipelines.utils.blocks import (
    AudioDecoder,
    DiffusionStage,
    LatentGeometry,
    ModalitySpec,
    PromptEncoder,
    VideoDecoder,
)
from ltx_pipelines.utils.constants import stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import SimpleDenoiser


@pytest.fixture(scope="module")
def e2e(golden: Path) -> Path:
    path = golden / "e2e"
    if not (path / "ltx2_e2e_tiny.safetensors").exists():
        pytest.skip("no e2e fixtures")
    return path


@pytest.fixture(scope="module")
def case(e2e: Path) -> GoldenCase:
    return load_case(recording_for(e2e.parent, "ltx2_distilled_t2v.safetensors"))


def _is_meta(model: torch.nn.Module) -> bool:
    return all(t.is_meta for t in [*model.parameters(), *model.buffers()])


def _run(stage: DiffusionStage, case: GoldenCase) -> torch.Tensor:
    p, inp = case.params, case.inputs
    result = stage(
        SimpleDenoiser(inp["video_context"], inp["audio_context"]),
        stage_2_distilled_sigmas(),
        GaussianNoiser(torch.Generator().manual_seed(p["seed"])),
        width=p["width"] // 2,
        height=p["height"] // 2,
        num_frames=p["num_frames"],
        frame_rate=p["frame_rate"],
        video=ModalitySpec(inp["video_context"]),
        audio=ModalitySpec(inp["audio_context"]),
    )
    assert result.video_latent is not None and result.audio_latent is not None
    return result.video_latent


def test_latent_geometry_from_checkpoint(e2e: Path, case: GoldenCase) -> None:
    geometry = LatentGeometry.of(e2e / "ltx2_e2e_tiny.safetensors")
    audio = case.outputs["stage1_audio_latent"]
    assert geometry.video_channels == case.outputs["stage1_video_latent"].shape[1]
    assert (geometry.audio_channels, geometry.audio_mel_bins) == (audio.shape[1], audio.shape[3])


def test_stage_frees_transformer_after_call(e2e: Path, case: GoldenCase) -> None:
    stage = DiffusionStage(e2e / "ltx2_e2e_tiny.safetensors", device="cpu")
    with stage.model_context() as model:
        assert not _is_meta(model)
    assert _is_meta(model) and not stage.is_built
    latent = _run(stage, case)
    assert not stage.is_built and torch.isfinite(latent.float()).all()


def test_session_and_cache_keep_one_build(e2e: Path, case: GoldenCase) -> None:
    stage = DiffusionStage(e2e / "ltx2_e2e_tiny.safetensors", device="cpu")
    with stage.session():
        first = _run(stage, case)
        model = stage.transformer()
        second = _run(stage, case)
        assert stage.transformer() is model  # no rebuild inside the session
    assert _is_meta(model) and not stage.is_built
    assert torch.equal(first, second)  # same seed and inputs

    cached = DiffusionStage(e2e / "ltx2_e2e_tiny.safetensors", device="cpu", cache=True)
    assert torch.equal(_run(cached, case), first)
    model = cached.transformer()
    _run(cached, case)
    assert cached.transformer() is model and not _is_meta(model)
    cached.release()
    assert _is_meta(model) and not cached.is_built


def test_cached_stage_swaps_loras_exactly(e2e: Path) -> None:
    ckpt = e2e / "ltx2_e2e_tiny.safetensors"
    lora_a = LoraSpec(e2e / "ltx2_distilled_lora_e2e_tiny.safetensors", 1.0)
    lora_b = LoraSpec(e2e / "ltx2_ic_lora_e2e_tiny.safetensors", 0.5)
    stage = DiffusionStage(ckpt, device="cpu", cache=True, loras=(lora_a,))
    try:
        for loras in ((lora_a,), (lora_b,), (), (lora_a, lora_b)):
            stage.loras = loras
            got = stage.transformer().model.state_dict()
            want = load_transformer(ckpt, loras=loras).state_dict()
            assert got.keys() == want.keys()
            for name, tensor in want.items():
                assert torch.equal(got[name], tensor), f"{name} with {[lora.path.name for lora in loras]}"
    finally:
        stage.release()


def test_video_decoder_is_lazy_and_frees_when_done(e2e: Path, case: GoldenCase) -> None:
    latent = case.outputs["stage2_video_latent"]
    chunks = VideoDecoder(e2e / "ltx2_e2e_tiny.safetensors", device="cpu")(latent)
    assert chunks.is_open
    assert (chunks.num_frames, chunks.height, chunks.width) == tuple(case.outputs["video_frames"].shape[:3])
    frames = torch.cat(list(chunks))
    assert not chunks.is_open
    tolerance = 0.0 if parity_for(case).strict else COMPONENT_ON_OTHER_KERNELS  # untiled bf16 decode, as official
    assert_close("frames", frames, case.outputs["video_frames"], tolerance)

    unused = VideoDecoder(e2e / "ltx2_e2e_tiny.safetensors", device="cpu")(latent)
    unused.close()
    assert not unused.is_open and list(unused) == []


def test_audio_decoder_rate_and_waveform(e2e: Path, case: GoldenCase) -> None:
    audio = AudioDecoder(e2e / "ltx2_e2e_tiny.safetensors", device="cpu")(case.outputs["stage2_audio_latent"])
    assert audio.sampling_rate == case.params["audio_sampling_rate"]
    assert audio.waveform.dtype == torch.float32
    tolerance = 0.0 if parity_for(case).strict else COMPONENT_ON_OTHER_KERNELS  # docs/parity.md
    assert_close("waveform", audio.waveform.to(torch.bfloat16), case.outputs["audio_waveform"], tolerance)


def test_prompt_encoder_passes_precomputed_contexts_without_gemma(e2e: Path, case: GoldenCase) -> None:
    inp = case.inputs
    given = PromptContexts(inp["video_context"].float(), inp["audio_context"], inp["context_mask"], "p")
    (out,) = PromptEncoder(e2e / "ltx2_e2e_tiny.safetensors", None, device="cpu")([given])
    assert out.video_context.dtype == torch.bfloat16 and torch.equal(out.video_context, inp["video_context"])
    assert torch.equal(out.audio_context, inp["audio_context"]) and out.prompt == "p"


def test_tiling_hint_applies_only_without_a_given_tiling(tmp_path: Path) -> None:
    """No tiling given: tiled only when the stage's offload choice hinted it (little memory); given: kept as is."""
    from types import SimpleNamespace

    from ltx_core.model.video_vae import AUTO_TILING, TilingConfig
    from ltx_pipelines.utils.blocks import hinted_tiling

    pipeline = SimpleNamespace(stage=DiffusionStage(tmp_path / "unread.safetensors", device="cpu"))
    assert hinted_tiling(None, pipeline) is None  # plain runtime: no choice was made
    pipeline.stage._provider = SimpleNamespace(offload_choice=SimpleNamespace(vae_tiling=False))
    assert hinted_tiling(None, pipeline) is None
    pipeline.stage._provider = SimpleNamespace(offload_choice=SimpleNamespace(vae_tiling=True))
    assert hinted_tiling(None, pipeline) is AUTO_TILING  # planned per decoder when it runs
    given = TilingConfig.default()
    assert hinted_tiling(given, pipeline) is given
