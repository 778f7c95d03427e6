"""One denoising step (one transformer forward) split over N processes with sequence parallelism, N = 1, 2, 4, 8.

Random bf16 weights in the real LTX-2.3 configuration (`--layers` blocks) written to a temporary checkpoint; each
world size runs as N spawned processes (NCCL, one GPU each, on a CUDA machine; gloo on the CPU) at the token counts
of a 768x512x121 and a 1536x1024x121 clip. Per world size: median time per step, speedup and scaling efficiency
against a one-process run measured in the same call (t1 / tN and t1 / (N * tN); none when the world sizes do not
include 1), peak memory per rank, and the collectives each rank issues per step with the bytes it sends through them
(every collective, whatever API issued it: `ltx_core.testing.collectives`, which also defines the bytes).
`--shard-weights` shards the blocks with FSDP2, whose weight gathers then add to the count. The interconnect is
printed first: `nvidia-smi topo -m` (and NCCL's version) on GPUs, "gloo on CPU / loopback" otherwise.

    uv run python scripts/bench_parallel.py                      # GPU machine: as many GPUs as there are
    uv run python scripts/bench_parallel.py --quick              # CPU: the mechanics at a reduced size (~1 min)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from bench_transformer import CLIPS, Clip, make_inputs, sync, write_checkpoint

from ltx_core.model.transformer.loading import load_transformer
from ltx_core.parallel.sequence import SequenceParallelTransformer
from ltx_core.parallel.sharding import load_sharded_transformer
from ltx_core.testing.collectives import count_collectives
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.tiny_checkpoints import real_transformer_config, tiny_transformer_config

BIG_CLIP = Clip("1536x1024x121", 1536, 1024, 121)
QUICK_CLIPS = (Clip("256x192x25", 256, 192, 25), Clip("512x384x25", 512, 384, 25))


def rank_step(
    rank: int,
    world: int,
    checkpoint: str,
    config: dict,
    clips: list[tuple[str, int, int, int]],
    repeats: int,
    shard: bool,
    text_len: int,
) -> dict[str, torch.Tensor]:
    device = (
        torch.device("cuda", rank)
        if torch.cuda.is_available() and dist.get_backend() == "nccl"
        else torch.device("cpu")
    )
    if shard:
        model = load_sharded_transformer(checkpoint, device=device)
    else:
        model = load_transformer(checkpoint, device=device)
    runner = SequenceParallelTransformer(model) if world > 1 else model
    out: dict[str, torch.Tensor] = {}
    for name, width, height, frames in clips:
        video, audio = make_inputs(config, Clip(name, width, height, frames), text_len, device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        with torch.inference_mode():
            runner(video, audio)  # warm-up
            for _ in range(repeats):
                if world > 1:
                    dist.barrier()
                sync(device)
                start = time.perf_counter()
                runner(video, audio)
                sync(device)
                times.append(time.perf_counter() - start)
            with count_collectives() as counted:  # a separate step: the dispatch mode slows every operator
                runner(video, audio)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _max_rss()
        out[f"{name}.seconds"] = torch.tensor(statistics.median(times), dtype=torch.float64)
        out[f"{name}.peak"] = torch.tensor(peak, dtype=torch.float64)
        out[f"{name}.sent"] = torch.tensor(counted.bytes, dtype=torch.float64)
        out[f"{name}.calls"] = torch.tensor(counted.total_calls, dtype=torch.float64)
        if rank == 0 and name == clips[0][0]:
            print(f"N={world} {name}, rank 0: {counted}", flush=True)
    return out


def _max_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def interconnect(cuda: bool) -> str:
    """How the processes are connected, for the record: the GPU topology matrix (NVLink / PCIe / NUMA) and NCCL's
    version on a CUDA machine, else gloo over the loopback interface."""
    if not cuda:
        return "interconnect: gloo on CPU / loopback (one machine)"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    nccl = ".".join(map(str, torch.cuda.nccl.version())) if hasattr(torch.cuda, "nccl") else "unknown"
    lines = [f"interconnect: NCCL {nccl}; GPUs: {names}"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        lines.append("nvidia-smi topo -m: nvidia-smi not found")
    else:
        try:
            done = subprocess.run([smi, "topo", "-m"], capture_output=True, text=True, timeout=60)
            lines.append("nvidia-smi topo -m:\n" + (done.stdout or done.stderr).rstrip())
        except (OSError, subprocess.SubprocessError) as error:
            lines.append(f"nvidia-smi topo -m: failed ({error})")
    return "\n".join(lines)


def scaling(seconds: dict[int, float]) -> dict[int, tuple[float | None, float | None]]:
    """(speedup, scaling efficiency) per world size against the one-process time measured in the same call; (None,
    None) for every world when no one-process run was measured (a baseline is never extrapolated from a larger
    world)."""
    base = seconds.get(1)
    if base is None:
        return {world: (None, None) for world in seconds}
    return {world: (base / t, base / (world * t)) for world, t in seconds.items()}


def parse_worlds(text: str | None, available: int) -> list[int]:
    if text is None:
        return [w for w in (1, 2, 4, 8) if w <= available]
    try:
        worlds = sorted({int(w) for w in text.split(",")})
    except ValueError:
        raise SystemExit(f"error: --worlds {text!r}: comma-separated process counts, e.g. 1,2,4") from None
    if not worlds or worlds[0] < 1:
        raise SystemExit(f"error: --worlds {text!r}: process counts are at least 1")
    return worlds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4, help="transformer blocks (the real model has 48)")
    p.add_argument(
        "--worlds",
        default=None,
        help="comma-separated world sizes (default: 1,2,4,8 up to the GPUs); include 1 for speedup and efficiency",
    )
    p.add_argument("--shard-weights", action="store_true", help="FSDP2-shard the blocks over the ranks")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--text-len", type=int, default=1024)
    p.add_argument("--quick", action="store_true", help="CPU mechanics: tiny widths with 8 heads, small clips")
    args = p.parse_args()

    cuda = torch.cuda.is_available() and not args.quick
    available = torch.cuda.device_count() if cuda else 2
    worlds = parse_worlds(args.worlds, available)
    if args.quick:
        # 8 heads of 4 (the tiny widths), so that Ulysses runs for N = 2, 4, 8
        tiny_heads = {"num_attention_heads": 8, "attention_head_dim": 4}
        tiny_heads |= {"audio_num_attention_heads": 8, "audio_attention_head_dim": 2}
        config = {**tiny_transformer_config("ltx23"), **tiny_heads}
        clips, text_len = QUICK_CLIPS, 64
    else:
        config, clips, text_len = real_transformer_config("ltx23", args.layers), (CLIPS[0], BIG_CLIP), args.text_len
    spec = [(c.name, c.width, c.height, c.frames) for c in clips]
    weights = "sharded (FSDP2)" if args.shard_weights else "replicated"
    device = f"cuda x{available}" if cuda else "cpu (gloo)"
    print(f"{device}, {config['num_layers']} blocks, {weights} weights; torch {torch.__version__}")
    print(interconnect(cuda))
    if 1 not in worlds:
        print(f"no one-process run in --worlds {args.worlds}: speedup and efficiency are not reported")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transformer.safetensors"
        write_checkpoint(path, config)
        rows: dict[int, dict[str, torch.Tensor]] = {}
        for world in worlds:
            backend = "nccl" if cuda else "gloo"
            step_args = (str(path), config, spec, args.repeats, args.shard_weights, text_len)
            results = run_ranks(rank_step, world, *step_args, timeout=3000, backend=backend)
            rows[world] = {k: max(r[k] for r in results) for k in results[0]}  # the slowest / largest rank
    head = f"{'clip':<16}{'N':>3}{'ms/step':>10}{'speedup':>9}{'eff.':>7}{'peak/rank':>12}"
    print(head + f"{'collectives':>13}{'sent/rank/step':>16}")
    for name, *_ in spec:
        seconds = {world: float(rows[world][f"{name}.seconds"]) for world in worlds}
        for world, (speedup, efficiency) in scaling(seconds).items():
            r = rows[world]
            peak, sent = float(r[f"{name}.peak"]) / 2**30, float(r[f"{name}.sent"]) / 2**20
            ratio = f"{speedup:>9.2f}{efficiency:>7.2f}" if speedup is not None else f"{'-':>9}{'-':>7}"
            line = f"{name:<16}{world:>3}{seconds[world] * 1e3:>10.1f}{ratio}{peak:>10.2f} G"
            print(line + f"{int(r[f'{name}.calls']):>13}{sent:>14.2f} M")


if __name__ == "__main__":
    main()
