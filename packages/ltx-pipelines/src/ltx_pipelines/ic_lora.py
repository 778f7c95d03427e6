"""Video-to-video with IC-LoRAs (spec 13.6): a reference ("control") video steers the distilled two-stage flow.

Recipe: encode the prompt → stage 1 at half resolution with the IC-LoRA(s) fused, the reference video encoded at
the stage size / `reference_downscale_factor` and appended after the generated tokens (optionally with a spatial
attention mask) → x2 latent upsampling → stage 2 at full resolution on the plain weights, images only (no
reference) → decode. `skip_stage_2` decodes the half-resolution stage-1 result instead.

Run it: `python -m ltx_pipelines.ic_lora --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_pipelines.media.exr import check_exr_inputs, exr_folder_files
from ltx_pipelines.utils.blocks import DEFAULT_TILING, ModalitySpec, VideoEncodeFn
from ltx_pipelines.utils.constants import distilled_sigmas, stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.helpers import (
    ImageConditioningInput,
    combined_image_conditionings,
    load_exr_still,
)
from ltx_pipelines.utils.ic_reference import (
    VideoConditioningInput,
    check_attention_strength,
    check_distilled_checkpoint,
    encode_reference,
    read_reference_video,
    reference_conditioning,
    reference_downscale_factor,
    reference_frame_count,
    reference_size,
)
from ltx_pipelines.utils.inputs import VideoRequest
from ltx_pipelines.utils.pipeline_base import PipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import (
    Recorder,
    current_recorder,
    pipeline_call,
    recorded_encoder,
    recording_under,
)
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text


class ICLoraPipeline(PipelineBase):
    """Distilled model; stage 1 with the IC-LoRA(s) and the reference video(s), stage 2 on the plain weights.

    Every model is built for its step and freed after (the two stages build separate transformers: the LoRAs differ;
    `cache_transformer=True` keeps both for the next call).
    """

    def __init__(
        self,
        distilled_checkpoint_path: Any,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec],
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        """`distilled_checkpoint_path` is a file, a list of shards or an open `Checkpoint`; `loras` the IC-LoRA(s),
        whose metadata gives the reference downscale factor."""
        check_distilled_checkpoint(distilled_checkpoint_path, "IC-LoRA")
        loras = tuple(LoraSpec(lora.path, lora.strength) for lora in loras)
        if not loras:
            raise InputError("the IC-LoRA pipeline needs at least one IC-LoRA; pass it with --lora PATH [STRENGTH]")
        super().__init__(
            distilled_checkpoint_path,
            gemma_root,
            device=device,
            spatial_upsampler_path=spatial_upsampler_path,
            **options,
        )
        self.reference_downscale_factor = reference_downscale_factor(loras)
        self.stage_1 = self._stage(loras)
        self.stage_2 = self._stage()

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int,
        frame_rate: float,
        images: Sequence[ImageConditioningInput] = (),
        video_conditioning: Sequence[VideoConditioningInput | tuple[Any, float]] = (),
        enhance_prompt: bool = False,
        tiling_config: Any = DEFAULT_TILING,
        conditioning_attention_strength: float = 1.0,
        skip_stage_2: bool = False,
        conditioning_attention_mask: torch.Tensor | None = None,
        stage_1_sigmas: torch.Tensor | None = None,
        stage_2_sigmas: torch.Tensor | None = None,
        color_space: HDRColorSpace | None = None,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """`prompt` is a string or precomputed `PromptContexts`; each reference is a path, a `VideoClip` or uint8
        frames `[F, H, W, 3]`; `conditioning_attention_mask` is `(B, 1, F, H, W)` in [0, 1] in stage-1 pixel space
        (any size: it is area-averaged to each reference's latent grid). Everything that can be checked is checked
        before a model is built. `color_space` (native HDR, spec NP 5): a reference may be a folder of EXR frames
        (sorted by name, at most `num_frames`, shrunk to fit the reference size and reflect-padded), EXR images are
        read in it, and the video decodes in float32 (all references and images EXR, or none)."""
        request = VideoRequest(seed, height, width, num_frames, frame_rate).check(TWO_STAGE_DIVISOR)
        check_attention_strength(conditioning_attention_strength)
        half = request.half()
        factor = self.reference_downscale_factor
        ref_size = reference_size(half.height, half.width, factor, output_scale=2)
        specs = [s if isinstance(s, VideoConditioningInput) else VideoConditioningInput(*s) for s in video_conditioning]
        exr = check_exr_inputs([*(image.path for image in images), *(s.video for s in specs)], color_space)
        references: list[tuple[torch.Tensor | Path, float]] = []
        for i, spec in enumerate(specs):
            if not 0.0 <= spec.strength <= 1.0:
                raise InputError(f"video conditioning {i} strength {spec.strength} is outside [0, 1]")
            name = Path(spec.video).name if isinstance(spec.video, str | Path) else f"reference video {i}"
            if exr:  # a folder of EXR frames, read when encoded
                available = len(exr_folder_files(spec.video, frame_cap=num_frames))
                reference_frame_count(available, num_frames, f"EXR frame folder {name}")  # 8k+1, checked now
                references.append((Path(spec.video), spec.strength))
                continue
            clip = read_reference_video(spec.video, frame_cap=num_frames)
            used = reference_frame_count(clip.frames.shape[0], num_frames, str(name))
            references.append((clip.frames[:used], spec.strength))
        stage_1_sigmas = distilled_sigmas() if stage_1_sigmas is None else stage_1_sigmas
        stage_2_sigmas = stage_2_distilled_sigmas() if stage_2_sigmas is None else stage_2_sigmas
        phases = Phases(progress)
        run = self._run(request, phases, color_space)

        (contexts,) = self._encode_prompts([prompt], images, phases, enhance_prompt=enhance_prompt, enhance_seed=seed)

        load_images = partial(load_exr_still, color_space=color_space) if exr else self.image_conditioner.load_image

        def stage_1_conditionings(encode: VideoEncodeFn) -> list:
            items: list = []
            if images:
                with recording_under("stage1_"):
                    encode_images = recorded_encoder(encode, len(images))
                    items = combined_image_conditionings(
                        images,
                        half.height,
                        half.width,
                        encode_images,
                        self.dtype,
                        self.device,
                        load_image_fn=load_images,
                    )
            for i, (frames, strength) in enumerate(references):
                with recording_under(suffix="" if len(references) == 1 else f"_{i}"):
                    if isinstance(frames, Path):
                        assert color_space is not None
                        latent = encode_exr_reference(
                            encode, frames, num_frames, ref_size, color_space, self.dtype, self.device
                        )
                    else:
                        latent = encode_reference(encode, frames, ref_size, self.dtype, self.device)
                    attention = (conditioning_attention_strength, conditioning_attention_mask)
                    items.append(reference_conditioning(latent, factor, strength, *attention))
            return items

        stage_1 = self._first_stage(
            self.stage_1,
            SimpleDenoiser(contexts.video_context, contexts.audio_context),
            stage_1_sigmas,
            run.half(),
            video=ModalitySpec(contexts.video_context, self.image_conditioner(stage_1_conditionings)),
            audio=ModalitySpec(contexts.audio_context),
        )
        result = stage_1
        if not skip_stage_2:
            result = self._upsample_and_refine(self.stage_2, stage_1, contexts, stage_2_sigmas, run, images=images)

        return self._decode(run, result, prompt_text(contexts, prompt), tiling_config)


def encode_exr_reference(
    encode: VideoEncodeFn,
    folder: Path,
    num_frames: int,
    size: tuple[int, int],
    color_space: HDRColorSpace,
    dtype: torch.dtype,
    device: torch.device | str,
) -> torch.Tensor:
    """A folder of EXR frames → its latent at `size` (spec NP 5.2: the first 8k+1 frames up to `num_frames`, shrunk
    to fit and reflect-padded on linear light, into the working space; records `reference_pixels` / `_latent`)."""
    from ltx_pipelines.media.exr import ResizeMode, load_exr_frames

    files = exr_folder_files(folder, frame_cap=num_frames)
    used = reference_frame_count(len(files), num_frames, f"EXR frame folder {folder.name}")
    pad = ResizeMode.REFLECT_PAD
    pixels = load_exr_frames(folder, *size, dtype, device, color_space, frame_cap=used, resize_mode=pad)
    latent = encode(pixels, None)
    if (record := current_recorder()) is not None:
        record("reference_pixels", pixels)
        record("reference_latent", latent)
    return latent


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("ic_lora", argv)


if __name__ == "__main__":
    main()
