"""Block streaming (spec B.10): run the transformer with its blocks kept in host RAM or read from the checkpoint on
demand, at most two blocks on the accelerator at a time, bitwise identical to the resident model."""

from ltx_core.offload.streaming.build import (
    build_streaming_transformer,
    load_resident_transformer,
    transformer_footprint,
)
from ltx_core.offload.streaming.inference import release_transformer
from ltx_core.offload.streaming.wrapper import BlockStreamingWrapper

__all__ = [
    "BlockStreamingWrapper",
    "build_streaming_transformer",
    "load_resident_transformer",
    "release_transformer",
    "transformer_footprint",
]
