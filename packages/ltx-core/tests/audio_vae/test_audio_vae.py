"""Audio VAE encoder/decoder: golden parity, length rule, config errors, round trip of the state dict."""

import pytest
import torch

from ltx_core.errors import ConfigError
from ltx_core.loader import ConfigSection, open_checkpoint
from ltx_core.model.audio_vae.codec import encode_audio
from ltx_core.model.audio_vae.config import AudioVAEConfig
from ltx_core.model.audio_vae.decoder import AudioDecoder, decoded_mel_frames
from ltx_core.model.audio_vae.encoder import AudioEncoder
from ltx_core.model.audio_vae.loading import audio_vae_config, load_audio_decoder, load_audio_encoder
from ltx_core.testing.golden import load_case, report

TOL = 1e-5
VARIANTS = ["ltx2", "ltx23"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The shared CI box is oversubscribed; these small convs run ~10x faster single-threaded."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ckpt(golden, variant):
    return golden / f"{variant}_tiny.safetensors"


@pytest.mark.parametrize("variant", VARIANTS)
def test_encode_parity(golden, variant):
    case = load_case(golden / "cases" / variant / "audio_vae_encode.safetensors")
    enc = load_audio_encoder(_ckpt(golden, variant))
    with torch.no_grad():
        got = enc(case.inputs["mel"])
    report(f"{variant}/audio_vae_encode", got, case.outputs["latent"], TOL)


@pytest.mark.parametrize("variant", VARIANTS)
def test_decode_parity(golden, variant):
    case = load_case(golden / "cases" / variant / "audio_vae_decode.safetensors")
    dec = load_audio_decoder(_ckpt(golden, variant))
    with torch.no_grad():
        got = dec(case.inputs["latent"])
    report(f"{variant}/audio_vae_decode", got, case.outputs["mel"], TOL)


def test_length_rules(golden):
    ckpt = open_checkpoint(_ckpt(golden, "ltx2"))
    cfg = audio_vae_config(ckpt.config, ckpt.path)
    enc, dec = AudioEncoder(cfg).eval(), AudioDecoder(cfg).eval()
    bins = cfg.mel.n_mels
    with torch.no_grad():
        for frames, latent_frames in [(1, 1), (4, 1), (5, 2), (8, 2), (9, 3)]:
            z = enc(torch.randn(1, cfg.in_channels, frames, bins))
            assert z.shape[2] == latent_frames
            assert torch.isfinite(z).all()
            mel = dec(z)
            assert mel.shape == (1, cfg.out_ch, max(4 * latent_frames - 3, 1), bins)
            assert torch.isfinite(mel).all()
    assert decoded_mel_frames(126) == 501
    assert decoded_mel_frames(1) == 1
    assert decoded_mel_frames(5, causal=False) == 20


def test_encoder_is_causal_in_time(golden):
    ckpt = open_checkpoint(_ckpt(golden, "ltx23"))
    cfg = audio_vae_config(ckpt.config, ckpt.path)
    enc = AudioEncoder(cfg).eval()
    x = torch.randn(1, cfg.in_channels, 16, cfg.mel.n_mels)
    y = x.clone()
    y[:, :, 12:] = torch.randn_like(y[:, :, 12:])
    with torch.no_grad():
        a, b = enc(x), enc(y)
    # Frames 0..11 only feed latents 0..2.
    assert torch.equal(a[:, :, :3], b[:, :, :3])
    assert not torch.equal(a[:, :, 3:], b[:, :, 3:])


def test_default_config_is_the_released_one():
    cfg = AudioVAEConfig.from_section(ConfigSection({}, "audio_vae"))
    assert cfg.ch == 128 and cfg.ch_mult == (1, 2, 4) and cfg.z_channels == 8
    assert cfg.latents_per_second == 25.0
    assert cfg.mel == cfg.mel.__class__(16000, 1024, 160, 64)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("norm_type", "batch", "norm_type"),
        ("causality_axis", "depth", "causality_axis"),
        ("ch", 0, "ch"),
        ("ch_mult", "124", "ch_mult"),
    ],
)
def test_invalid_config_raises(golden, key, value, match):
    config = open_checkpoint(_ckpt(golden, "ltx2")).config
    section = dict(config["audio_vae"])
    dd = dict(section["model"]["params"]["ddconfig"], **{key: value})
    section["model"] = {"params": dict(section["model"]["params"], ddconfig=dd)}
    with pytest.raises(ConfigError, match=match):
        audio_vae_config({"audio_vae": section}, "test.safetensors")


def test_group_norm_with_causal_axis_raises():
    with pytest.raises(ConfigError, match="group"):
        AudioVAEConfig(norm_type="group", causality_axis="height")


def test_attention_variant_builds_and_runs():
    cfg = AudioVAEConfig(
        ch=32,
        ch_mult=(1, 2, 1),
        num_res_blocks=1,
        z_channels=2,
        mid_block_add_attention=True,
        attn_resolutions=(128,),
        resolution=256,
        mel_bins=64,
    )
    enc, dec = AudioEncoder(cfg).eval(), AudioDecoder(cfg).eval()
    assert "mid.attn_1.q.weight" in enc.state_dict()
    assert "down.1.attn.0.q.weight" in enc.state_dict()
    assert "up.1.attn.0.q.weight" in dec.state_dict()
    with torch.no_grad():
        mel = dec(enc(torch.randn(1, 2, 8, 64)))
    assert mel.shape == (1, 2, 5, 64) and torch.isfinite(mel).all()


def test_encode_audio_accepts_mono(golden):
    enc = load_audio_encoder(_ckpt(golden, "ltx2"))
    mono = torch.randn(1, 1, 3000)
    latent = encode_audio(enc, mono, 16000)
    frames = 1 + 3000 // enc.cfg.mel_hop_length
    assert latent.shape == (1, enc.cfg.z_channels, -(-frames // 4), enc.cfg.mel.n_mels // 4)
    assert torch.equal(latent, encode_audio(enc, mono.expand(1, 2, -1), 16000))
