"""T2AOneStagePipeline vs the official 1.2.0 text-to-audio runs (golden README_120_pipelines §2), tensor by tensor:
the audio-only transformer (an audio-only LTX-2.5 file), CFG + STG guidance on the audio stream alone, the duration
head on the positive audio context alone (`auto`), the audio decode and the WAV samples. Each case runs from its
precomputed audio contexts (the text path has its own golden tests; the command-line test runs it), in bf16 on the
CPU with the 1.2.0 numerics; every size comes from the case.

Free-running (the whole pipeline: bitwise under the suite's AVX2 caps, the measured bounds elsewhere) and teacher-
forced (each recorded denoiser call recomputed by our transformer from the official call's inputs: errors cannot
compound; README §8 asks for it, as the guidance amplifies input differences sevenfold).
"""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.components.guiders import create_multimodal_guider_factory
from ltx_core.components.latent_tools import AudioLatentTools
from ltx_core.components.noisers import create_noised_state
from ltx_core.components.patchifiers import AudioPatchifier
from ltx_core.model.duration_head import AutoDuration
from ltx_core.model.transformer import ModelType, X0Model, load_transformer
from ltx_core.testing.cpu_parity import CALL_ON_OTHER_KERNELS, parity_for
from ltx_core.testing.golden import GoldenCase, golden_dir, load_case, pipeline_cases_120
from ltx_core.text_encoders.gemma import PromptContexts
from ltx_core.types import Audio, AudioLatentShape
from ltx_pipelines.media.wav import write_wav
from ltx_pipelines.t2a_one_stage import T2AOneStagePipeline, without_modality_guidance
from ltx_pipelines.testing.diffusion_replay import RecordedNoise
from ltx_pipelines.testing.golden_replay import (
    Bf16Steps,
    assert_close,
    assert_recorded_match,
    guider_params,
    parity_tolerance,
    recorder,
)
from ltx_pipelines.utils.denoisers import PASS_ORDER, FactoryGuidedDenoiser, Schedule
from ltx_pipelines.utils.samplers import LoopState, euler_loop

CASES = pipeline_cases_120("ltx25_t2a_*")
EXACT = ("noise", "positions", "denoise_mask", "sigmas", "_sigma", "step_index")
# One sample of the auto case's waveform (-5.2e-6, near silence) is 2 bf16 steps of its own size off: the float32
# vocoder's last operations round differently at that magnitude. Near-zero samples are held to steps of 1/128 of the
# peak; the WAV the user gets (16-bit) is bitwise the official one.
WAVEFORM = Bf16Steps(1, floor=2.0**-7)
NOT_COMPARED = ("wav_pcm_s16",)  # compared as the file we write: `test_the_wav_holds_the_official_samples`


def _contexts(case: GoldenCase, prefix: str = "") -> PromptContexts:
    """The case's `{prefix}audio_context` as prompt contexts (T2A reads no video context: an empty one stands in)."""
    audio = case.inputs[f"{prefix}audio_context"]
    return PromptContexts(audio.new_zeros(*audio.shape[:2], 0), audio, case.inputs[f"{prefix}context_mask"])


def _length(case: GoldenCase) -> int | AutoDuration:
    asked = case.params["num_frames_request"]
    return AutoDuration(**asked["auto_duration"]) if isinstance(asked, dict) else int(asked)


