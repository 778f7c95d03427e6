"""Text to audio in one guided stage (spec new_pipelines §3): a prompt in, speech, sound or music out, no video.

Recipe: encode the prompt and the negative prompt (only their audio contexts are used) → the length: a frame count
at a frame rate, or chosen by the duration head from the positive audio context → one stage on the LTX-2 schedule
(Euler) with the audio-only transformer (only the audio stream's weights are read, from an audio-only file or a full
one) and CFG + STG guidance on the audio (no modality pass: there is no video to isolate it from) → decode the
audio (audio VAE decoder + vocoder). The command line writes a 16-bit PCM stereo WAV.

Run it: `python -m ltx_pipelines.t2a_one_stage --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.components.guiders import MultiModalGuiderFactory, create_multimodal_guider_factory
from ltx_core.geometry import ONE_STAGE_DIVISOR
from ltx_core.loader import LoraSpec
from ltx_core.model.duration_head import AutoDuration
from ltx_core.model.transformer import ModelType
from ltx_pipelines.utils.blocks import ModalitySpec
from ltx_pipelines.utils.checkpoints import warn_if_distilled
from ltx_pipelines.utils.denoisers import FactoryGuidedDenoiser
from ltx_pipelines.utils.guidance import GuiderInput
from ltx_pipelines.utils.pipeline_base import GuidedPipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import Recorder, pipeline_call
from ltx_pipelines.utils.results import AudioResult, Phases, Progress, prompt_text
from ltx_pipelines.utils.schedules import given_sigmas, scheduler_sigmas

# The video size the audio request is checked with: it plays no part (the audio length depends on the frame count and
# rate only, spec §3 step 3); the official pipeline uses the same placeholder.
PLACEHOLDER_SIZE = 512


def without_modality_guidance(params: GuiderInput) -> GuiderInput:
    """`params` with the modality scale at 1 (every sigma bin of a factory): with no video there is no isolated-modality
    pass to guide against (the official CLI forces it; a scale other than 1 would only cost a pass whose prediction
    equals the conditional one)."""
    if isinstance(params, MultiModalGuiderFactory):
        entries = tuple((sigma, replace(p, modality_scale=1.0)) for sigma, p in params.entries)
        return MultiModalGuiderFactory(entries, params.negative_context, params.numerics)
    return replace(params, modality_scale=1.0)


class T2AOneStagePipeline(GuidedPipelineBase):
    """Full (non-distilled) LTX-2.3 / LTX-2.5 model, audio stream only: one guided stage (CFG, STG), no video.

    Reads from the checkpoint: the audio transformer (an audio-only file, or the audio stream of a full one), the
    text path (projection and connectors), the audio VAE decoder and vocoder, and the duration head when the length
    is chosen automatically. No video VAE is read."""

    def __init__(
        self,
        checkpoint_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        warn_if_distilled(checkpoint_path, "the text-to-audio pipeline")
        super().__init__(checkpoint_path, gemma_root, device=device, video=False, **options)
        self.stage = self._stage(loras, model_type=ModelType.AUDIO_ONLY)

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        negative_prompt: Any,
        seed: int,
        num_frames: int | AutoDuration,
        frame_rate: float,
        num_inference_steps: int,
        audio_guider_params: GuiderInput,
        enhance_prompt: bool = False,
        max_batch_size: int = 1,
        sigmas: torch.Tensor | Sequence[float] | None = None,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> AudioResult:
        """`prompt` / `negative_prompt`: strings or precomputed `PromptContexts` (only the audio contexts are used).
        The length is `num_frames` (8k+1) at `frame_rate`, or an `AutoDuration` on files with a duration head:
        predicted from the positive audio context. `audio_guider_params`' modality scale is taken as 1 (no video).
        `sigmas` overrides the `num_inference_steps` schedule. `record(name, tensor)` receives every intermediate
        under the golden-case names (`stage1_audio_noise`, `stage1_calls_audio_cond`, `duration_seconds`, ...)."""
        size = PLACEHOLDER_SIZE
        request = self._request(seed, size, size, num_frames, frame_rate, ONE_STAGE_DIVISOR)
        schedule = given_sigmas(sigmas, "sigmas")
        if schedule is None:
            schedule = scheduler_sigmas(num_inference_steps)
        phases = Phases(progress)

        positive, negative = self._prompts(prompt, negative_prompt, (), enhance_prompt, seed, phases)
        run = self._run(self._with_duration(request, positive, audio_only=True), phases)
        guidance = create_multimodal_guider_factory(
            without_modality_guidance(audio_guider_params), negative.audio_context
        )
        denoiser = FactoryGuidedDenoiser(None, positive.audio_context, None, guidance)

        result = self._first_stage(
            self.stage,
            denoiser,
            schedule,
            run,
            video=None,
            audio=ModalitySpec(positive.audio_context),
            max_batch_size=max_batch_size,
        )
        assert result.audio_latent is not None
        with phases("decode audio"):
            audio = self.audio_decoder(result.audio_latent)
        text = prompt_text(positive, prompt)
        return AudioResult(audio, result.audio_latent, text, run.num_frames, run.frame_rate, phases.seconds)


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("t2a_one_stage", argv)


if __name__ == "__main__":
    main()
