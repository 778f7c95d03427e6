"""Write the tiny random-weight checkpoint set (official layout) for LTX-2, LTX-2.3 and, on request, LTX-2.5.

    uv run python scripts/make_tiny_checkpoints.py --out DIR [--version ltx2 --version ltx23 --version ltx25]
        [--seed 0]

Writes DIR/<version>/{dev,distilled,distilled_lora,ic_lora,spatial_upsampler_x2}.safetensors and DIR/<version>/gemma/
for ltx2 / ltx23 (the default), and for ltx25 the distilled single file, the same weights as split files
(DIR/ltx25/split/), a conv-decoder video VAE, the upsampler, the distilled LoRA and a Gemma-4 folder (plus DFR's
temporal upsampler and detailing IC-LoRA and the text-to-audio file)
(`ltx_core.testing.tiny_checkpoints`). The weights are random: outputs are noise, but every loader and pipeline code
path is the real one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ltx_core.testing.tiny_checkpoints import VERSIONS, WRITABLE_VERSIONS, make_tiny_checkpoints
from ltx_core.testing.tiny_extras import write_ltx25_extras


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (one subfolder per version)")
    parser.add_argument(
        "--version", action="append", choices=WRITABLE_VERSIONS, help="ltx2, ltx23 and/or ltx25 (default: ltx2, ltx23)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="rewrite sets that already exist")
    args = parser.parse_args(argv)
    folders = make_tiny_checkpoints(
        args.out, versions=args.version or VERSIONS, seed=args.seed, overwrite=args.overwrite
    )
    if "ltx25" in folders:  # what DFR and text to audio add beside the set
        write_ltx25_extras(folders["ltx25"], args.seed, overwrite=args.overwrite)
    for name, folder in folders.items():
        print(f"{name}: {folder}")


if __name__ == "__main__":
    main()
