"""The README's first command: a real MP4 with sound from tiny, randomly initialised LTX checkpoints.

    python -m uv run --frozen python scripts/demo.py [--version ltx2|ltx23] [--device cpu|cuda] [--out PATH]

On the first run it generates the tiny checkpoint set and a tiny Gemma root with the project's generator into
`.cache/tiny/<version>/` (git-ignored; reused afterwards), then runs the distilled pipeline's command line on them
exactly as a user would with real weights. The weights are random, so the video is noise with a noise soundtrack;
what the demo shows is that every loader, model and pipeline step runs end to end and writes a playable file.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "tiny"
HEIGHT, WIDTH, FRAMES, FPS = 128, 192, 17, 24
PROMPT = "A red fox trots through fresh snow at dawn while wind hisses through the pines"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tiny random-weight end-to-end demo of the distilled pipeline.")
    parser.add_argument("--version", choices=("ltx2", "ltx23"), default="ltx23", help="model layout (default ltx23)")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA, else Apple MPS, else cpu)")
    parser.add_argument("--out", type=Path, default=None, help="output .mp4 (default outputs/demo_<version>.mp4)")
    args = parser.parse_args(argv)
    out = (args.out or REPO / "outputs" / f"demo_{args.version}.mp4").expanduser().resolve()

    from ltx_core.testing.tiny_checkpoints import make_tiny_checkpoints, tiny_set_complete

    folder = CACHE / args.version
    if tiny_set_complete(folder):
        print(f"Using the cached tiny checkpoints in {folder}")
    else:
        print(f"Generating tiny random-weight checkpoints and a tiny Gemma into {folder} (once) ...")
        started = time.perf_counter()
        make_tiny_checkpoints(CACHE, versions=(args.version,), seed=0)
        print(f"  done in {time.perf_counter() - started:.0f} s")

    cli = [
        "--distilled-checkpoint-path",
        str(folder / "distilled.safetensors"),
        "--spatial-upsampler-path",
        str(folder / "spatial_upsampler_x2.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--prompt",
        PROMPT,
        "--height",
        str(HEIGHT),
        "--width",
        str(WIDTH),
        "--num-frames",
        str(FRAMES),
        "--frame-rate",
        str(FPS),
        "--seed",
        "10",
        "--output-path",
        str(out),
    ]
    if args.device:
        cli += ["--device", args.device]
    print("NOTE: these weights are RANDOM. The video will be noise with a noise soundtrack; every code path is real.")
    print("Running:\n  python -m ltx_pipelines.distilled " + " ".join(shlex.quote(a) for a in cli))

    from ltx_pipelines.distilled import main as distilled_main

    try:
        distilled_main(cli)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return int(exc.code) if isinstance(exc.code, int) else 1
    print(f"\nWrote {out} ({WIDTH}x{HEIGHT}, {FRAMES} frames at {FPS} fps, with a stereo audio track).")
    print("The weights were random, so it shows noise. For real weights, see docs/pipelines.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
