"""One denoising step (one transformer forward) split over N processes with sequence parallelism, N = 1, 2, 4, 8.

Random bf16 weights in the real LTX-2.3 configuration (`--layers` blocks) written to a temporary checkpoint; each
world size runs as N spawned processes (NCCL, one GPU each, on a CUDA machine; gloo on the CPU) at the token counts
of a 768x512x121 and a 1536x1024x121 clip. Per world size: median time per step, speedup and scaling efficiency
against one process (t1 / (N * tN)), peak memory per rank, and the bytes each rank sends per step through the
collectives (all-to-all and all-gather, counted by wrapping them). `--shard-weights` shards the blocks with FSDP2
(the all-gathers of the weights are then counted too).

    uv run python scripts/bench_parallel.py                      # GPU machine: as many GPUs as there are
    uv run python scripts/bench_parallel.py --quick              # CPU: the mechanics at a reduced size (~1 min)
"""

from __future__ import annotations

import argparse
import statistics
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
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.tiny_checkpoints import real_transformer_config, tiny_transformer_config

BIG_CLIP = Clip("1536x1024x121", 1536, 1024, 121)
QUICK_CLIPS = (Clip("256x192x25", 256, 192, 25), Clip("512x384x25", 512, 384, 25))


class CountedCollectives:
    """Bytes this rank sends through all_to_all_single / all_gather / all_gather_into_tensor while active."""

    def __init__(self) -> None:
        self.bytes = 0
        self._saved: list[tuple[str, object]] = []

    def __enter__(self) -> CountedCollectives:
        for name in ("all_to_all_single", "all_gather", "all_gather_into_tensor"):
            original = getattr(dist, name)
            self._saved.append((name, original))

            def wrapper(*args: object, _original: object = original, _name: str = name, **kwargs: object) -> object:
                sent = args[1]  # the input: (output, input, ...) for each of the three
                if isinstance(sent, torch.Tensor):
                    self.bytes += sent.numel() * sent.element_size()
                return _original(*args, **kwargs)  # type: ignore[operator]

            setattr(dist, name, wrapper)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved:
            setattr(dist, name, original)


def rank_step(
    rank: int, world: int, checkpoint: str, config: dict, clips: list[tuple[str, int, int, int]], repeats: int,
    shard: bool, text_len: int,
) -> dict[str, torch.Tensor]:  # fmt: skip
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
            with CountedCollectives() as counted:
                runner(video, audio)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _max_rss()
        out[f"{name}.seconds"] = torch.tensor(statistics.median(times), dtype=torch.float64)
        out[f"{name}.peak"] = torch.tensor(peak, dtype=torch.float64)
        out[f"{name}.sent"] = torch.tensor(counted.bytes, dtype=torch.float64)
    return out


def _max_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4, help="transformer blocks (the real model has 48)")
    p.add_argument("--worlds", default=None, help="comma-separated world sizes (default: 1,2,4,8 up to the GPUs)")
    p.add_argument("--shard-weights", action="store_true", help="FSDP2-shard the blocks over the ranks")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--text-len", type=int, default=1024)
    p.add_argument("--quick", action="store_true", help="CPU mechanics: tiny widths with 8 heads, small clips")
    args = p.parse_args()

    cuda = torch.cuda.is_available() and not args.quick
    available = torch.cuda.device_count() if cuda else 2
    worlds = [int(w) for w in args.worlds.split(",")] if args.worlds else [w for w in (1, 2, 4, 8) if w <= available]
    if args.quick:
        # 8 heads of 4 (the tiny widths), so that Ulysses runs for N = 2, 4, 8
        config = {**tiny_transformer_config("ltx23"), "num_attention_heads": 8, "attention_head_dim": 4,
                  "audio_num_attention_heads": 8, "audio_attention_head_dim": 2}  # fmt: skip
        clips, text_len = QUICK_CLIPS, 64
    else:
        config, clips, text_len = real_transformer_config("ltx23", args.layers), (CLIPS[0], BIG_CLIP), args.text_len
    spec = [(c.name, c.width, c.height, c.frames) for c in clips]
    print(f"{f'cuda x{available}' if cuda else 'cpu (gloo)'}, {config['num_layers']} blocks, "
          f"{'sharded' if args.shard_weights else 'replicated'} weights")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transformer.safetensors"
        write_checkpoint(path, config)
        rows: dict[int, dict[str, torch.Tensor]] = {}
        for world in worlds:
            results = run_ranks(rank_step, world, str(path), config, spec, args.repeats, args.shard_weights, text_len,
                                timeout=3000, backend="nccl" if cuda else "gloo")  # fmt: skip
            rows[world] = {k: max(r[k] for r in results) for k in results[0]}  # the slowest / largest rank
    print(f"{'clip':<16}{'N':>3}{'ms/step':>10}{'speedup':>9}{'eff.':>7}{'peak/rank':>12}{'sent/rank/step':>16}")
    for name, *_ in spec:
        base = float(rows[worlds[0]][f"{name}.seconds"]) * worlds[0]
        for world in worlds:
            r = rows[world]
            t = float(r[f"{name}.seconds"])
            peak, sent = float(r[f"{name}.peak"]) / 2**30, float(r[f"{name}.sent"]) / 2**20
            print(f"{name:<16}{world:>3}{t * 1e3:>10.1f}{base / t:>9.2f}{base / (world * t):>7.2f}"
                  f"{peak:>10.2f} G{sent:>14.1f} M")  # fmt: skip


if __name__ == "__main__":
    main()
