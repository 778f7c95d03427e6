"""What the pipelines new in 1.2.0 add beside the tiny LTX-2.5 set (`make_tiny_checkpoints(out, ["ltx25"])`): a
temporal x2 upsampler and a detailing IC-LoRA for DFR (`tiny_dfr`), and the audio-only file of text to audio cut from
the set's single file (`audio_only`). Kept out of `tiny_checkpoints` (those writers build on it)."""

from __future__ import annotations

from pathlib import Path

from ltx_core.testing.audio_only import audio_only_file
from ltx_core.testing.tiny_dfr import write_tiny_detailing_lora, write_tiny_temporal_upsampler

EXTRAS_25 = ("temporal_upsampler_x2.safetensors", "detailing_lora.safetensors", "t2a.safetensors")


def write_ltx25_extras(folder: str | Path, seed: int = 0, *, overwrite: bool = False) -> Path:
    """Write the missing extras into the tiny LTX-2.5 set at `folder` (deterministic for `seed`); returns `folder`."""
    folder = Path(folder)
    temporal, detailing, t2a = (folder / name for name in EXTRAS_25)
    if overwrite or not temporal.is_file():
        write_tiny_temporal_upsampler(temporal, seed + 5)
    if overwrite or not detailing.is_file():
        write_tiny_detailing_lora(detailing, folder / "distilled.safetensors", seed + 6)
    if overwrite or not t2a.is_file():
        audio_only_file(folder / "distilled.safetensors", t2a)
    return folder
