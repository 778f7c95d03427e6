"""The tiny LTX-2.5 set (`ltx_core.testing.tiny_checkpoints`) read back: the split files hold exactly the single file's
tensors, the packed text encoder the Gemma folder's weights (Comfy-flat names) and tokenizer, the metadata each slot's
file carries (delta E.2), the loaders take every file (the bare-key conv VAE too), and the configs mirror the golden
1.2.0 tiny files where the fixture set has them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ltx_core.loader import SafetensorsFile
from ltx_core.model.duration_head import load_duration_head
from ltx_core.model.video_vae import load_video_decoder, load_video_encoder
from ltx_core.testing.golden import golden_dir
from ltx_core.testing.tiny_checkpoints import SPLIT_FILES
from ltx_core.testing.tiny_gemma4 import comfy_flat_name
from ltx_core.text_encoders.gemma.assets import read_text_encoder_assets

PACKED_EXTRAS = ("tokenizer_json", "hf_asset__")


def test_split_files_hold_the_single_files_tensors(tiny_set_25: Path) -> None:
    single = load_file(tiny_set_25 / "distilled.safetensors")
    seen: set[str] = set()
    for slot, name in SPLIT_FILES.items():
        split = load_file(tiny_set_25 / name)
        ltx = {k: v for k, v in split.items() if slot != "text_encoder" or k.startswith("text_embedding_projection.")}
        assert ltx and not seen & set(ltx), slot
        assert all(torch.equal(v, single[k]) for k, v in ltx.items()), slot
        seen |= set(ltx)
    assert seen == set(single)


def test_packed_text_encoder_is_the_gemma_folder(tiny_set_25: Path) -> None:
    folder = read_text_encoder_assets(tiny_set_25 / "gemma")
    packed = read_text_encoder_assets(tiny_set_25 / SPLIT_FILES["text_encoder"])
    assert packed.packed and not folder.packed
    assert packed.config == folder.config and packed.tokenizer_json == folder.tokenizer_json
    assert packed.sidecars == folder.sidecars
    weights = load_file(folder.weight_files[0])
    packed_weights = load_file(packed.weight_files[0])
    assert all(torch.equal(packed_weights[comfy_flat_name(k)], v) for k, v in weights.items())


def test_each_slot_file_carries_its_metadata(tiny_set_25: Path) -> None:
    meta = {slot: SafetensorsFile(tiny_set_25 / name).metadata for slot, name in SPLIT_FILES.items()}
    gemma = json.loads(meta["text_encoder"]["gemma_config"])
    source = json.loads(meta["transformer"]["gemma_source_checkpoint"])
    assert source["gemma_version"] == gemma["gemma_version"]  # the pairing the version gate checks
    single = SafetensorsFile(tiny_set_25 / "distilled.safetensors").metadata
    assert meta["transformer"]["model_version"] == meta["video_vae"]["model_version"] == single["model_version"]
    config = json.loads(single["config"])
    assert json.loads(meta["video_vae"]["config"]) == {"vae": config["vae"]}
    assert json.loads(meta["audio_vae"]["config"]) == {k: config[k] for k in ("audio_vae", "vocoder")}
    assert json.loads(meta["transformer"]["config"]) == {"transformer": config["transformer"]}
    conv = SafetensorsFile(tiny_set_25 / "video_vae_conv.safetensors")
    assert "model_version" not in conv.metadata and not any(k.startswith("vae.") for k in conv.keys())


def test_loaders_take_every_file(tiny_set_25: Path) -> None:
    conv = tiny_set_25 / "video_vae_conv.safetensors"
    encoder, decoder = load_video_encoder(conv), load_video_decoder(conv)
    bare = load_file(conv)
    name = next(k for k in encoder.state_dict() if not k.startswith("per_channel_statistics."))
    assert torch.equal(encoder.state_dict()[name], bare[f"encoder.{name}"])
    assert type(decoder).__name__ != "DiffusionVideoDecoder"
    split_head = load_duration_head(tiny_set_25 / SPLIT_FILES["duration_head"])
    single_head = load_duration_head(tiny_set_25 / "distilled.safetensors")
    assert split_head is not None and single_head is not None and split_head.config == single_head.config
    assert all(torch.equal(a, b) for a, b in zip(split_head.parameters(), single_head.parameters(), strict=True))


@pytest.mark.parametrize("name", ["ltx25_e2e_tiny", "ltx25_t2a_tiny"])
def test_configs_mirror_the_golden_tiny_files(name: str, tiny_set_25: Path) -> None:
    path = golden_dir() / "e2e_120" / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"no {path.name} in the fixture set")
    golden = json.loads(SafetensorsFile(path).metadata["config"])
    ours = json.loads(SafetensorsFile(tiny_set_25 / "distilled.safetensors").metadata["config"])
    if name == "ltx25_t2a_tiny":  # the transformer flag set of the T2A file (its audio FFN / prompt AdaLN defaults)
        assert {k: ours["transformer"].get(k) for k in golden["transformer"]} == golden["transformer"]
    else:  # the video VAE (diffusion decoder), audio VAE, vocoder and duration head of the end-to-end file
        assert {k: ours[k] for k in ("vae", "audio_vae", "vocoder", "duration_head")} == {
            k: golden[k] for k in ("vae", "audio_vae", "vocoder", "duration_head")
        }
