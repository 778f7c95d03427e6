"""Pipeline building blocks: each owns one model (or a pair) for exactly as long as it is needed.

A block is constructed from file paths only (nothing is read then) and builds its model(s) when called, on its
device, and frees them (moved to the meta device) before returning, so no model persists by accident. The two
exceptions are explicit: `DiffusionStage(cache=True)` / `DiffusionStage.session()` keep the transformer between
calls, and `VideoDecoder` returns a lazy iterator that frees its decoder when exhausted or closed. Pipelines never
move tensors between devices themselves: the blocks return their results on their device.

One concept per module: `lifetime` (devices, `free`, `built`, `KeptModels`), `stage` (`DiffusionStage`,
`ModalitySpec`, `StageResult`, the loop protocol; `TransformerRuntime` is `ltx_core.transformer_providers`'),
`prompts` (`PromptEncoder`), `conditioners` (`ImageConditioner`, `AudioConditioner`), `upsampling`
(`VideoUpsampler`), `decoding` (`FrameChunks`, `VideoDecoder`, `AudioDecoder`, `DEFAULT_TILING`) and `processes`
(`across_processes`: the one factory that wraps a block for several processes; blocks themselves work in one).
The blocks are importable from here.
"""

from ltx_pipelines.utils.blocks.conditioners import (
    AudioConditioner,
    AudioEncodeFn,
    ImageConditioner,
    MediaConditioner,
    VideoEncodeFn,
)
from ltx_pipelines.utils.blocks.decoding import DEFAULT_TILING, AudioDecoder, DefaultTiling, FrameChunks, VideoDecoder
from ltx_pipelines.utils.blocks.duration import DurationPredictor
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, KeptModels, default_device, free, resolve_device
from ltx_pipelines.utils.blocks.processes import SharedPromptEncoder, SpreadVideoDecoder, across_processes
from ltx_pipelines.utils.blocks.prompts import DEFAULT_PROMPT_ENHANCER, PromptEncoder, PromptEnhancerSettings
from ltx_pipelines.utils.blocks.stage import (
    PLAIN_RUNTIME,
    DiffusionStage,
    LatentGeometry,
    ModalitySpec,
    StageResult,
    TransformerRuntime,
    hinted_tiling,
)
from ltx_pipelines.utils.blocks.upsampling import VideoUpsampler

__all__ = [
    "DEFAULT_PROMPT_ENHANCER",
    "DEFAULT_TILING",
    "PLAIN_RUNTIME",
    "AudioConditioner",
    "AudioDecoder",
    "AudioEncodeFn",
    "CheckpointLike",
    "DefaultTiling",
    "DiffusionStage",
    "DurationPredictor",
    "FrameChunks",
    "ImageConditioner",
    "KeptModels",
    "LatentGeometry",
    "MediaConditioner",
    "ModalitySpec",
    "PromptEncoder",
    "PromptEnhancerSettings",
    "SharedPromptEncoder",
    "SpreadVideoDecoder",
    "StageResult",
    "TransformerRuntime",
    "VideoDecoder",
    "VideoEncodeFn",
    "VideoUpsampler",
    "across_processes",
    "default_device",
    "free",
    "hinted_tiling",
    "resolve_device",
]
