"""One denoising step (one transformer forward) of the LTX-2.3 transformer, resident vs block streaming.

Random bf16 weights in the real configuration with `--layers` blocks (default: as many as fit), written to a temporary
single-file checkpoint, then for each setup (resident / cpu / disk streaming, with and without fp8-cast and
torch.compile; resident fp8-scaled-mm on a pre-quantized copy) at the token counts of a 768x512x121 clip and of a
small clip: median time, peak accelerator memory, achieved matmul FLOP/s (counted with torch's FlopCounterMode)
against the device's measured bf16 matmul peak, the time ratio to the first setup, and (CUDA) the host-device
synchronisations of one forward under torch's sync debug mode. `--clips` limits the clips (compile: one is enough).

    uv run python scripts/bench_transformer.py                            # GPU, as many blocks as fit
    uv run python scripts/bench_transformer.py --layers 8 --compile       # GPU, quicker
    uv run python scripts/bench_transformer.py --quick                    # CPU smoke run, < 1 minute

Disk-mode times include OS page-cache hits (the file was just written); cold-cache numbers are slower.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch.utils.flop_counter import FlopCounterMode

from ltx_core.compile import compile_transformer
from ltx_core.geometry import video_latent_tokens
from ltx_core.model.audio_vae.timing import audio_latent_frames_for_video
from ltx_core.model.transformer import Modality
from ltx_core.model.transformer.loading import build_transformer, transformer_checkpoint_state_dict, transformer_config
from ltx_core.offload.streaming import build_streaming_transformer, load_resident_transformer
from ltx_core.testing.fp8_checkpoints import write_scaled_fp8_checkpoint
from ltx_core.testing.tiny_checkpoints import real_transformer_config, tiny_transformer_config


@dataclass(frozen=True)
class Clip:
    name: str
    width: int
    height: int
    frames: int
    fps: float = 24.0

    @property
    def video_tokens(self) -> int:
        return video_latent_tokens(self.frames, self.height, self.width)

    @property
    def audio_tokens(self) -> int:
        return audio_latent_frames_for_video(self.frames, self.fps)


CLIPS = (Clip("768x512x121", 768, 512, 121), Clip("512x320x25", 512, 320, 25))


def write_checkpoint(path: Path, config: dict) -> int:
    with torch.device("meta"):
        meta = build_transformer({"transformer": config})
    g = torch.Generator().manual_seed(0)
    tensors = {
        k: (torch.randn(t.shape, generator=g) * 0.02).to(torch.bfloat16)
        for k, t in transformer_checkpoint_state_dict(meta).items()
    }
    save_file(tensors, str(path), metadata={"config": json.dumps({"transformer": config})})
    return sum(t.numel() * t.element_size() for t in tensors.values())


def layers_that_fit(version: str, device: torch.device, fp8: bool, activations: int = 12 * 2**30) -> int:
    """As many blocks as the accelerator holds (resident bf16 + `activations`) and the temporary disk holds (the
    bf16 file, plus its pre-quantized copy with `fp8`), at most the real 48; 2 on CPU."""
    if device.type != "cuda":
        return 2
    with torch.device("meta"):
        one, two = (build_transformer({"transformer": real_transformer_config(version, num_layers=n)}) for n in (1, 2))
    per_block = sum(p.numel() for p in two.parameters()) - sum(p.numel() for p in one.parameters())
    per_block *= 2  # bf16
    free_gpu = torch.cuda.mem_get_info(device)[0]
    free_disk = shutil.disk_usage(tempfile.gettempdir()).free
    by_gpu = (free_gpu - activations) // per_block
    by_disk = (free_disk - 4 * 2**30) // int(per_block * (1.5 if fp8 else 1.0))
    return int(max(1, min(48, by_gpu, by_disk)))


def make_inputs(config: dict, clip: Clip, text_len: int, device: torch.device) -> tuple[Modality, Modality]:
    cfg = transformer_config({"transformer": config})
    g = torch.Generator().manual_seed(1)
    bf16 = torch.bfloat16

    def modality(tokens: int, channels: int, axes: int, ctx_dim: int) -> Modality:
        starts = torch.rand(1, axes, tokens, 1, generator=g) * 10
        return Modality(
            latent=torch.randn(1, tokens, channels, generator=g).to(device, bf16),
            sigma=torch.tensor([0.7], device=device),
            timesteps=torch.full((1, tokens, 1), 0.7, device=device),
            positions=torch.cat([starts, starts + 1], dim=-1).to(device),
            context=torch.randn(1, text_len, ctx_dim, generator=g).to(device, bf16),
        )

    ctx_v = cfg.caption_channels if cfg.has_caption_projection else cfg.cross_attention_dim
    ctx_a = cfg.caption_channels if cfg.has_caption_projection else cfg.audio_cross_attention_dim
    video = modality(clip.video_tokens, cfg.in_channels, 3, ctx_v)
    audio = modality(clip.audio_tokens, cfg.audio_in_channels, 1, ctx_a)
    return video, audio


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, n: int, repeats: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


@contextmanager
def cuda_sync_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """CUDA's own detector of host-device synchronisations (torch's sync debug mode): each blocking call inside the
    block leaves a warning in the yielded list (`sync_count` counts them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield caught
        finally:
            torch.cuda.set_sync_debug_mode("default")


def sync_count(caught: list[warnings.WarningMessage]) -> int:
    return sum("synchroniz" in str(w.message) for w in caught)


def count_syncs(model: torch.nn.Module, video: Modality, audio: Modality, device: torch.device) -> int | None:
    """Host-device synchronisations in one forward under torch's sync debug mode (CUDA only; None elsewhere)."""
    if device.type != "cuda":
        return None
    with torch.no_grad(), cuda_sync_warnings() as caught:
        model(video, audio)
        return sync_count(caught)


def count_flops(model: torch.nn.Module, video: Modality, audio: Modality) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(video, audio)
    return int(counter.get_total_flops())


def time_forward(
    model: torch.nn.Module, video: Modality, audio: Modality, device: torch.device, repeats: int
) -> tuple[float, int]:
    with torch.no_grad():
        model(video, audio)  # warm-up (and compilation)
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(video, audio)
            sync(device)
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    return statistics.median(times), peak


SUFFIX = {None: "", "fp8-cast": "+fp8", "fp8-scaled-mm": "+fp8mm"}


def setups(args: argparse.Namespace) -> list[tuple[str, str, str | None, bool]]:
    """(offload mode, label, quantization, compiled); fp8-scaled-mm (a pre-quantized copy) only runs resident."""
    out = []
    for mode in args.modes.split(","):
        quants = (None, "fp8-cast", "fp8-scaled-mm") if args.fp8 else (None,)
        for quant in quants if mode == "none" else quants[:2]:
            out.append((mode, f"{mode}{SUFFIX[quant]}", quant, False))
            if args.compile and mode == "none":
                out.append((mode, f"none{SUFFIX[quant]}+compile", quant, True))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", default="ltx23", choices=("ltx2", "ltx23"))
    p.add_argument(
        "--layers",
        type=int,
        default=None,
        help="transformer blocks (48 in the real model; default: as many as fit the accelerator and the "
        "temporary disk, at most 48; 2 on CPU)",
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--modes", default="none,cpu,disk", help="comma-separated offload modes")
    p.add_argument(
        "--fp8",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run fp8-cast, and fp8-scaled-mm on a pre-quantized copy",
    )
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False, help="also run compiled")
    p.add_argument("--clips", default=",".join(c.name for c in CLIPS), help="comma-separated clips to time")
    p.add_argument("--text-len", type=int, default=1024, help="text context tokens (1024 in the pipelines)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="tiny widths, 2 layers, short text: a CPU smoke run")
    args = p.parse_args()
    device = torch.device(args.device)
    clips = [c for c in CLIPS if c.name in args.clips.split(",")]
    if not clips:
        p.error(f"--clips {args.clips!r} names no clip; valid: {', '.join(c.name for c in CLIPS)}")
    if args.quick:
        config = tiny_transformer_config(args.version) | {"num_layers": 2}
        args.text_len, args.repeats = 128, 1
    else:
        if args.layers is None:
            args.layers = layers_that_fit(args.version, device, args.fp8)
        config = real_transformer_config(args.version, num_layers=args.layers)
    peak = matmul_peak(device, 8192 if device.type == "cuda" else 1024)
    print(
        f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
        f"measured bf16 matmul peak {peak / 1e12:.2f} TFLOP/s; {config['num_layers']} layers"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transformer.safetensors"
        nbytes = write_checkpoint(path, config)
        print(f"checkpoint {nbytes / 2**30:.2f} GiB (bf16)")
        scaled_path = Path(tmp) / "transformer-fp8.safetensors"
        if args.fp8:
            write_scaled_fp8_checkpoint(path, scaled_path)
        print(
            f"{'clip':<13} {'setup':<18} {'time s':>9} {'ratio':>7} {'peak GiB':>9} {'TFLOP/s':>8} {'of peak':>8} "
            f"{'syncs':>6}"
        )
        inputs = {clip.name: make_inputs(config, clip, args.text_len, device) for clip in clips}
        flops: dict[str, int] = {}
        base: dict[str, float] = {}
        # Each setup's model is built once and timed at every clip (a build reads the whole checkpoint).
        for mode, label, quant, compiled in setups(args):
            if mode == "none":
                source = scaled_path if quant == "fp8-scaled-mm" else path
                model = load_resident_transformer(source, dtype=torch.bfloat16, device=device, quantization=quant)
                if compiled:
                    compile_transformer(model)
            else:
                model = build_streaming_transformer(path, mode, device, dtype=torch.bfloat16, quantization=quant)
            for clip in clips:
                video, audio = inputs[clip.name]
                if clip.name not in flops:
                    flops[clip.name] = count_flops(model, video, audio)
                    print(
                        f"{clip.name:<13} tokens: video {clip.video_tokens}, audio {clip.audio_tokens}, "
                        f"text {args.text_len}; {flops[clip.name] / 1e12:.4g} TFLOP per step"
                    )
                seconds, mem = time_forward(model, video, audio, device, args.repeats)
                syncs = count_syncs(model, video, audio, device)
                base.setdefault(clip.name, seconds)
                achieved = flops[clip.name] / seconds
                mem_text = f"{mem / 2**30:>9.2f}" if device.type == "cuda" else f"{'-':>9}"
                print(
                    f"{clip.name:<13} {label:<18} {seconds:>9.4f} {seconds / base[clip.name]:>7.2f} {mem_text} "
                    f"{achieved / 1e12:>8.3f} {achieved / peak:>8.1%} {'-' if syncs is None else syncs:>6}"
                )
            if hasattr(model, "close"):
                model.close()
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
