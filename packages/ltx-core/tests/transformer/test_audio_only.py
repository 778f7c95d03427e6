"""The audio-only transformer (text to audio, spec delta B.5) and the audio-only checkpoint cut from a full one.

The audio-only model is the audio half of the audio-video model run with the video stream absent: loaded from a
full checkpoint (its audio keys selected) or from the cut file, it must give bitwise the audio-video model's audio
prediction. Unlike the official configurator it reads `audio_ff_bias` / `use_prompt_adaln_single` from the file, so
a file whose flags drop those weights loads. Every size comes from the checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader import open_checkpoint
from ltx_core.model.audio_vae import load_audio_decoder, load_vocoder
from ltx_core.model.transformer import Modality, ModelType, load_transformer, transformer_config
from ltx_core.testing.audio_only import audio_only_file, audio_only_keys
from ltx_core.testing.golden import component_checkpoints, golden_dir
from ltx_core.text_encoders.gemma.loading import load_text_path

CHECKPOINTS = component_checkpoints()  # LTX-2 (caption projection in the transformer) and LTX-2.3, in-repo too
FLAGS_OFF = golden_dir() / "e2e_120" / "ltx25_e2e_tiny.safetensors"  # audio_ff_bias / use_prompt_adaln_single false


def _audio_input(checkpoint: Path, seed: int = 0) -> Modality:
    """A random audio stream input of the checkpoint's widths (4 tokens, 3 context slots)."""
    ckpt = open_checkpoint(checkpoint)
    cfg = transformer_config(ckpt.config, ModelType.AUDIO_ONLY, source=ckpt.path)
    g = torch.Generator().manual_seed(seed)
    width = cfg.caption_channels if cfg.has_caption_projection else cfg.audio_cross_attention_dim
    tokens = 4
    start = torch.arange(tokens, dtype=torch.float32).mul_(0.04)
    positions = torch.stack([start, start + 0.04], dim=-1).reshape(1, 1, tokens, 2)
    return Modality(
        latent=torch.randn(1, tokens, cfg.audio_in_channels, generator=g).to(torch.bfloat16),
        sigma=torch.tensor([0.7]),
        timesteps=torch.full((1, tokens, 1), 0.7),
        positions=positions,
        context=torch.randn(1, 3, width, generator=g).to(torch.bfloat16),
    )


def _audio_prediction(checkpoint: Path, model_type: ModelType) -> torch.Tensor:
    model = load_transformer(checkpoint, dtype=torch.bfloat16, model_type=model_type)
    with torch.inference_mode():
        _, audio = model(None, _audio_input(checkpoint))
    assert audio is not None
    return audio


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """{full checkpoint: its audio-only file}, written once."""
    folder = tmp_path_factory.mktemp("audio_only")
    return {c: audio_only_file(c, folder / f"{c.stem}_audio_only.safetensors") for c in CHECKPOINTS}


@pytest.mark.parametrize("checkpoint", CHECKPOINTS, ids=lambda p: p.stem)
def test_audio_only_model_is_the_audio_half_of_the_full_one(checkpoint: Path, cut: dict[Path, Path]) -> None:
    full = _audio_prediction(checkpoint, ModelType.AUDIO_VIDEO)
    assert torch.equal(_audio_prediction(checkpoint, ModelType.AUDIO_ONLY), full)  # audio keys of the full file
    assert torch.equal(_audio_prediction(cut[checkpoint], ModelType.AUDIO_ONLY), full)  # the cut file, strictly


@pytest.mark.parametrize("checkpoint", CHECKPOINTS, ids=lambda p: p.stem)
def test_the_cut_file_holds_what_text_to_audio_reads_and_nothing_else(checkpoint: Path, cut: dict[Path, Path]) -> None:
    full, small = open_checkpoint(checkpoint), open_checkpoint(cut[checkpoint])
    keys = set(small.keys())
    assert keys == set(audio_only_keys(checkpoint)) and keys < set(full.keys())
    dropped = ("vae.", "audio_vae.encoder.", "model.diffusion_model.patchify_proj.", "model.diffusion_model.av_ca_")
    assert not any(k.startswith(dropped) for k in keys)
    in_blocks = {k.split(".")[4] for k in keys if k.startswith("model.diffusion_model.transformer_blocks.")}
    assert in_blocks == {"audio_attn1", "audio_attn2", "audio_ff", "audio_scale_shift_table"} | (
        {"audio_prompt_scale_shift_table"} if full.config["transformer"].get("cross_attention_adaln") else set()
    )
    assert set(small.config) == set(full.config) & {"transformer", "audio_vae", "vocoder", "duration_head"}
    assert small.metadata.get("model_version") == full.metadata.get("model_version")
    # every part text to audio builds loads strictly from it
    load_audio_decoder(small)
    load_vocoder(small)
    load_text_path(small)
    with pytest.raises(CheckpointError, match=r"has no video transformer .*only text to audio") as info:
        load_transformer(small)
    assert "\n" not in str(info.value)


def test_a_file_without_the_audio_stream_is_refused_in_one_line(tmp_path: Path) -> None:
    from safetensors import safe_open

    from ltx_core.testing.tiny_checkpoints import _save

    source = open_checkpoint(CHECKPOINTS[-1])
    with safe_open(str(source.path), "pt") as f:
        kept = {k: f.get_tensor(k) for k in source.keys() if ".audio_" not in k and "diffusion_model.audio_" not in k}
    path = tmp_path / "video_only.safetensors"
    _save(path, kept, dict(source.metadata))
    with pytest.raises(CheckpointError, match=r"has no audio transformer .* which text to audio needs") as info:
        load_transformer(path, model_type=ModelType.AUDIO_ONLY)
    assert "\n" not in str(info.value)


def test_flags_that_drop_weights_are_read_from_the_file(tmp_path: Path) -> None:
    """A 2.5 file with audio_ff_bias and use_prompt_adaln_single false: the official audio-only configurator builds
    the biases and the prompt AdaLN anyway and leaves them on meta; here the flags are read, so it loads and runs."""
    if not FLAGS_OFF.is_file():
        pytest.skip(f"no {FLAGS_OFF.name} under {golden_dir()} (e2e_120/)")
    config = open_checkpoint(FLAGS_OFF).config["transformer"]
    assert config["audio_ff_bias"] is False and config["use_prompt_adaln_single"] is False
    model = load_transformer(FLAGS_OFF, model_type=ModelType.AUDIO_ONLY)
    assert model.transformer_blocks[0].audio_ff.net[0].proj.bias is None
    assert not hasattr(model, "audio_prompt_adaln_single")
    full = _audio_prediction(FLAGS_OFF, ModelType.AUDIO_VIDEO)
    small = audio_only_file(FLAGS_OFF, tmp_path / "flags_off_audio_only.safetensors")
    assert torch.equal(_audio_prediction(small, ModelType.AUDIO_ONLY), full)
