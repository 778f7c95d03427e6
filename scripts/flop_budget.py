"""The arithmetic a distilled two-stage run costs, model by model, and what a time target asks of the accelerator.

Every model is built in its real configuration on the meta device (no weights, no memory, seconds on any CPU) and run
once under torch's FlopCounterMode at the shapes of the run: stage 1 at half resolution, the x2 upsampler, stage 2
at full resolution, the video decoder and the audio decoder + vocoder. The Gemma text encoder is left out, as in the
issue's speed target. Output: TFLOP per step and per stage, and the sustained TFLOP/s that `--target-seconds` needs,
also as a share of `--peak` (the accelerator's dense bf16 peak, e.g. 989 for an H100 SXM).

    uv run python scripts/flop_budget.py                       # LTX-2.3 distilled, 768x512x121, 8 + 3 steps, 7.5 s
    uv run python scripts/flop_budget.py --peak 989 --target-seconds 7.5

Counted: matmuls, attention and convolutions (what FlopCounterMode counts); element-wise work and memory traffic are
not, so the achievable time is longer than the count alone suggests (bench_transformer reports achieved FLOP/s).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import torch
from bench_transformer import Clip, count_flops, make_inputs  # this folder: runs as `python scripts/flop_budget.py`
from torch.utils.flop_counter import FlopCounterMode

from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR, check_frame_count, check_multiple, latent_frames, latent_size
from ltx_core.model.audio_vae.loading import audio_decoder_from_config, audio_vae_config, vocoder_from_config
from ltx_core.model.transformer.loading import build_transformer, transformer_config
from ltx_core.model.upsampler.loading import upsampler_factory
from ltx_core.model.video_vae import VideoDecoder, VideoDecoderConfig
from ltx_core.testing.real_configs import real_config, real_upsampler_config


@dataclass(frozen=True)
class Row:
    name: str
    tflop_per_call: float
    calls: int

    @property
    def tflop(self) -> float:
        return self.tflop_per_call * self.calls


META = torch.device("meta")


def count(fn: Callable[[], object]) -> float:
    """TFLOP of one call of `fn` (on meta tensors)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e12


def video_latent_shape(height: int, width: int, frames: int) -> tuple[int, int, int]:
    return latent_frames(frames), latent_size(height), latent_size(width)


def audio_latents(config: dict, frames: int, fps: float) -> int:
    return round(frames / fps * audio_vae_config(config).latents_per_second)


def transformer_step(config: dict, height: int, width: int, frames: int, fps: float, text_len: int) -> float:
    """TFLOP of one transformer forward (one denoising step without guidance) at a clip's token counts, on meta,
    with bench_transformer's inputs."""
    video, audio = make_inputs(config["transformer"], Clip("", width, height, frames, fps), text_len, META)
    with torch.device("meta"):
        model = build_transformer(config).to(torch.bfloat16)
    return count_flops(model, video, audio) / 1e12


def decoding_rows(config: dict, version: str, height: int, width: int, frames: int, fps: float) -> list[Row]:
    """The models of a two-stage run other than the transformer, once each: the x2 latent upsampler (at half
    size), the video decoder and the audio decoder + vocoder (full size)."""
    with torch.device("meta"):
        f, h, w = video_latent_shape(height // 2, width // 2, frames)
        upsampler = upsampler_factory(real_upsampler_config(version)).to(torch.bfloat16)
        upsample = count(lambda: upsampler(torch.empty(1, 128, f, h, w, dtype=torch.bfloat16)))
        decoder = VideoDecoder(VideoDecoderConfig.from_config(config)).to(torch.bfloat16)
        f, h, w = video_latent_shape(height, width, frames)
        decode = count(lambda: decoder(torch.empty(1, 128, f, h, w, dtype=torch.bfloat16)))
        audio_decoder = audio_decoder_from_config(config).to(torch.bfloat16)
        vocoder = vocoder_from_config(config).to(torch.bfloat16)
        channels = audio_vae_config(config).latent_channels  # as LatentGeometry derives it
        mel_bins = transformer_config(config).audio_in_channels // channels
        latents = audio_latents(config, frames, fps)
        audio_latent = torch.empty(1, channels, latents, mel_bins, dtype=torch.bfloat16)
        audio = count(lambda: vocoder(audio_decoder(audio_latent)))
    return [
        Row("x2 latent upsampler", upsample, 1),
        Row("video decoder", decode, 1),
        Row("audio decoder + vocoder", audio, 1),
    ]


def budget(args: argparse.Namespace) -> list[Row]:
    config = real_config(args.version)
    half_h, half_w = args.height // 2, args.width // 2
    stage_1 = transformer_step(config, half_h, half_w, args.frames, args.fps, args.text_len)
    stage_2 = transformer_step(config, args.height, args.width, args.frames, args.fps, args.text_len)
    upsample, decode, audio = decoding_rows(config, args.version, args.height, args.width, args.frames, args.fps)
    return [
        Row(f"stage 1 transformer ({half_w}x{half_h}x{args.frames})", stage_1, args.stage1_steps),
        upsample,
        Row(f"stage 2 transformer ({args.width}x{args.height}x{args.frames})", stage_2, args.stage2_steps),
        decode,
        audio,
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", choices=("ltx2", "ltx23"), default="ltx23")
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--frames", type=int, default=121)
    p.add_argument("--fps", type=float, default=24.0)
    p.add_argument("--stage1-steps", type=int, default=8, help="distilled stage 1: 8 steps, one pass each")
    p.add_argument("--stage2-steps", type=int, default=3, help="distilled stage 2: 3 steps")
    p.add_argument("--text-len", type=int, default=1024, help="text context tokens (1024 in the pipelines)")
    p.add_argument("--target-seconds", type=float, default=7.5)
    p.add_argument("--peak", type=float, default=None, help="dense bf16 peak in TFLOP/s (H100 SXM: 989)")
    args = p.parse_args()
    try:
        check_multiple("--height", args.height, TWO_STAGE_DIVISOR, " for two-stage pipelines")
        check_multiple("--width", args.width, TWO_STAGE_DIVISOR, " for two-stage pipelines")
        check_frame_count("--frames", args.frames)
    except InputError as err:
        p.error(str(err))

    rows = budget(args)
    total = sum(r.tflop for r in rows)
    print(f"{'':44} {'TFLOP/call':>11} {'calls':>6} {'TFLOP':>9} {'share':>7}")
    for r in rows:
        print(f"{r.name:44} {r.tflop_per_call:11.2f} {r.calls:6d} {r.tflop:9.1f} {r.tflop / total:7.1%}")
    print(f"{'total (text encoder excluded)':44} {'':11} {'':6} {total:9.1f}")
    needed = total / args.target_seconds
    line = f"{args.target_seconds:g} s needs {needed:.0f} TFLOP/s sustained"
    if args.peak:
        line += f" = {needed / args.peak:.1%} of a {args.peak:g} TFLOP/s peak"
    print(line)


if __name__ == "__main__":
    main()
