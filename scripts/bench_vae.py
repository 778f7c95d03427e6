"""Peak memory and time of untiled vs tiled video decoding with the real LTX-2.3 decoder configuration.

Weights are random (the numbers depend only on shapes). Each mode runs in its own subprocess so peaks do not mix:
on CUDA the peak is torch.cuda.max_memory_allocated above the loaded model; on CPU it is the peak RSS above the
RSS after building the model (the kernel's high-water mark is reset first via /proc/self/clear_refs).

    uv run python scripts/bench_vae.py --small          # CPU-friendly reduced size (17 frames, 128×192)
    uv run python scripts/bench_vae.py                  # 121 frames at 512×768 (needs a GPU to be quick)

Exits non-zero if tiling does not cut the peak by at least --min-ratio (default 2).

    uv run python scripts/bench_vae.py --diffusion --small   # LTX-2.5 diffusion decoder, reduced, CPU-friendly

`--diffusion` times the LTX-2.5 diffusion decoder (chunked pathway, the pipelines' default) untiled and tiled, each
with the two attention cuts: `official` (the official eager fallback's few large masked SDPA calls: the CPU default,
bitwise the official decode) and `blocked` (small query blocks, little masked work: the default on accelerators),
and prints time and peak memory with the ratios untiled / tiled and official / blocked. `--small` uses a reduced
architecture (same kernels as the real stages 3-5, fewer channels and blocks) for the CPU; without it, the default
architecture at the given size (scripts/gpu_check.sh step `bench_dvae`: 25 frames at 512x768 on the GPU).
Weights bf16 on CUDA, float32 on the CPU (`--dtype` to choose). On the CPU the peak is the RSS growth over the
decode, which misses memory the warm-up (a minimal latent) already mapped: compare CPU peaks loosely.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

LTX23_VAE = {
    "latent_channels": 128,
    "decoder_base_channels": 128,
    "timestep_conditioning": False,
    "causal_decoder": False,
    "spatial_padding_mode": "zeros",
    "decoder_blocks": [
        ["res_x", {"num_layers": 4}],
        ["compress_space", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_time", {"multiplier": 2}],
        ["res_x", {"num_layers": 4}],
        ["compress_all", {"multiplier": 1}],
        ["res_x", {"num_layers": 2}],
        ["compress_all", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
    ],
}


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_cpu_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _build_decoder(device, dtype):
    import torch

    from ltx_core.model.video_vae import MemoryEfficientVideoDecoder, VideoDecoderConfig

    with torch.device("meta"):
        decoder = MemoryEfficientVideoDecoder(VideoDecoderConfig.from_config({"vae": LTX23_VAE}))
    decoder = decoder.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in decoder.parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.normal_(0.0, fan_in**-0.5, generator=gen)
            else:
                p.zero_()
        decoder.per_channel_statistics.get_buffer("std-of-means").fill_(1.0)
        decoder.per_channel_statistics.get_buffer("mean-of-means").zero_()
    return decoder.to(dtype).eval()


DIFFUSION_SMALL = {  # reduced LTX-2.5 decoder: the real 3x5x5 / 3x7x7 kernels, narrow and shallow
    "head_dim": 32,
    "t_emb_dim": 64,
    "stage_channels": [256, 128, 64, 64, 32],
    "stage_depths": [1, 1, 1, 1, 4],
    "stage_kernels": [[3, 5, 5], [3, 5, 5], [3, 5, 5], [3, 5, 5], [3, 3, 3]],
    "stage5_kernel": [3, 7, 7],
    "stage5_channels": 64,
}


def _build_diffusion_decoder(device, dtype, attention: str, small: bool):
    import torch

    from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig
    from ltx_core.model.video_vae.diffusion.model import CHUNKED, DiffusionVideoDecoder

    vae = {"_class_name": "CausalDiffusionVAE", "latent_channels": 128, "decoder": DIFFUSION_SMALL if small else {}}
    cfg = DiffusionDecoderConfig.from_config({"vae": vae})
    with torch.device("meta"):
        decoder = DiffusionVideoDecoder(cfg, CHUNKED, attention)
    decoder = decoder.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for name, p in decoder.state_dict().items():
            if p.dim() > 1:
                p.normal_(0.0, p[0].numel() ** -0.5, generator=gen)
            elif name.endswith("std-of-means") or "norm" in name:
                p.fill_(1.0)
            else:
                p.zero_()
    return decoder.to(dtype).eval()


def diffusion_child(args) -> None:
    import torch

    from ltx_core.model.video_vae import TileSizeConfig, decode_video

    cuda = torch.cuda.is_available() and not args.cpu
    device = torch.device("cuda" if cuda else "cpu")
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}.get(args.dtype, torch.bfloat16 if cuda else torch.float32)
    mode, attention = args.mode.split("-")
    decoder = _build_diffusion_decoder(device, dtype, attention, args.small)
    latent_shape = (1, 128, (args.frames - 1) // 8 + 1, args.height // 32, args.width // 32)
    latent = torch.randn(latent_shape, generator=torch.Generator().manual_seed(0)).to(device=device, dtype=dtype)
    tiling = None
    if mode == "tiled":
        _, ov_px = decoder.config.min_overlaps()
        tiling = TileSizeConfig(height=(args.tile_px, ov_px), width=(args.tile_px, ov_px))
    warm = latent[:, :, :1, :1, :1]  # padded to the smallest decodable latent: loads the kernels, small peak
    for _ in decode_video(decoder, warm, None, torch.Generator(device).manual_seed(0)):
        pass
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        _reset_cpu_peak()
        base = _rss_kb("VmRSS") * 1024
    start = time.perf_counter()
    frames = 0
    for chunk in decode_video(decoder, latent, tiling, torch.Generator(device).manual_seed(0)):
        frames += chunk.shape[0]
        del chunk
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _rss_kb("VmHWM") * 1024 - base
    elapsed = time.perf_counter() - start
    print(
        json.dumps({"mode": args.mode, "peak_bytes": peak, "seconds": elapsed, "frames": frames, "device": str(device)})
    )


def diffusion_main(args) -> None:
    runs = ("untiled-official", "untiled-blocked", "tiled-official", "tiled-blocked")
    results = {}
    for mode in runs:
        cmd = [sys.executable, __file__, *sys.argv[1:], "--mode", mode]
        out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            sys.exit(f"{mode} run failed")
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    arch = "reduced architecture (--small)" if args.small else "default architecture"
    dtype = args.dtype or ("bf16" if results[runs[0]]["device"].startswith("cuda") else "fp32")
    print(
        f"LTX-2.5 diffusion decoder, chunked, {arch}, random weights, {dtype}, {args.frames} frames at "
        f"{args.height}x{args.width}, device {results[runs[0]]['device']}; tiles {args.tile_px} px (H and W)"
    )
    for mode in runs:
        r = results[mode]
        mib = r["peak_bytes"] / 2**20
        print(f"  {mode:17s} peak {mib:9.1f} MiB   time {r['seconds']:7.2f} s   {r['frames']} frames")

    def ratios(a: dict, b: dict) -> str:
        return f"time {a['seconds'] / b['seconds']:.2f}x, peak {a['peak_bytes'] / max(b['peak_bytes'], 1):.2f}x"

    for attention in ("official", "blocked"):
        untiled, tiled_ = results[f"untiled-{attention}"], results[f"tiled-{attention}"]
        print(f"  {attention}: untiled / tiled {ratios(untiled, tiled_)}")
    for tiled in ("untiled", "tiled"):
        print(f"  {tiled}: official / blocked {ratios(results[f'{tiled}-official'], results[f'{tiled}-blocked'])}")


def child(args) -> None:
    import torch

    from ltx_core.geometry import latent_frames, latent_size
    from ltx_core.model.video_vae import SpatialTilingConfig, TemporalTilingConfig, TilingConfig, decode_video

    cuda = torch.cuda.is_available() and not args.cpu
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    torch.manual_seed(0)
    decoder = _build_decoder(device, dtype)
    shape = (1, 128, latent_frames(args.frames), latent_size(args.height), latent_size(args.width))
    latent = torch.randn(shape, device=device)
    latent = latent.to(dtype)
    tiling = None
    if args.mode == "tiled":
        tiling = TilingConfig(
            SpatialTilingConfig(args.tile_px, args.tile_overlap_px),
            TemporalTilingConfig(args.tile_frames, args.tile_overlap_frames) if args.tile_frames else None,
        )
    # warm-up on a minimal latent: loads conv kernels / libraries so their pages do not count as working memory
    for _ in decode_video(decoder, torch.randn(1, 128, 1, 2, 2, device=device, dtype=dtype)):
        pass
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        _reset_cpu_peak()
        base = _rss_kb("VmRSS") * 1024
    start = time.perf_counter()
    frames = 0
    for chunk in decode_video(decoder, latent, tiling):
        frames += chunk.shape[0]  # a pipeline would encode the chunk to the video file here, then drop it
        del chunk
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _rss_kb("VmHWM") * 1024 - base
    elapsed = time.perf_counter() - start
    print(
        json.dumps({"mode": args.mode, "peak_bytes": peak, "seconds": elapsed, "frames": frames, "device": str(device)})
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="reduced size for CPU: 17 frames at 128×192")
    ap.add_argument("--frames", type=int, default=121)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--tile-px", type=int, default=256)
    ap.add_argument("--tile-overlap-px", type=int, default=64)
    ap.add_argument("--tile-frames", type=int, default=48, help="0 = no temporal tiling")
    ap.add_argument("--tile-overlap-frames", type=int, default=24)
    ap.add_argument("--min-ratio", type=float, default=2.0)
    ap.add_argument("--cpu", action="store_true", help="run on CPU even if CUDA is available")
    ap.add_argument("--diffusion", action="store_true", help="the LTX-2.5 diffusion decoder (see above)")
    ap.add_argument("--dtype", choices=("bf16", "fp32"), help="--diffusion: weights dtype (bf16 on CUDA, else fp32)")
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.diffusion:
        if args.small:
            args.frames, args.height, args.width, args.tile_px = 17, 160, 192, 96
        if args.mode:
            diffusion_child(args)
        else:
            diffusion_main(args)
        return
    if args.small:
        args.frames, args.height, args.width = 17, 128, 192
        args.tile_px, args.tile_overlap_px, args.tile_frames = 96, 32, 0
    if args.mode:
        child(args)
        return
    results = {}
    for mode in ("untiled", "tiled"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--mode", mode]
        out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            sys.exit(f"{mode} run failed")
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    size = f"{args.frames} frames at {args.height}×{args.width}"
    print(f"LTX-2.3 decoder (random weights), {size}, device {results['untiled']['device']}")
    if args.small:
        print("(--small: reduced size so the CPU run is quick; the full size is 121 frames at 512×768)")
    tile = f"tiles {args.tile_px}px/{args.tile_overlap_px}px" + (
        f", {args.tile_frames}/{args.tile_overlap_frames} frames" if args.tile_frames else ", no temporal tiling"
    )
    for mode in ("untiled", "tiled"):
        r = results[mode]
        extra = f" ({tile})" if mode == "tiled" else ""
        peak_mib = r["peak_bytes"] / 2**20
        print(f"  {mode:8s} peak {peak_mib:9.1f} MiB   time {r['seconds']:7.2f} s   {r['frames']} frames{extra}")
    ratio = results["untiled"]["peak_bytes"] / max(results["tiled"]["peak_bytes"], 1)
    print(f"  peak memory ratio untiled / tiled: {ratio:.2f}x")
    pixels = args.frames * args.height * args.width
    per_pixel = (
        results["untiled"]["peak_bytes"] / pixels / (2 if results["untiled"]["device"].startswith("cuda") else 4)
    )
    from ltx_core.model.video_vae.tiling import DECODE_ELEMENTS_PER_PIXEL

    print(
        f"  untiled working memory: {per_pixel:.0f} elements per output pixel "
        f"(auto_tiling assumes {DECODE_ELEMENTS_PER_PIXEL})"
    )
    if ratio < args.min_ratio:
        sys.exit(f"tiling cut peak memory by only {ratio:.2f}x (< {args.min_ratio}x)")


if __name__ == "__main__":
    main()
