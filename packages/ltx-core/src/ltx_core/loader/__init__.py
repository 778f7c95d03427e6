"""Checkpoint files → modules: safetensors reading, key maps, strict meta-device building, LoRA fusion."""

from ltx_core.loader.builder import fuse_loras_into_model, load_model, release, restore_weights
from ltx_core.loader.config import ConfigSection
from ltx_core.loader.key_map import KeyMap, strip_prefix_map
from ltx_core.loader.lora import LoraSpec, read_lora
from ltx_core.loader.safetensors_file import Checkpoint, SafetensorsFile, open_checkpoint

__all__ = [
    "Checkpoint",
    "ConfigSection",
    "KeyMap",
    "LoraSpec",
    "SafetensorsFile",
    "fuse_loras_into_model",
    "load_model",
    "open_checkpoint",
    "read_lora",
    "release",
    "restore_weights",
    "strip_prefix_map",
]
