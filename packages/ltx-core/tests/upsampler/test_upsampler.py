"""Latent upsamplers: golden parity (network alone and the normalisation wrapper), variants, file checks."""

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.model.upsampler import (
    LatentUpsampler,
    UpsamplerConfig,
    load_upsampler,
    upsample_video,
    upsampler_checkpoint_state_dict,
    upsampler_metadata,
)
from ltx_core.model.upsampler.model import BlurDownsample, PixelShuffleND
from ltx_core.model.video_vae import load_per_channel_statistics
from ltx_core.testing.golden import golden_dir, load_case, report

TOL = 1e-5


def _cases():
    found = sorted(p.stem for p in (golden_dir() / "cases" / "common").glob("upsample_*.safetensors"))
    return found or ["upsample_spatial_x2", "upsample_spatial_x1_5", "upsample_temporal_x2"]


@pytest.mark.parametrize("name", _cases())
def test_golden(golden, name):
    case = load_case(golden / "cases" / "common" / f"{name}.safetensors")
    upsampler = load_upsampler(golden / case.params["upsampler"])
    stats = load_per_channel_statistics(golden / case.params["statistics_from"])
    latent = case.inputs["latent"]
    with torch.no_grad():
        report(f"{name} network", upsampler(latent), case.outputs["upsampler_output"], TOL)
    report(f"{name} upsample_video", upsample_video(latent, upsampler, stats), case.outputs["upsampled_latent"], TOL)


def test_refuses_files_that_are_not_upsamplers(golden, tmp_path):
    with pytest.raises(CheckpointError, match="full LTX model checkpoint"):
        load_upsampler(golden / "ltx2_tiny.safetensors")
    lora = next(golden.glob("lora_*.safetensors"), None)
    if lora is not None:
        with pytest.raises(CheckpointError, match="LoRA"):
            load_upsampler(lora)
    other = tmp_path / "other.safetensors"
    save_file({"foo.weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a latent upsampler"):
        load_upsampler(other)


@pytest.mark.parametrize(
    "cfg,shape_in,shape_out",
    [
        (dict(spatial_scale=2.0), (1, 8, 2, 3, 5), (1, 8, 2, 6, 10)),
        (dict(spatial_scale=1.5, rational_resampler=True), (1, 8, 2, 5, 7), (1, 8, 2, 8, 11)),
        (dict(spatial_scale=2.0, rational_resampler=True), (1, 8, 2, 3, 4), (1, 8, 2, 6, 8)),
        (dict(spatial_upsample=False, temporal_upsample=True), (1, 8, 3, 3, 4), (1, 8, 5, 3, 4)),
        (dict(temporal_upsample=True), (1, 8, 3, 3, 4), (1, 8, 5, 6, 8)),
        (dict(dims=2), (2, 8, 2, 3, 4), (2, 8, 2, 6, 8)),
    ],
)
def test_variants_round_trip(tmp_path, cfg, shape_in, shape_out):
    config = UpsamplerConfig(in_channels=8, mid_channels=32, num_blocks_per_stage=1, **cfg)
    torch.manual_seed(0)
    model = LatentUpsampler(config).eval()
    x = torch.randn(shape_in)
    with torch.no_grad():
        y = model(x)
    assert y.shape == shape_out and torch.isfinite(y).all()
    path = tmp_path / "up.safetensors"
    save_file(upsampler_checkpoint_state_dict(model), path, metadata=upsampler_metadata(model))
    loaded = load_upsampler(path)
    assert loaded.config == config
    with torch.no_grad():
        assert torch.equal(loaded(x), y)


def test_blur_kernel_and_pixel_shuffle_order():
    k = BlurDownsample(2).kernel[0, 0]
    row = torch.tensor([1.0, 4, 6, 4, 1])
    assert torch.equal(k * 256, torch.outer(row, row))
    # 3-D shuffle: channel c·8 + 4·pt + 2·ph + pw lands at (2f + pt, 2h + ph, 2w + pw)
    x = torch.arange(16.0).view(1, 16, 1, 1, 1)
    y = PixelShuffleND(3)(x)
    assert y[0, 1, 1, 0, 1] == 8 + 4 + 1 and y[0, 0, 0, 1, 1] == 3


@pytest.mark.parametrize(
    "config,word",
    [
        ({"spatial_upsample": False, "temporal_upsample": False}, "both false"),
        ({"rational_resampler": True, "spatial_scale": 3.0}, "3.0"),
        ({"dims": 4}, "dims"),
        ({"mid_channels": 48}, "48"),
    ],
)
def test_config_errors(config, word):
    with pytest.raises(ConfigError) as err:
        UpsamplerConfig.from_config(config, "up.safetensors")
    assert word in str(err.value) and "\n" not in str(err.value)
