"""1.2.0 tiled VAE cases: decode blending with per-axis float32 masks (A.9.1) and the latent-grid tiled encode
(A.10), both through `TileSizeConfig` as the official call; float32, 1e-5 relative."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.model.video_vae import TileSizeConfig, encode_video, load_video_decoder, load_video_encoder
from ltx_core.model.video_vae.tiled import tiled_decode
from ltx_core.numerics import NUMERICS_1_1_3
from ltx_core.testing.golden import component_cases_120, golden_dir, load_case, report

TOL = 1e-5
DECODES = component_cases_120("video_vae_decode_tiled")
ENCODES = component_cases_120("video_vae_encode_tiled")


def _tiling(params: dict) -> TileSizeConfig:
    axes = params["tiling"]
    return TileSizeConfig(**{k: (v["tile_size"], v["overlap"]) for k, v in axes.items()})


def test_cases_listed() -> None:
    if not (DECODES and ENCODES):
        pytest.skip(f"no 1.2.0 tiled VAE cases under {golden_dir()} (the in-repo subset has none)")


@pytest.mark.parametrize("path", DECODES, ids=[f"{p.parent.name}/{p.stem}" for p in DECODES])
def test_tiled_decode_120(path: Path, golden: Path) -> None:
    case = load_case(path)
    decoder = load_video_decoder(golden / case.params["checkpoint"])
    latent, tiling = case.inputs["latent"], _tiling(case.params)
    chunks = list(tiled_decode(decoder, latent, tiling))
    assert [c.shape[2] for c in chunks] == case.params["chunk_frames"]
    report(f"{path.parent.name}/{path.stem}", torch.cat(chunks, dim=2), case.outputs["video"], TOL)
    old = torch.cat(list(tiled_decode(decoder, latent, tiling, numerics=NUMERICS_1_1_3)), dim=2)
    assert not torch.equal(old, case.outputs["video"]), "1.1.3 blending reproduces 1.2.0's: the case shows nothing"


@pytest.mark.parametrize("path", ENCODES, ids=[f"{p.parent.name}/{p.stem}" for p in ENCODES])
def test_tiled_encode_120(path: Path, golden: Path) -> None:
    case = load_case(path)
    encoder = load_video_encoder(golden / case.params["checkpoint"])
    got = encode_video(encoder, case.inputs["video"], _tiling(case.params))
    report(f"{path.parent.name}/{path.stem}", got, case.outputs["latent"], TOL)
    untiled = encode_video(encoder, case.inputs["video"])
    gap = (untiled - case.outputs["latent"]).abs().max().item()
    assert gap == pytest.approx(case.params["max_abs_vs_untiled"], rel=1e-3)
