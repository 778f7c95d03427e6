"""Key maps and the inverse state dicts: official key names, shapes, and a save → load round trip."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.errors import CheckpointError
from ltx_core.loader import open_checkpoint
from ltx_core.model.audio_vae.loading import (
    AUDIO_DECODER_KEY_MAP,
    AUDIO_ENCODER_KEY_MAP,
    VOCODER_KEY_MAP,
    audio_decoder_from_config,
    audio_encoder_from_config,
    audio_vae_checkpoint_state_dict,
    load_audio_decoder,
    load_audio_encoder,
    load_vocoder,
    vocoder_checkpoint_state_dict,
    vocoder_from_config,
)

VARIANTS = ["ltx2", "ltx23"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_key_renaming():
    assert VOCODER_KEY_MAP.rename("vocoder.vocoder.conv_pre.weight") == "vocoder.conv_pre.weight"
    assert VOCODER_KEY_MAP.rename("vocoder.mel_stft.mel_basis") == "mel_stft.mel_basis"
    assert VOCODER_KEY_MAP.rename("vocoder.conv_pre.weight") == "conv_pre.weight"
    assert VOCODER_KEY_MAP.rename("audio_vae.encoder.conv_in.conv.weight") is None
    stats = "audio_vae.per_channel_statistics.std-of-means"
    assert AUDIO_ENCODER_KEY_MAP.rename(stats) == "per_channel_statistics.std-of-means"
    assert AUDIO_DECODER_KEY_MAP.rename(stats) == "per_channel_statistics.std-of-means"
    assert AUDIO_ENCODER_KEY_MAP.rename("audio_vae.encoder.conv_in.conv.weight") == "conv_in.conv.weight"
    assert AUDIO_ENCODER_KEY_MAP.rename("audio_vae.decoder.conv_in.conv.weight") is None


def _audio_keys(ckpt):
    return {k: tuple(ckpt.info(k).shape) for k in ckpt.keys() if k.startswith("audio_vae.") or k.startswith("vocoder.")}


@pytest.mark.parametrize("variant", VARIANTS)
def test_inverse_state_dict_round_trip(golden, tmp_path, variant):
    ckpt = open_checkpoint(golden / f"{variant}_tiny.safetensors")
    torch.manual_seed(0)
    enc = audio_encoder_from_config(ckpt.config).eval()
    dec = audio_decoder_from_config(ckpt.config).eval()
    voc = vocoder_from_config(ckpt.config).eval()
    state = {**audio_vae_checkpoint_state_dict(enc, dec), **vocoder_checkpoint_state_dict(voc)}
    # Exactly the official keys and shapes of the fixture checkpoint.
    assert {k: tuple(v.shape) for k, v in state.items()} == _audio_keys(ckpt)
    assert all(torch.isfinite(v).all() for v in state.values())
    assert (state["audio_vae.per_channel_statistics.std-of-means"] > 0).all()

    path = tmp_path / "audio.safetensors"
    save_file(state, str(path), metadata={"config": json.dumps(ckpt.config)})
    enc2, dec2, voc2 = load_audio_encoder(path), load_audio_decoder(path), load_vocoder(path)
    mel = torch.randn(1, 2, 8, 64)
    with torch.no_grad():
        z = enc(mel)
        assert torch.isfinite(z).all()
        assert torch.equal(enc2(mel), z)
        # The decoder shares the encoder's statistics in the file.
        dec.per_channel_statistics.load_state_dict(enc.per_channel_statistics.state_dict())
        assert torch.equal(dec2(z), dec(z))
        assert torch.equal(voc2(mel[:, :, :2]), voc(mel[:, :, :2]))


def test_wrong_file_is_reported(golden, tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"model.x": torch.zeros(1)}, str(path), metadata={"config": json.dumps({"audio_vae": {}})})
    with pytest.raises(CheckpointError, match="audio VAE encoder"):
        load_audio_encoder(path)
