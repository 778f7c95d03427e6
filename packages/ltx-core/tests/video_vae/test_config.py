"""Config parsing and module trees of the released VAE configurations (built on meta: no memory, no time)."""

import pytest
import torch

from ltx_core.errors import ConfigError
from ltx_core.model.video_vae import VideoDecoder, VideoDecoderConfig, VideoEncoder, VideoEncoderConfig

LTX2_VAE = {
    "encoder_blocks": [
        ["res_x", {"num_layers": 4}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 5, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 5, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 5, "inject_noise": False}],
        ["compress_all", {"residual": True, "multiplier": 2}],
        ["res_x", {"num_layers": 5, "inject_noise": False}],
    ],
    "timestep_conditioning": False,
}
LTX23_VAE = {
    "encoder_blocks": [
        ["res_x", {"num_layers": 4}],
        ["compress_space_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_time_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 4}],
        ["compress_all_res", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
        ["compress_all_res", {"multiplier": 1}],
        ["res_x", {"num_layers": 2}],
    ],
    "decoder_blocks": [
        ["res_x", {"num_layers": 4}],
        ["compress_space", {"multiplier": 2}],
        ["res_x", {"num_layers": 6}],
        ["compress_time", {"multiplier": 2}],
        ["res_x", {"num_layers": 4}],
        ["compress_all", {"multiplier": 1}],
        ["res_x", {"num_layers": 2}],
        ["compress_all", {"multiplier": 2}],
        ["res_x", {"num_layers": 2}],
    ],
    "timestep_conditioning": False,
    "spatial_padding_mode": "zeros",
}


def _meta(factory):
    with torch.device("meta"):
        return factory()


def _size(module):
    sd = module.state_dict()
    return len(sd), sum(t.numel() for t in sd.values())


@pytest.mark.parametrize(
    "vae,enc_size,dec_size",
    [(LTX2_VAE, (94, 694_099_137), (92, 528_380_976)), (LTX23_VAE, (86, 318_937_153), (86, 407_169_328))],
)
def test_released_configurations(vae, enc_size, dec_size):
    """Entry and element counts from the spec (§3.2, §4.2) for the real block lists."""
    enc = _meta(lambda: VideoEncoder(VideoEncoderConfig.from_config({"vae": vae})))
    dec = _meta(lambda: VideoDecoder(VideoDecoderConfig.from_config({"vae": vae})))
    assert _size(enc) == enc_size
    assert _size(dec) == dec_size
    sd = dec.state_dict()
    assert sd["conv_in.conv.weight"].shape == (1024, 128, 3, 3, 3)
    assert sd["up_blocks.1.conv.conv.weight"].shape == (4096, 1024, 3, 3, 3)
    assert sd["conv_out.conv.weight"].shape == (48, 128, 3, 3, 3)
    assert enc.state_dict()["conv_out.conv.weight"].shape[0] == 129


def test_padding_defaults_and_switches():
    enc = VideoEncoderConfig.from_config({"vae": {}})
    dec = VideoDecoderConfig.from_config({"vae": {}})
    assert (enc.spatial_padding_mode, dec.spatial_padding_mode) == ("zeros", "reflect")
    assert dec.timestep_conditioning is True and dec.causal is False
    both = {"vae": {"spatial_padding_mode": "replicate"}}
    assert VideoEncoderConfig.from_config(both).spatial_padding_mode == "replicate"
    assert VideoDecoderConfig.from_config(both).spatial_padding_mode == "replicate"
    assert VideoDecoderConfig.from_config({"vae": {"encoder_blocks": [["res_x", 3]]}}).blocks == ()
    assert VideoEncoderConfig.from_config({"vae": {"encoder_blocks": [["res_x", 3]]}}).blocks[0].num_layers == 3


@pytest.mark.parametrize(
    "vae,word",
    [
        ({"encoder_blocks": [["res_y", {}]]}, "res_y"),
        ({"decoder_blocks": [["attn_res_x", {}]]}, "attn_res_x"),
        ({"decoder_blocks": [["compress_all_res", {}]]}, "compress_all_res"),
        ({"spatial_padding_mode": "mirror"}, "mirror"),
        ({"norm_layer": "layer_norm"}, "layer_norm"),
        ({"latent_log_var": "none"}, "none"),
        ({"dims": 2}, "dims"),
        ({"encoder_blocks": "res_x"}, "encoder_blocks"),
    ],
)
def test_config_errors_are_one_line(vae, word):
    with pytest.raises(ConfigError) as err:
        VideoEncoderConfig.from_config({"vae": vae}, "model.safetensors")
        VideoDecoderConfig.from_config({"vae": vae}, "model.safetensors")
    msg = str(err.value)
    assert word in msg and "\n" not in msg and "model.safetensors" in msg


def test_missing_vae_section():
    with pytest.raises(ConfigError, match="vae"):
        VideoDecoderConfig.from_config({"transformer": {}}, "x.safetensors")


def test_block_widths_are_checked():
    res = ["compress_all", {"residual": True, "multiplier": 2}]
    cfg = VideoDecoderConfig.from_config({"vae": {"decoder_base_channels": 1, "decoder_blocks": [res, res]}})
    with pytest.raises(ConfigError, match="cannot map 4 channels"):
        VideoDecoder(cfg)
