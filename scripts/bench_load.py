"""Peak host memory while loading a transformer of realistic size, as a ratio of the component's size.

Writes the real LTX-2 (19B) transformer configuration with `--layers` blocks (random bf16 weights) to a temporary
single-file checkpoint, then loads it with `load_transformer` in a fresh process and reports
(peak RSS − RSS before loading) / (bytes of transformer weights). Target: ≤ 1.1 (no second copy of the weights).

    uv run python scripts/bench_load.py --layers 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from ltx_core.testing.tiny_checkpoints import real_transformer_config


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def write_checkpoint(path: Path, layers: int, version: str) -> int:
    from ltx_core.model.transformer.loading import build_transformer, transformer_checkpoint_state_dict

    config = {"transformer": real_transformer_config(version, num_layers=layers)}
    with torch.device("meta"):
        meta = build_transformer(config)
    g = torch.Generator().manual_seed(0)
    tensors = {}
    for key, t in transformer_checkpoint_state_dict(meta).items():
        tensors[key] = (torch.randn(t.shape, generator=g) * 0.02).to(torch.bfloat16)
    save_file(tensors, str(path), metadata={"config": json.dumps(config)})
    return sum(t.numel() * t.element_size() for t in tensors.values())


def measure(path: str) -> None:
    """Runs in a fresh process: RSS before, peak RSS after loading (ru_maxrss is the process peak, in KiB)."""
    from ltx_core.loader import open_checkpoint
    from ltx_core.model.transformer.loading import build_transformer, load_transformer

    # Warm-up: the first module construction pays a fixed one-time cost (lazy imports, allocator arenas) that is
    # not part of loading; build a one-block meta model so it is outside the measurement.
    warm = {"transformer": dict(open_checkpoint(path).config["transformer"], num_layers=1)}
    with torch.device("meta"):
        build_transformer(warm)
    before = _rss_bytes()
    t0 = time.perf_counter()
    model = load_transformer(path)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    nbytes = sum(p.numel() * p.element_size() for p in model.state_dict().values())
    print(json.dumps({"before": before, "peak": peak, "model_bytes": nbytes, "seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4, help="transformer blocks to build (real: 48)")
    parser.add_argument("--version", choices=["ltx2", "ltx23"], default="ltx2")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transformer.safetensors"
        print(f"writing the real {args.version} transformer config with {args.layers} layers (random bf16 weights)...")
        file_bytes = write_checkpoint(path, args.layers, args.version)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)], check=True, capture_output=True, text=True
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
    growth = r["peak"] - r["before"]
    ratio = growth / r["model_bytes"]
    print(f"weights in file:        {file_bytes / 2**30:.2f} GiB")
    print(f"model weights loaded:   {r['model_bytes'] / 2**30:.2f} GiB in {r['seconds']:.1f} s")
    print(f"RSS growth while load:  {growth / 2**30:.2f} GiB")
    print(f"peak / component size:  {ratio:.3f}  (target <= 1.10: {'OK' if ratio <= 1.10 else 'OVER'})")


if __name__ == "__main__":
    main()
