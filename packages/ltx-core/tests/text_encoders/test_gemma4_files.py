"""Gemma-4 text-encoder files and pairing: a packed file without its tokenizer or config, the metadata-string
sidecar fallback, the family chosen by `model_type`, and the Gemma-version gate (delta A.7.4) as one-line errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ltx_core.errors import CheckpointError, ConfigError, InputError
from ltx_core.loader import Checkpoint, SafetensorsFile
from ltx_core.testing.golden import golden_dir
from ltx_core.text_encoders.gemma.assets import TOKENIZER_KEY, read_text_encoder_assets
from ltx_core.text_encoders.gemma.encoders import open_text_encoder
from ltx_core.text_encoders.gemma.gemma4 import load_gemma4
from ltx_core.text_encoders.gemma.prompts import encode_prompts
from ltx_core.text_encoders.gemma.version_gate import check_gemma_pairing, version_as_written

PACK = golden_dir() / "gemma4_te_tiny.safetensors"
LTX25 = golden_dir() / "ltx25_tiny.safetensors"
needs_pack = pytest.mark.skipif(
    not (PACK.is_file() and LTX25.is_file()), reason="the fixture set has no 1.2.0 Gemma-4 files (README_120 §4)"
)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def _repack(out: Path, drop: str | None = None, metadata: dict[str, str] | None = None) -> Path:
    """A copy of the packed file without tensor `drop` and with `metadata` (default: the original's)."""
    tensors = {k: v for k, v in load_file(PACK).items() if k != drop}
    save_file(tensors, out, metadata=SafetensorsFile(PACK).metadata if metadata is None else metadata)
    return out


def _metadata_file(out: Path, **metadata: str) -> Checkpoint:
    save_file({"x": torch.zeros(1)}, out, metadata=metadata)
    return Checkpoint(out)


@needs_pack
def test_packed_file_without_tokenizer_is_one_line(tmp_path):
    path = _repack(tmp_path / "te.safetensors", drop=TOKENIZER_KEY)
    with pytest.raises(CheckpointError) as exc:
        read_text_encoder_assets(path)
    assert str(path) in _one_line(exc) and "tokenizer_json" in _one_line(exc)


@needs_pack
def test_packed_file_without_config_is_one_line(tmp_path):
    path = _repack(tmp_path / "te.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as exc:
        open_text_encoder(path)
    assert str(path) in _one_line(exc) and "gemma_config" in _one_line(exc)


@needs_pack
def test_packed_file_without_tokenizer_config_is_one_line(tmp_path):
    path = _repack(tmp_path / "te.safetensors", drop="hf_asset__tokenizer_config.json")
    with pytest.raises(CheckpointError) as exc:
        read_text_encoder_assets(path)
    assert str(path) in _one_line(exc) and "tokenizer_config.json" in _one_line(exc)


@needs_pack
def test_sidecar_from_metadata_string(tmp_path):
    """Older / Comfy packs carry a sidecar as a metadata string: the same tokenizer results."""
    original = read_text_encoder_assets(PACK)
    metadata = dict(SafetensorsFile(PACK).metadata)
    metadata["tokenizer_config.json"] = original.sidecars["tokenizer_config.json"].decode("utf-8")
    path = _repack(tmp_path / "te.safetensors", drop="hf_asset__tokenizer_config.json", metadata=metadata)
    assets = read_text_encoder_assets(path)
    assert assets.sidecars["tokenizer_config.json"] == original.sidecars["tokenizer_config.json"]
    text = "two dogs, 3 birds!"
    want = load_gemma4(PACK, dtype=torch.float32).tokenize(text)
    got = load_gemma4(path, dtype=torch.float32).tokenize(text)
    assert torch.equal(got.input_ids, want.input_ids) and torch.equal(got.attention_mask, want.attention_mask)


@needs_pack
@pytest.mark.parametrize(("model_type", "error"), [("gemma4", ConfigError), ("llama", ConfigError)])
def test_unsupported_encoder_family_is_one_line(tmp_path, model_type, error):
    config = json.loads(SafetensorsFile(PACK).metadata["gemma_config"])
    config["model_type"] = model_type
    path = _repack(tmp_path / "te.safetensors", metadata={"format": "pt", "gemma_config": json.dumps(config)})
    with pytest.raises(error) as exc:
        open_text_encoder(path)
    assert repr(model_type) in _one_line(exc) and "gemma4_unified" in _one_line(exc)


@needs_pack
def test_enhancement_with_gemma4_is_refused():
    with pytest.raises(InputError) as exc:
        encode_prompts(["a cat"], PACK, LTX25, device="cpu", dtype=torch.float32, enhance_prompt=True)
    assert "gemma4_unified" in _one_line(exc) and "--enhance-prompt" in _one_line(exc)


@pytest.mark.parametrize(
    ("raw", "parsed"), [("2.5.0", (2, 5, 0)), ("2.5", (2, 5)), ("2.4-rc2", (2,)), ("2.3.rc1", (2, 3)), ("", ())]
)
def test_model_version_parsed_as_written(raw, parsed):
    assert version_as_written(raw) == parsed


GEMMA4 = {"model_type": "gemma4_unified", "gemma_version": "gemma4-12b-ltx-v1"}
SOURCE = json.dumps({"gemma_version": "gemma4-12b-ltx-v1"})


def test_gate_accepts_the_declared_pair(tmp_path):
    check_gemma_pairing(_metadata_file(tmp_path / "c.safetensors", gemma_source_checkpoint=SOURCE), GEMMA4, "te")
    gemma3 = {"model_type": "gemma3"}
    for version in ("2.3.0", "2.3", ""):
        check_gemma_pairing(_metadata_file(tmp_path / f"v{version}.safetensors", model_version=version), gemma3, "te")


def test_gate_version_mismatch_names_both(tmp_path):
    ckpt = _metadata_file(tmp_path / "c.safetensors", gemma_source_checkpoint=SOURCE, model_version="2.5.0")
    stock = {"model_type": "gemma4_unified", "gemma_version": "stock-gemma-4"}
    with pytest.raises(CheckpointError) as exc:
        check_gemma_pairing(ckpt, stock, "te.safetensors")
    line = _one_line(exc)
    assert "'gemma4-12b-ltx-v1'" in line and "'stock-gemma-4'" in line and "te.safetensors" in line
    with pytest.raises(CheckpointError) as exc:
        check_gemma_pairing(ckpt, {"model_type": "gemma4_unified"}, "te.safetensors")
    assert "'gemma4-12b-ltx-v1'" in _one_line(exc) and "None" in _one_line(exc)


@pytest.mark.parametrize("version", ["2.5.0", "2.5", "2.4.0"])
def test_gate_from_2_4_needs_the_source_metadata(tmp_path, version, caplog):
    """ "2.5" is read as written (the official's JSON decoding makes it a float and crashes)."""
    ckpt = _metadata_file(tmp_path / "c.safetensors", model_version=version)
    with pytest.raises(CheckpointError) as exc:
        check_gemma_pairing(ckpt, GEMMA4, "te")
    assert f"model_version {version}" in _one_line(exc) and "gemma4-12b-ltx-v1" in _one_line(exc)
    with caplog.at_level(logging.WARNING):
        check_gemma_pairing(ckpt, {"model_type": "gemma4_unified"}, "te")  # neither declares one: a warning
    assert "not checked" in caplog.text


@pytest.mark.parametrize("version", ["2.3.0", "", "2.4-rc2"])
def test_gate_before_2_4_needs_gemma3(tmp_path, version):
    ckpt = _metadata_file(tmp_path / "c.safetensors", model_version=version)
    with pytest.raises(CheckpointError) as exc:
        check_gemma_pairing(ckpt, GEMMA4, "te.safetensors")
    assert "'gemma4_unified'" in _one_line(exc) and "Gemma 3" in _one_line(exc)


def test_gate_source_metadata_not_an_object(tmp_path):
    ckpt = _metadata_file(tmp_path / "c.safetensors", gemma_source_checkpoint="gemma4-12b-ltx-v1")
    with pytest.raises(CheckpointError) as exc:
        check_gemma_pairing(ckpt, GEMMA4, "te")
    assert "gemma_source_checkpoint" in _one_line(exc)


@needs_pack
def test_encode_prompts_refuses_gemma4_with_an_ltx23_checkpoint():
    ltx23 = golden_dir() / "ltx23_tiny.safetensors"
    with pytest.raises(CheckpointError) as exc:
        encode_prompts(["a cat"], PACK, ltx23, device="cpu", dtype=torch.float32)
    assert "model_version 2.3.0" in _one_line(exc) and "'gemma4_unified'" in _one_line(exc)