def _read_wav(path: Path) -> tuple[torch.Tensor, int]:
    """(int16 samples [N, channels], rate) of a 16-bit PCM WAV (the standard library's reader, not ours)."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return torch.from_numpy(data.copy()), w.getframerate()


@pytest.fixture(scope="module", params=CASES or [None], ids=lambda p: p.stem if p else "none")
def run(request: pytest.FixtureRequest) -> tuple[GoldenCase, dict[str, torch.Tensor], Any]:
    if request.param is None:
        pytest.skip(f"no text-to-audio cases under {golden_dir()} (MANIFEST_120_pipelines.json)")
    case = load_case(request.param)
    p = case.params
    pipeline = T2AOneStagePipeline(case.file(p["checkpoint"]), None, device="cpu")
    recorded, record = recorder()
    result = pipeline(
        _contexts(case),
        _contexts(case, "negative_"),
        seed=p["seed"],
        num_frames=_length(case),
        frame_rate=p["frame_rate"],
        num_inference_steps=p["num_inference_steps"],
        audio_guider_params=guider_params(p["audio_guider"]),
        max_batch_size=p["max_batch_size"],
        record=record,
    )
    recorded["audio_waveform"] = result.audio.waveform
    return case, recorded, result


def test_every_recorded_tensor(run: tuple[GoldenCase, dict[str, torch.Tensor], Any]) -> None:
    case, got, _ = run

    def bound(name: str) -> float | Bf16Steps:
        return WAVEFORM if name == "audio_waveform" else 0.0 if name.endswith(EXACT) else Bf16Steps(1)

    compared = replace(case, outputs={k: v for k, v in case.outputs.items() if k not in NOT_COMPARED})
    assert_recorded_match(compared, got, parity_tolerance(case, bound))


def test_the_length_asked_for_or_chosen(run: tuple[GoldenCase, dict[str, torch.Tensor], Any]) -> None:
    case, got, result = run
    p = case.params
    assert result.num_frames == p["num_frames"] and result.frame_rate == p["frame_rate"]
    assert result.audio_latent.shape[2] == p["audio_latent_frames"]
    assert result.audio.sampling_rate == p["audio_sampling_rate"]
    if "duration_head" in p:  # chosen from the positive audio context alone
        assert torch.equal(got["duration_seconds"], case.outputs["duration_seconds"])


def test_the_wav_holds_the_official_samples(
    run: tuple[GoldenCase, dict[str, torch.Tensor], Any], tmp_path: Path
) -> None:
    """Our writer on the official waveform gives the official WAV (clip, ×32767, truncation, stereo 16-bit PCM);
    on our own waveform it gives the official WAV too where the run is bitwise (strict mode)."""
    case, _, result = run
    official = case.outputs["wav_pcm_s16"]
    official_audio = Audio(case.outputs["audio_waveform"], case.params["wav_sampling_rate"])
    samples, _ = _read_wav(write_wav(tmp_path / "official.wav", official_audio))
    assert torch.equal(samples, official)
    samples, rate = _read_wav(write_wav(tmp_path / "ours.wav", result.audio))
    assert rate == case.params["wav_sampling_rate"] and samples.shape == official.shape
    if parity_for(case).strict:
        assert torch.equal(samples, official)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_call_from_its_recorded_inputs(path: Path) -> None:
    """Each recorded call's guidance passes (cond, uncond, STG) from our audio-only transformer, given that call's
    official inputs: the loop is replayed with the recorded predictions, so every call starts from the official
    state (bitwise under the recording's kernels, within `CALL_ON_OTHER_KERNELS` elsewhere)."""
    case = load_case(path)
    p, out = case.params, case.outputs
    parity = parity_for(case)
    tolerance = 0.0 if parity.strict else CALL_ON_OTHER_KERNELS
    model = load_transformer(
        case.file(p["checkpoint"]), dtype=torch.bfloat16, model_type=ModelType.AUDIO_ONLY, numerics=case.numerics
    )
    transformer = BatchSplitAdapter(X0Model(model).eval(), p["max_batch_size"])
    passes = [name for name in PASS_ORDER if f"stage1_calls_audio_{name}" in out]
    calls: list[int] = []

    def replay(video: Any, audio: Any, perturbations: Any) -> tuple[None, torch.Tensor]:
        k = len(calls)
        calls.append(k)
        assert video is None
        for row in range(len(passes)):  # every pass starts from the call's recorded state
            assert_close(f"{case.name} call {k} input", audio.latent[row : row + 1], out["stage1_calls_audio_in"][k], 0)
        with torch.inference_mode():
            _, ours = transformer(None, audio, perturbations)
        for row, name in enumerate(passes):
            label = f"{case.name} stage1_calls_audio_{name}[{k}] ({parity.mode})"
            assert_close(label, ours[row : row + 1], out[f"stage1_calls_audio_{name}"][k], tolerance)
        return None, torch.cat([out[f"stage1_calls_audio_{name}"][k] for name in passes])

    latent = out["stage1_audio_latent"]
    tools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape.from_torch_shape(tuple(latent.shape)))
    noiser = RecordedNoise([out["stage1_audio_noise"]], case.numerics)
    state = create_noised_state(tools, noiser, dtype=torch.bfloat16)
    negative = case.inputs["negative_audio_context"]
    guidance = create_multimodal_guider_factory(without_modality_guidance(guider_params(p["audio_guider"])), negative)
    denoiser = FactoryGuidedDenoiser(None, case.inputs["audio_context"], None, guidance)
    sigmas = Schedule.of(out["stage1_sigmas"])
    euler_loop(lambda *a: denoiser(replay, *a, numerics=case.numerics), LoopState(None, state), sigmas)
    assert len(calls) == out["stage1_calls_audio_cond"].shape[0]
