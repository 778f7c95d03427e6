"""Video VAE (encoder, decoder, tiling) of LTX-2 / LTX-2.3: 32× spatial, 8× temporal compression, causal first frame;
and the LTX-2.5 diffusion decoder (`diffusion/`), which the loader returns for its files."""

from ltx_core.model.video_vae.config import BlockSpec, VideoDecoderConfig, VideoEncoderConfig
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.diffusion.model import CHUNKED, COMBINED, DiffusionVideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.layers import PerChannelStatistics
from ltx_core.model.video_vae.loading import (
    PER_CHANNEL_STATISTICS_KEY_MAP,
    VIDEO_DECODER_KEY_MAP,
    VIDEO_ENCODER_KEY_MAP,
    load_per_channel_statistics,
    load_video_decoder,
    load_video_encoder,
    video_decoder_factory,
    video_encoder_factory,
    video_vae_checkpoint_state_dict,
)
from ltx_core.model.video_vae.memory_efficient import MemoryEfficientVideoDecoder
from ltx_core.model.video_vae.tiled import tiled_decode, tiled_encode, tiled_encode_by_size
from ltx_core.model.video_vae.tiling import (
    AUTO_TILING,
    AutoTiling,
    SpatialTilingConfig,
    TemporalTilingConfig,
    TileSizeConfig,
    TilingConfig,
    auto_tiling,
    get_video_chunks_number,
)
from ltx_core.model.video_vae.video import check_video_shape, decode_video, encode_video

__all__ = [
    "AUTO_TILING",
    "CHUNKED",
    "COMBINED",
    "PER_CHANNEL_STATISTICS_KEY_MAP",
    "VIDEO_DECODER_KEY_MAP",
    "VIDEO_ENCODER_KEY_MAP",
    "AutoTiling",
    "BlockSpec",
    "DiffusionVideoDecoder",
    "MemoryEfficientVideoDecoder",
    "PerChannelStatistics",
    "SpatialTilingConfig",
    "TemporalTilingConfig",
    "TileSizeConfig",
    "TilingConfig",
    "VideoDecoder",
    "VideoDecoderConfig",
    "VideoEncoder",
    "VideoEncoderConfig",
    "auto_tiling",
    "check_video_shape",
    "decode_video",
    "encode_video",
    "get_video_chunks_number",
    "load_per_channel_statistics",
    "load_video_decoder",
    "load_video_encoder",
    "tiled_decode",
    "tiled_encode",
    "tiled_encode_by_size",
    "video_decoder_factory",
    "video_encoder_factory",
    "video_vae_checkpoint_state_dict",
]
