"""N videos through one `--jobs` run against N separate CLI calls, on the same machine: videos per minute and the
ratio, with each side's time split into building models (checkpoint reads, Gemma) and generating.

By default it runs the distilled pipeline on a generated tiny checkpoint set at a reduced size (the CPU mechanics:
process start-up and model building dominate there); `--folder` points at a tiny or real set of the same layout.

    uv run python scripts/bench_batch.py                 # 4 jobs, tiny LTX-2.3 set, CPU
    uv run python scripts/bench_batch.py --jobs 8 --height 128 --width 192
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ltx_core.testing.tiny_checkpoints import make_tiny_checkpoints


def _base(folder: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ltx_pipelines.distilled",
        "--distilled-checkpoint-path",
        str(folder / "distilled.safetensors"),
        "--spatial-upsampler-path",
        str(folder / "spatial_upsampler_x2.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--height",
        str(args.height),
        "--width",
        str(args.width),
        "--num-frames",
        str(args.num_frames),
        "--device",
        args.device,
    ]


def _run(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-2000:]}")
    return seconds, proc.stderr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--folder", type=Path, default=None, help="checkpoint set (default: a generated tiny LTX-2.3 set)")
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--num-frames", type=int, default=9)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = args.folder or make_tiny_checkpoints(work / "tiny", ("ltx23",), seed=0)["ltx23"]
        prompts = [f"prompt number {i}" for i in range(args.jobs)]
        separate = 0.0
        for i, prompt in enumerate(prompts):
            seconds, _ = _run(
                [
                    *_base(folder, args),
                    "--prompt",
                    prompt,
                    "--seed",
                    str(i),
                    "--output-path",
                    str(work / "separate" / f"{i}.mp4"),
                ]
            )
            separate += seconds
        jobs = work / "jobs.jsonl"
        jobs.write_text("\n".join(json.dumps({"prompt": x, "seed": i}) for i, x in enumerate(prompts)) + "\n")
        batch, _ = _run([*_base(folder, args), "--jobs", str(jobs), "--output-dir", str(work / "batch")])
        per_job = [
            json.loads(line)["seconds"] for line in (work / "batch" / "jobs.results.jsonl").read_text().splitlines()
        ]
    rate = 60.0 / (separate / args.jobs), 60.0 * args.jobs / batch
    print(f"{args.jobs} videos at {args.width}x{args.height}x{args.num_frames} on {args.device}")
    print(f"{'':<22}{'seconds':>10}{'videos/min':>12}")
    print(f"{'separate CLI calls':<22}{separate:>10.1f}{rate[0]:>12.2f}")
    print(f"{'one --jobs run':<22}{batch:>10.1f}{rate[1]:>12.2f}")
    print(f"ratio (--jobs / separate videos per minute): {rate[1] / rate[0]:.2f}")
    generation = sum(per_job[1:]) / max(1, len(per_job) - 1)
    building = per_job[0] - generation if len(per_job) > 1 else float("nan")
    print(
        f"batch split: models built once ~{building:.1f} s (first job minus a later one), generation "
        f"~{generation:.1f} s per video, start-up and parsing {batch - sum(per_job):.1f} s"
    )
    print(
        f"separate calls: ~{separate / args.jobs - generation:.1f} s per call beyond generation (start-up, imports, "
        "every model build)"
    )


if __name__ == "__main__":
    main()
