"""encode_video / decode_video as the pipelines call them: input checks, pixel ranges, chunking."""

import copy

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.model.video_vae import (
    AUTO_TILING,
    MemoryEfficientVideoDecoder,
    SpatialTilingConfig,
    TemporalTilingConfig,
    TileSizeConfig,
    TilingConfig,
    VideoDecoderConfig,
    VideoEncoder,
    VideoEncoderConfig,
    check_video_shape,
    decode_video,
    encode_video,
)
from ltx_core.numerics import NUMERICS, NUMERICS_1_1_3

VAE = {
    "latent_channels": 8,
    "decoder_base_channels": 4,
    "timestep_conditioning": False,
    "encoder_blocks": [
        ["compress_space_res", {"multiplier": 2}],
        ["compress_time_res", {"multiplier": 2}],
        ["compress_all_res", {"multiplier": 1}],
        ["compress_all_res", {"multiplier": 1}],
    ],
    "decoder_blocks": [
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["compress_all", {"residual": True, "multiplier": 2}],
    ],
}


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return VideoEncoder(VideoEncoderConfig.from_config({"vae": VAE})).eval()


@pytest.fixture(scope="module")
def decoder():
    torch.manual_seed(0)
    return MemoryEfficientVideoDecoder(VideoDecoderConfig.from_config({"vae": VAE})).eval()


@pytest.mark.parametrize(
    "shape,expected",
    [
        ((1, 3, 20, 64, 64), "frame count 20 must be 8k+1 (1, 9, 17, ..., 121, ...); nearest valid: 17"),
        ((1, 3, 0, 64, 64), "nearest valid: 1"),
        ((1, 3, 9, 70, 64), "height 70 must be a positive multiple of 32; nearest valid: 64"),
        ((1, 3, 9, 64, 16), "width 16 must be a positive multiple of 32; nearest valid: 32"),
        ((3, 9, 64, 64), "got shape (3, 9, 64, 64)"),
    ],
)
def test_invalid_video_shapes(shape, expected):
    with pytest.raises(InputError) as err:
        check_video_shape(shape)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_encode_video_rejects_and_maps_uint8(encoder):
    with pytest.raises(InputError, match=r"nearest valid: 9$"):
        encode_video(encoder, torch.zeros(1, 3, 12, 64, 64))
    pixels = torch.randint(0, 256, (1, 3, 9, 64, 64), dtype=torch.uint8)
    latent = encode_video(encoder, pixels)
    with torch.no_grad():
        ref = encoder(pixels.float() / 127.5 - 1)
    assert latent.shape == (1, 8, 2, 2, 2) and torch.equal(latent, ref)
    tiled = encode_video(encoder, pixels, TilingConfig(SpatialTilingConfig(1024, 64), TemporalTilingConfig(64, 16)))
    assert torch.equal(tiled, ref)  # one tile, times all-ones masks
    small = TilingConfig(SpatialTilingConfig(1024), TemporalTilingConfig(64))
    with pytest.raises(InputError, match=r"overlap 0 frames is too small; use at least 16 frames$"):
        encode_video(encoder, pixels, small)  # 1.2.0 refuses what 1.1.3 silently raised
    assert torch.allclose(encode_video(encoder, pixels, small, NUMERICS_1_1_3), ref)
    with pytest.raises(InputError, match="TileSizeConfig"):
        encode_video(encoder, pixels, TileSizeConfig(frames=(64, 16)), NUMERICS_1_1_3)


def test_decode_video_frames(decoder):
    latent = torch.randn(2, 8, 3, 2, 3)
    chunks = list(decode_video(decoder, latent))
    assert len(chunks) == 1
    frames = chunks[0]
    with torch.no_grad():
        raw = decoder(latent)
    assert frames.shape == (17, 64, 96, 3)  # batch item 0, channels last
    assert torch.equal(frames, ((raw[0].permute(1, 2, 3, 0) + 1) * 0.5).clamp(0, 1))
    tiled = list(decode_video(decoder, torch.randn(1, 8, 4, 2, 2), TilingConfig(None, TemporalTilingConfig(16, 8))))
    # causal temporal tiles [0,2) [0,3) [1,4) → pixel frames [0,9) [0,17) [8,25): chunks of 0, 8, 17 frames
    assert [c.shape[0] for c in tiled] == [0, 8, 17] and all(
        c.numel() == 0 or (c.min() >= 0 and c.max() <= 1) for c in tiled
    )


@pytest.mark.parametrize("numerics", NUMERICS.values(), ids=NUMERICS)
def test_single_tile_layout_decodes_exactly_as_untiled(decoder, numerics):
    """Delta A.9.3: a layout that is one tile on every axis reproduces the untiled decode bit for bit (1·x is exact,
    in bf16 too), so AUTO tiling changes nothing for short small videos (3 latent frames ≤ 10, 2 x 3 ≤ 16 x 24)."""
    from functools import partial

    from ltx_core.model.video_vae import tiled_decode

    bf16 = copy.deepcopy(decoder).to(torch.bfloat16)
    latent = torch.randn(1, 8, 3, 2, 3, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    tiles = partial(tiled_decode, numerics=numerics)
    (untiled,) = decode_video(bf16, latent)
    (auto,) = decode_video(bf16, latent, AUTO_TILING, tiled=tiles)
    assert torch.equal(auto, untiled)
    two = torch.randn(1, 8, 16, 2, 3, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16)
    assert len(list(decode_video(bf16, two, AUTO_TILING, tiled=tiles))) == 2  # 121 frames: two temporal tiles


def test_decode_video_input_errors(decoder):
    with pytest.raises(InputError, match="expected \\(batch, 8"):
        next(decode_video(decoder, torch.randn(1, 4, 3, 2, 2)))
    # reflect padding (decoder default) cannot pad a 1-latent-wide input or tile
    with pytest.raises(InputError, match="1 latent wide"):
        next(decode_video(decoder, torch.randn(1, 8, 2, 1, 3)))
    with pytest.raises(InputError, match="1 latent wide"):
        next(decode_video(decoder, torch.randn(1, 8, 2, 2, 25), TilingConfig(SpatialTilingConfig(768), None)))
