"""The README's first command: a real MP4 with sound from tiny, randomly initialised LTX checkpoints.

    python -m uv run --frozen python scripts/demo.py [--version ltx2|ltx23|ltx25] [--split] [--device cpu|cuda]
        [--out PATH]

On the first run it generates the tiny checkpoint set and a tiny Gemma root with the project's generator into
`.cache/tiny/<version>/` (git-ignored; reused afterwards), then runs the distilled pipeline's command line on them
exactly as a user would with real weights. `--version ltx25` runs the LTX-2.5 set (Gemma-4 text encoder, the
Euler-ancestral stage 1, the diffusion video decoder, the duration head choosing the clip length between 0.5 and
1 s); with `--split` from its split files (`--transformer-path`, `--text-encoder-path`, ...) instead of the single
file. The weights are random, so the video is noise with a noise soundtrack;
what the demo shows is that every loader, model and pipeline step runs end to end and writes a playable file.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from ltx_core.testing.tiny_checkpoints import SPLIT_FILES

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "tiny"
HEIGHT, WIDTH, FRAMES, FPS = 128, 192, 17, 24
AUTO_DURATION = ("0.5", "1")  # LTX-2.5: seconds the duration head chooses within
PROMPT = "A red fox trots through fresh snow at dawn while wind hisses through the pines"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tiny random-weight end-to-end demo of the distilled pipeline.")
    parser.add_argument(
        "--version", choices=("ltx2", "ltx23", "ltx25"), default="ltx23", help="model layout (default ltx23)"
    )
    parser.add_argument("--split", action="store_true", help="ltx25: run from the split files")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA, else Apple MPS, else cpu)")
    parser.add_argument("--out", type=Path, default=None, help="output .mp4 (default outputs/demo_<version>.mp4)")
    args = parser.parse_args(argv)
    if args.split and args.version != "ltx25":
        parser.error("--split needs --version ltx25 (only the LTX-2.5 set has split files)")
    name = f"demo_{args.version}{'_split' if args.split else ''}.mp4"
    out = (args.out or REPO / "outputs" / name).expanduser().resolve()

    from ltx_core.testing.tiny_checkpoints import ltx25_set_complete, make_tiny_checkpoints, tiny_set_complete

    folder = CACHE / args.version
    complete = ltx25_set_complete if args.version == "ltx25" else tiny_set_complete
    if complete(folder):
        print(f"Using the cached tiny checkpoints in {folder}")
    else:
        print(f"Generating tiny random-weight checkpoints and a tiny Gemma into {folder} (once) ...")
        started = time.perf_counter()
        make_tiny_checkpoints(CACHE, versions=(args.version,), seed=0)
        print(f"  done in {time.perf_counter() - started:.0f} s")

    if args.split:
        models = [arg for slot, file in SPLIT_FILES.items() for arg in (f"--{slot.replace('_', '-')}-path", file)]
        models = [str(folder / a) if a.endswith(".safetensors") else a for a in models]
    else:
        models = ["--distilled-checkpoint-path", str(folder / "distilled.safetensors"), "--gemma-root"]
        models.append(str(folder / "gemma"))
    length = ["--auto-duration", *AUTO_DURATION] if args.version == "ltx25" else ["--num-frames", str(FRAMES)]
    cli = [
        *models,
        "--spatial-upsampler-path",
        str(folder / "spatial_upsampler_x2.safetensors"),
        "--prompt",
        PROMPT,
        "--height",
        str(HEIGHT),
        "--width",
        str(WIDTH),
        *length,
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
    frames = "its length chosen by the duration head" if args.version == "ltx25" else f"{FRAMES} frames"
    print(f"\nWrote {out} ({WIDTH}x{HEIGHT}, {frames} at {FPS} fps, with a stereo audio track).")
    print("The weights were random, so it shows noise. For real weights, see docs/pipelines.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
