"""Which official release's numerics a run reproduces: 1.2.0 (the default) or 1.1.3 (on request).

The official stack changed its arithmetic between 1.1.3 and 1.2.0 in a dozen places (spec delta_1_2_0.md §A). A run
picks one `Numerics` value once and hands it to each component that differs; each field names one behaviour, so
each component reads the one field it owns instead of comparing version strings. Fields marked "pipeline" are read
by `ltx_pipelines` (the denoisers, stages and recipes), the others by the `ltx_core` component named.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltx_core.errors import InputError


@dataclass(frozen=True)
class Numerics:
    """One official release's arithmetic, behaviour by behaviour (delta section in brackets)."""

    name: str
    # A.1, LTXModel: the A↔V cross-attention scale/shift AdaLN takes each token's own timestep (else the other
    # stream's σ, one row per sample)
    av_cross_ss_per_token: bool
    # A.2, pipeline: a frozen stream hands σ = 0 to the transformer (else its step σ)
    frozen_stream_sigma_zero: bool
    # A.3, pipeline: the simple denoiser passes σ as a [B] tensor (f64 per-token timesteps in res_2s sub-steps)
    simple_denoiser_sigma_per_sample: bool
    # A.4, GaussianNoiser: two float32 lerps, the second from the clean latent (else one mix in the latent dtype)
    noiser_fp32_lerp: bool
    # A.5, create_noised_state: conditioning items write their tokens into `latent` (1.1.3) or leave it as it was
    # (zeros for appended tokens)
    conditioning_writes_latent: bool
    # A.6, MultiModalGuider: guidance arithmetic in float32, cast back to the prediction dtype
    guider_fp32: bool
    # A.7, pipeline / text encoder: all prompts in one Gemma forward, and a tokenizer that guarantees BOS
    text_batched_bos: bool
    # A.8, pipeline: two-stage and HQ decode the stage-1 audio
    two_stage_stage1_audio: bool
    # A.9, tiled_decode: per-axis float32 masks, no division when the masks are complementary
    decode_separable_masks: bool
    # A.9.3, pipeline: a pipeline call without a tiling decodes with the AUTO tile plan (else untiled)
    decode_auto_tiling: bool
    # A.10, encode_video: latent-grid tile plan with trapezoid masks (else the pixel plan with 0/1 masks)
    encode_latent_tile_plan: bool
    # A.11, pipeline media: EXIF / ICC aware image decode, CRF default by model version, tiny-image skip
    image_exif_icc_decode: bool
    # A.7.5, prompt enhancement: the alignment padding to 8 tokens is prepended (else appended)
    enhance_left_pad: bool
    # A.12, LoRA fusion: the delta is aggregated in bf16 whatever the weight dtype, W added in its own dtype
    lora_delta_bf16: bool
    # A.14, pipeline CLI defaults: the 1.2.0 default negative prompt, A2Vid's parameters detected from the checkpoint
    cli_defaults_1_2_0: bool


NUMERICS_1_1_3 = Numerics(
    name="1.1.3",
    av_cross_ss_per_token=False,
    frozen_stream_sigma_zero=False,
    simple_denoiser_sigma_per_sample=False,
    noiser_fp32_lerp=False,
    conditioning_writes_latent=True,
    guider_fp32=False,
    text_batched_bos=False,
    two_stage_stage1_audio=False,
    decode_separable_masks=False,
    decode_auto_tiling=False,
    encode_latent_tile_plan=False,
    image_exif_icc_decode=False,
    enhance_left_pad=False,
    lora_delta_bf16=False,
    cli_defaults_1_2_0=False,
)

NUMERICS_1_2_0 = Numerics(
    name="1.2.0",
    av_cross_ss_per_token=True,
    frozen_stream_sigma_zero=True,
    simple_denoiser_sigma_per_sample=True,
    noiser_fp32_lerp=True,
    conditioning_writes_latent=False,
    guider_fp32=True,
    text_batched_bos=True,
    two_stage_stage1_audio=True,
    decode_separable_masks=True,
    decode_auto_tiling=True,
    encode_latent_tile_plan=True,
    image_exif_icc_decode=True,
    enhance_left_pad=True,
    lora_delta_bf16=True,
    cli_defaults_1_2_0=True,
)

DEFAULT_NUMERICS = NUMERICS_1_2_0
NUMERICS = {n.name: n for n in (NUMERICS_1_2_0, NUMERICS_1_1_3)}


def numerics_named(name: str) -> Numerics:
    """The numerics of official release `name` ("1.2.0" or "1.1.3"); any other name is a one-line InputError."""
    try:
        return NUMERICS[name]
    except KeyError:
        valid = ", ".join(repr(n) for n in NUMERICS)
        raise InputError(f"numerics {name!r} is unknown; use one of {valid}") from None
