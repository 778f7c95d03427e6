"""The released configurations build (on meta) with the spec's element counts; the streaming writer's files load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from ltx_core.testing.real_configs import (
    GEMMA_HIDDEN_STATES,
    checkpoint_tensor_specs,
    component_bytes,
    real_config,
    real_upsampler_config,
    upsampler_tensor_specs,
    write_random_checkpoint,
    write_random_upsampler,
)
from ltx_core.testing.tiny_checkpoints import full_checkpoint_state_dict, tiny_config, tiny_upsampler_config

# Element counts from the spec (transformer.md 2 "Counts"; video_vae_and_upsampler.md 3.2 / 4.2 incl. the two
# statistics rows; audio_vae_and_vocoder.md 5.1 / 6.1 / 8.1 / 9.1 incl. statistics and persistent buffers).
SPEC_COUNTS = {
    "ltx2": {
        "transformer": (18_876_174_592, 3510),
        "video encoder": (694_099_137, 94),
        "video decoder": (528_380_976, 92),
        "audio encoder": (21_333_008 + 256, 46),
        "audio decoder": (31_915_138 + 256, 58),
        "vocoder": (55_592_802, 194),
        "connectors": (None, 58),
    },
    "ltx23": {
        "transformer": (18_988_838_144, 4186),
        "video encoder": (318_937_153, 86),
        "video decoder": (407_169_328, 86),
        "audio encoder": (21_333_008 + 256, 46),
        "audio decoder": (31_915_138 + 256, 58),
        "vocoder": (128_537_448 + 547_584, 1227),
        "connectors": (None, 258),
    },
}

_VIDEO_STATS = ("vae.per_channel_statistics.std-of-means", "vae.per_channel_statistics.mean-of-means")
_PREFIXES = {
    "transformer": ("model.diffusion_model.",),
    "video encoder": ("vae.encoder.", *_VIDEO_STATS),
    "video decoder": ("vae.decoder.", *_VIDEO_STATS),
    "audio encoder": ("audio_vae.encoder.", "audio_vae.per_channel_statistics."),
    "audio decoder": ("audio_vae.decoder.", "audio_vae.per_channel_statistics."),
    "vocoder": ("vocoder.",),
    "connectors": ("model.diffusion_model.video_embeddings_connector.", "model.diffusion_model.audio_embeddings_c"),
}
_CONNECTORS = _PREFIXES["connectors"]


def _selected(specs: dict, name: str) -> list:
    out = []
    for key, spec in specs.items():
        if not key.startswith(_PREFIXES[name]):
            continue
        if name == "transformer" and key.startswith(_CONNECTORS):
            continue  # the connectors live under the transformer prefix but belong to the text path
        out.append(spec)
    return out


@pytest.fixture(scope="module", params=["ltx2", "ltx23"])
def real_specs(request: pytest.FixtureRequest) -> tuple[str, dict]:
    return request.param, checkpoint_tensor_specs(real_config(request.param))


@pytest.mark.parametrize("name", list(SPEC_COUNTS["ltx2"]))
def test_real_config_element_counts_match_spec(real_specs: tuple[str, dict], name: str) -> None:
    version, specs = real_specs
    elements, tensors = SPEC_COUNTS[version][name]
    selected = _selected(specs, name)
    assert len(selected) == tensors
    if elements is not None:
        assert sum(s.numel for s in selected) == elements


def test_real_text_projection_width(real_specs: tuple[str, dict]) -> None:
    """Gemma 3 12B: 49 hidden states of width caption_channels (3840) feed the projection (spec A.6 / A.7)."""
    version, specs = real_specs
    key = "text_embedding_projection." + ("aggregate_embed" if version == "ltx2" else "video_aggregate_embed")
    caption = real_config(version)["transformer"]["caption_channels"]
    assert specs[key + ".weight"].shape[1] == caption * GEMMA_HIDDEN_STATES == 188160


def test_real_upsampler_element_count() -> None:
    """By hand (spec 6.2): mid 1024, 4+4 res blocks, plain x2 Conv2d upsampler.
    initial conv 128*1024*27+1024, GN 2*1024, each res block 2*(1024*1024*27+1024) + 4*1024, upsampler
    4096*1024*9+4096, final conv 1024*128*27+128."""
    by_hand = (128 * 1024 * 27 + 1024) + 2048 + 8 * (2 * (1024 * 1024 * 27 + 1024) + 4096)
    by_hand += 4096 * 1024 * 9 + 4096 + 1024 * 128 * 27 + 128
    for version in ("ltx2", "ltx23"):
        assert sum(s.numel for s in upsampler_tensor_specs(real_upsampler_config(version)).values()) == by_hand


def test_layers_override_and_metadata(tmp_path: Path) -> None:
    config = tiny_config("ltx23")
    path = tmp_path / "c.safetensors"
    write_random_checkpoint(path, config, layers=1)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        keys = set(f.keys())
    assert json.loads(meta["config"])["transformer"]["num_layers"] == 1
    assert meta["model_version"].startswith("2.3")
    assert any(k.startswith("model.diffusion_model.transformer_blocks.0.") for k in keys)
    assert not any(k.startswith("model.diffusion_model.transformer_blocks.1.") for k in keys)
    assert config["transformer"]["num_layers"] == 2  # the caller's dict is not modified


@pytest.mark.parametrize("version", ["ltx2", "ltx23"])
def test_random_checkpoint_has_official_layout_and_loads(tmp_path: Path, version: str) -> None:
    """Same keys/shapes as the tiny generator (which builds real modules); every component loads strictly and runs
    to finite values."""
    from ltx_core.model.audio_vae import decode_audio, load_audio_decoder, load_vocoder
    from ltx_core.model.transformer import load_transformer
    from ltx_core.model.upsampler import load_upsampler
    from ltx_core.model.video_vae import load_video_decoder, load_video_encoder
    from ltx_core.text_encoders.gemma import load_text_path

    config = tiny_config(version)
    path = tmp_path / "ckpt.safetensors"
    nbytes = write_random_checkpoint(path, config, num_hidden_states=4)
    reference = full_checkpoint_state_dict(config, num_hidden_states=4)
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(reference)
        for key in reference:
            t = f.get_tensor(key)
            assert t.shape == reference[key].shape and t.dtype == reference[key].dtype, key
            assert torch.isfinite(t.float()).all(), key
        std = f.get_tensor("vae.per_channel_statistics.std-of-means").float()
    assert nbytes == sum(t.numel() * t.element_size() for t in reference.values())
    assert sum(component_bytes(path).values()) == nbytes
    assert float(std.min()) >= 0.5 and float(std.max()) <= 1.5

    for load in (load_transformer, load_text_path, load_video_encoder, load_video_decoder):
        model = load(path)
        assert all(torch.isfinite(p.float()).all() for p in model.parameters())
    decoder, vocoder = load_audio_decoder(path, dtype=torch.float32), load_vocoder(path, dtype=torch.float32)
    waveform, _ = decode_audio(decoder, vocoder, torch.randn(1, 8, 3, 16))
    assert waveform.numel() > 0 and torch.isfinite(waveform).all()

    up_path = tmp_path / "up.safetensors"
    write_random_upsampler(up_path, tiny_upsampler_config())
    upsampler = load_upsampler(up_path, dtype=torch.float32)
    out = upsampler(torch.randn(1, 128, 2, 2, 2))
    assert out.shape[-2:] == (4, 4) and torch.isfinite(out).all()


def test_values_depend_only_on_key_and_seed(tmp_path: Path) -> None:
    config = tiny_config("ltx2")
    a, b, c = (tmp_path / n for n in ("a.safetensors", "b.safetensors", "c.safetensors"))
    write_random_checkpoint(a, config, seed=3)
    write_random_checkpoint(b, config, seed=3, layers=1)
    write_random_checkpoint(c, config, seed=4)
    key = "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight"
    with safe_open(str(a), "pt") as fa, safe_open(str(b), "pt") as fb, safe_open(str(c), "pt") as fc:
        assert torch.equal(fa.get_tensor(key), fb.get_tensor(key))
        assert not torch.equal(fa.get_tensor(key), fc.get_tensor(key))
