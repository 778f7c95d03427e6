"""Gemma root discovery, loading and the one-line errors for roots that are incomplete or do not fit."""

import json
import shutil

import pytest
import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader import open_checkpoint
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.text_encoders.gemma.loading import text_path_config
from ltx_core.text_encoders.gemma.model import build_gemma_model, load_gemma
from ltx_core.text_encoders.gemma.prompts import encode_prompts
from ltx_core.text_encoders.gemma.root import check_gemma_files, check_gemma_fits, find_gemma_root


def _one_line(exc_info):
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


@pytest.fixture
def root_copy(tiny_roots, tmp_path):
    src = tiny_roots["ltx2_tiny"][1]
    dst = tmp_path / "gemma"
    shutil.copytree(src, dst)
    return dst


def test_discovery_finds_all_parts(root_copy):
    root = find_gemma_root(root_copy)
    assert [p.name for p in root.shards] == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert root.tokenizer_dir == root_copy and root.image_processor_dir == root_copy
    assert root.config_path == root_copy / "config.json"


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        ("config.json", "config.json"),
        ("tokenizer.json", "tokenizer"),
        ("tokenizer_config.json", "tokenizer_config.json"),
        ("model-*.safetensors", "model*.safetensors"),
    ],
)
def test_missing_files_are_one_line_errors(root_copy, remove, named):
    for p in root_copy.glob(remove):
        p.unlink()
    with pytest.raises(CheckpointError) as exc:
        find_gemma_root(root_copy)
    assert named in _one_line(exc)


def test_incomplete_download_is_refused_from_headers(root_copy):
    """A shard the index lists but the folder lacks, and a truncated shard, are one-line errors naming the file."""
    root = find_gemma_root(root_copy)
    check_gemma_files(root)
    shard = root_copy / "model-00002-of-00002.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as exc:
        check_gemma_files(find_gemma_root(root_copy))
    assert "model-00002-of-00002.safetensors: file is truncated" in _one_line(exc)
    shard.unlink()
    with pytest.raises(CheckpointError) as exc:
        check_gemma_files(find_gemma_root(root_copy))
    assert "Gemma is incomplete; model.safetensors.index.json lists 2 shard(s), missing: model-00002-of-00002" in (
        _one_line(exc)
    )


@pytest.mark.parametrize("name", ["tokenizer.json", "tokenizer_config.json", "config.json"])
def test_truncated_json_file_is_refused_up_front(root_copy, name):
    """A cut-off tokenizer or config JSON (an interrupted download) is one line naming the file, before any load."""
    path = root_copy / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as exc:
        check_gemma_files(find_gemma_root(root_copy))
    line = _one_line(exc)
    assert line.startswith(f"{path}: not valid JSON (") and line.endswith("is the download complete?")


def test_missing_root_folder(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        find_gemma_root(tmp_path / "nowhere")
    assert "nowhere" in _one_line(exc)


@pytest.mark.parametrize(("field", "delta"), [("hidden_size", 8), ("num_hidden_layers", 1)])
def test_size_mismatch_with_checkpoint(root_copy, golden, field, delta):
    cfg_path = root_copy / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["text_config"][field] += delta
    cfg_path.write_text(json.dumps(cfg))
    ckpt = open_checkpoint(golden / "ltx2_tiny.safetensors")
    with pytest.raises(CheckpointError) as exc:
        check_gemma_fits(find_gemma_root(root_copy), text_path_config(ckpt), ckpt.path)
    msg = _one_line(exc)
    assert f"{field}={cfg['text_config'][field]}" in msg and f"{field}={cfg['text_config'][field] - delta}" in msg
    with pytest.raises(CheckpointError):
        encode_prompts(["x"], root_copy, ckpt, device="cpu", dtype=torch.float32, max_length=128)


def test_shards_that_do_not_fit_config(root_copy):
    cfg_path = root_copy / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["text_config"]["intermediate_size"] += 4
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError):
        build_gemma_model(find_gemma_root(root_copy), dtype=torch.float32, device="cpu")
    # a shard without one layer's weights: strict
    cfg["text_config"]["intermediate_size"] -= 4
    cfg["text_config"]["num_hidden_layers"] += 1
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as exc:
        build_gemma_model(find_gemma_root(root_copy), dtype=torch.float32, device="cpu")
    assert "missing" in _one_line(exc)


def test_weights_load_in_official_layout(tiny_roots):
    """Every shard tensor lands on its module (original Google key layout), the LM head is tied, buffers are real."""
    _, root_path = tiny_roots["ltx23_tiny"]
    enc = load_gemma(root_path, dtype=torch.float32, max_length=128)
    sd = enc.model.state_dict()
    root = enc.root
    for shard in root.shards:
        f = SafetensorsFile(shard)
        for key in f.keys():
            if key.startswith("language_model.model."):
                name = "model.language_model." + key[len("language_model.model.") :]
            else:
                name = "model." + key
            assert torch.equal(sd[name], f.read(key)), key
    lm = enc.model.model.language_model
    assert enc.model.lm_head.weight is lm.embed_tokens.weight
    assert not any(t.is_meta for t in [*enc.model.parameters(), *enc.model.buffers()])
    # hidden state 0 at the BOS slot is the scaled embedding row (spec A.5)
    hs, mask = enc.encode("a cat")
    d = root.hidden_size
    assert len(hs) == root.num_layers + 1 and hs[0].shape == (1, 128, d)
    n = int(mask.sum())
    bos = enc.tokenizer.bos_token_id
    torch.testing.assert_close(hs[0][0, 128 - n], lm.embed_tokens.weight[bos] * d**0.5, rtol=1e-6, atol=1e-6)
    assert all(torch.isfinite(h).all() for h in hs)
    # the last state is after the final norm
    out = enc.model.model.language_model(
        input_ids=enc.tokenize("a cat").input_ids, attention_mask=mask, output_hidden_states=False
    )
    assert torch.equal(out.last_hidden_state, hs[-1])
    enc.release()
    assert enc.model is None


def test_nested_root_and_bf16(tiny_roots, tmp_path):
    """Files may sit in a sub-folder of the root (recursive discovery); dtype applies to every weight."""
    src = tiny_roots["ltx2_tiny"][1]
    shutil.copytree(src, tmp_path / "root" / "snapshots" / "abc")
    enc = load_gemma(tmp_path / "root", dtype=torch.bfloat16, max_length=128)
    assert {p.dtype for p in enc.model.parameters()} == {torch.bfloat16}
    hs, _ = enc.encode("a dog")
    assert hs[0].dtype == torch.bfloat16
    enc.release()
