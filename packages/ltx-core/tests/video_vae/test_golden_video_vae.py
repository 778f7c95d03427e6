"""Parity with the official video VAE on the tiny golden checkpoints (float32, tolerance 1e-5 relative).

The standard decoder path is measured bit-exact; the memory-efficient path (pipeline default) convolves in time
chunks and differs by float rounding only (≈1e-6 relative), also held to 1e-5.
"""

import pytest
import torch

from ltx_core.model.video_vae import (
    SpatialTilingConfig,
    TemporalTilingConfig,
    TilingConfig,
    decode_video,
    encode_video,
    load_video_decoder,
    load_video_encoder,
    tiled_decode,
)
from ltx_core.testing.golden import component_cases, load_case, report

TOL = 1e-5


def _versions(case: str) -> list[str]:
    found = [p.parent.name for p in component_cases(case)]
    return found or ["ltx2", "ltx23"]


def _case(golden, version, name):
    path = golden / "cases" / version / f"{name}.safetensors"
    if not path.exists():
        pytest.skip(f"no {path}")
    return load_case(path)


@pytest.mark.parametrize("version", _versions("video_vae_encode"))
def test_encode(golden, version):
    case = _case(golden, version, "video_vae_encode")
    encoder = load_video_encoder(golden / case.params["checkpoint"])
    with torch.no_grad():
        report(f"{version} encode video", encoder(case.inputs["video"]), case.outputs["latent"], TOL)
        report(f"{version} encode image", encoder(case.inputs["image"]), case.outputs["image_latent"], TOL)
    report(f"{version} encode_video", encode_video(encoder, case.inputs["video"]), case.outputs["latent"], TOL)


@pytest.mark.parametrize("memory_efficient", [False, True])
@pytest.mark.parametrize("version", _versions("video_vae_decode"))
def test_decode(golden, version, memory_efficient):
    case = _case(golden, version, "video_vae_decode")
    decoder = load_video_decoder(golden / case.params["checkpoint"], memory_efficient=memory_efficient)
    with torch.no_grad():
        got = decoder(case.inputs["latent"])
    report(f"{version} decode (memory_efficient={memory_efficient})", got, case.outputs["video"], TOL)
    # decode_video: batch item 0 as (F, H, W, 3) in [0, 1]
    frames = torch.cat(list(decode_video(decoder, case.inputs["latent"])), dim=0)
    expected = ((case.outputs["video"][0].permute(1, 2, 3, 0) + 1) * 0.5).clamp(0, 1)
    report(f"{version} decode_video", frames, expected, TOL)


@pytest.mark.parametrize("memory_efficient", [False, True])
@pytest.mark.parametrize("version", _versions("video_vae_decode_tiled"))
def test_decode_tiled(golden, version, memory_efficient):
    case = _case(golden, version, "video_vae_decode_tiled")
    p = case.params["tiling"]
    tiling = TilingConfig(
        SpatialTilingConfig(p["tile_size_in_pixels"], p["tile_overlap_in_pixels"]),
        TemporalTilingConfig(p["tile_size_in_frames"], p["tile_overlap_in_frames"]),
    )
    decoder = load_video_decoder(golden / case.params["checkpoint"], memory_efficient=memory_efficient)
    chunks = list(tiled_decode(decoder, case.inputs["latent"], tiling, numerics=case.numerics))
    assert [c.shape[2] for c in chunks] == case.params["chunk_frames"]
    got = torch.cat(chunks, dim=2)
    report(f"{version} tiled decode (memory_efficient={memory_efficient})", got, case.outputs["video"], TOL)
