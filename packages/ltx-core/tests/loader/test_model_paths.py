"""Split model files (spec delta E.1): the single file XOR split slots, what each block reads, an empty slot's
one-line error when a block needs it, and a video VAE stored with bare keys read as the prefixed one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.errors import InputError
from ltx_core.loader.model_paths import MissingFile, ModelFiles, ModelPaths
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.model.video_vae.loading import open_video_vae


def test_single_file_and_split_files_together_are_refused() -> None:
    with pytest.raises(InputError) as exc:
        ModelPaths(checkpoint="a.safetensors", transformer="t.safetensors", audio_vae="v.safetensors")
    text = str(exc.value)
    assert "\n" not in text and "a.safetensors" in text and "--transformer-path, --audio-vae-path" in text
    with pytest.raises(InputError, match="no model files given"):
        ModelPaths()


def test_each_slot_reads_its_file() -> None:
    single = ModelFiles.of(ModelPaths(checkpoint="m.safetensors", video_vae="vae.safetensors"), "gemma")
    assert (single.transformer, single.audio_vae, single.duration_head) == (Path("m.safetensors"),) * 3
    assert single.video_vae == Path("vae.safetensors") and single.embeddings == Path("m.safetensors")
    assert single.text_encoder == "gemma"
    paths = ModelPaths(transformer="t.safetensors", text_encoder="te.safetensors", video_vae="v.safetensors")
    split = ModelFiles.of(paths)
    assert split.embeddings == [Path("t.safetensors"), Path("te.safetensors")]  # merged, metadata from the first
    assert split.text_encoder == Path("te.safetensors") and split.video_vae == Path("v.safetensors")
    assert isinstance(split.audio_vae, MissingFile) and split.audio_vae.metadata == {}
    with pytest.raises(InputError) as exc:
        split.audio_vae.build("audio_decoder", dtype=None, device=torch.device("cpu"))
    assert str(exc.value) == (
        "this needs the audio VAE, and the split model files give none; pass it with --audio-vae-path "
        "(ModelPaths.audio_vae)"
    )
    with pytest.raises(InputError, match="not as the Gemma root gemma"):
        ModelFiles.of(paths, "gemma")


def test_bare_video_vae_keys_read_as_prefixed(tmp_path: Path) -> None:
    tensors = {
        "encoder.conv.weight": torch.arange(6.0).reshape(2, 3),
        "per_channel_statistics.mean-of-means": torch.ones(2),
    }
    save_file(tensors, tmp_path / "bare.safetensors")
    ckpt = open_video_vae(tmp_path / "bare.safetensors")
    assert sorted(ckpt.keys()) == ["vae.encoder.conv.weight", "vae.per_channel_statistics.mean-of-means"]
    assert ckpt.info("vae.encoder.conv.weight").shape == (2, 3)
    read = dict(ckpt.iter_tensors(["vae.encoder.conv.weight"]))
    assert torch.equal(read["vae.encoder.conv.weight"], tensors["encoder.conv.weight"])
    save_file({f"vae.{k}": v for k, v in tensors.items()}, tmp_path / "prefixed.safetensors")
    prefixed = open_video_vae(tmp_path / "prefixed.safetensors")
    assert (
        sorted(prefixed.keys()) == sorted(ckpt.keys()) and prefixed.files[0].path == tmp_path / "prefixed.safetensors"
    )
    assert SafetensorsFile(tmp_path / "bare.safetensors").keys() == list(tensors)  # the file itself is untouched
