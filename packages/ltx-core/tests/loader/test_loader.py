"""Checkpoint loading: file validation, strictness, config errors, dtype policy, LoRA coverage and restore."""

import json
import pickle
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ltx_core.errors import CheckpointError, ConfigError, LoraError
from ltx_core.loader import (
    ConfigSection,
    KeyMap,
    LoraSpec,
    SafetensorsFile,
    fuse_loras_into_model,
    load_model,
    open_checkpoint,
    restore_weights,
    strip_prefix_map,
)
from ltx_core.numerics import NUMERICS_1_1_3

PREFIX = "model.tiny."
MAP = strip_prefix_map("tiny", PREFIX, exclude=(PREFIX + "other_component.",))


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.register_buffer("scale", torch.ones(3))


def _write(path: Path, tensors: dict[str, torch.Tensor], config: dict | None = None) -> Path:
    meta = {"config": json.dumps(config)} if config is not None else None
    save_file(tensors, str(path), metadata=meta)
    return path


def _full(path: Path, dtype: torch.dtype = torch.float32) -> Path:
    g = torch.Generator().manual_seed(0)
    tensors = {
        PREFIX + "lin.weight": torch.randn(3, 4, generator=g).to(dtype),
        PREFIX + "lin.bias": torch.randn(3, generator=g).to(dtype),
        PREFIX + "scale": torch.full((3,), 2.0, dtype=dtype),
        PREFIX + "other_component.w": torch.zeros(2),
        "vae.something": torch.zeros(1),
    }
    return _write(path, tensors, {"tiny": {"width": 4}})


def test_loads_selected_keys_by_assignment(tmp_path):
    path = _full(tmp_path / "ok.safetensors")
    model = load_model(Tiny, path, MAP, component="tiny")
    ref = SafetensorsFile(path).read(PREFIX + "lin.weight")
    assert torch.equal(model.lin.weight, ref)
    assert torch.equal(model.scale, torch.full((3,), 2.0))
    assert not model.training


def test_dtype_policy_casts_only_when_asked(tmp_path):
    path = _full(tmp_path / "bf16.safetensors", torch.bfloat16)
    kept = load_model(Tiny, path, MAP, component="tiny")
    cast = load_model(Tiny, path, MAP, component="tiny", dtype=torch.float32)
    assert kept.lin.weight.dtype == torch.bfloat16
    assert cast.lin.weight.dtype == torch.float32
    assert torch.equal(cast.lin.weight, kept.lin.weight.float())


def test_missing_weight_is_an_error_naming_it(tmp_path):
    path = _write(
        tmp_path / "m.safetensors", {PREFIX + "lin.weight": torch.zeros(3, 4), PREFIX + "scale": torch.ones(3)}
    )
    with pytest.raises(CheckpointError, match=r"1 missing: lin\.bias"):
        load_model(Tiny, path, MAP, component="tiny")


def test_unexpected_weight_is_an_error_naming_it(tmp_path):
    path = _full(tmp_path / "u.safetensors")
    tensors = dict(SafetensorsFile(path).iter_tensors())
    tensors[PREFIX + "extra.weight"] = torch.zeros(1)
    path = _write(tmp_path / "u2.safetensors", tensors)
    with pytest.raises(CheckpointError, match=r"1 unexpected: extra\.weight"):
        load_model(Tiny, path, MAP, component="tiny")


def test_weight_of_another_shape_is_an_error_naming_it(tmp_path):
    """Keys that fit but a shape the config does not give (edited metadata, another model's config): one line
    naming the weight and both shapes, from the header, instead of load_state_dict's multi-line RuntimeError."""
    path = _full(tmp_path / "s.safetensors")
    tensors = dict(SafetensorsFile(path).iter_tensors())
    tensors[PREFIX + "lin.weight"] = torch.zeros(3, 5)
    path = _write(tmp_path / "s2.safetensors", tensors)
    with pytest.raises(CheckpointError) as info:
        load_model(Tiny, path, MAP, component="tiny")
    message = str(info.value)
    assert "1 tiny weight(s) have another shape" in message and "lin.weight [3, 5] (config: [3, 4])" in message
    assert "\n" not in message


def test_file_without_the_component_says_so(tmp_path):
    path = _write(tmp_path / "lora.safetensors", {"diffusion_model.a.lora_A.weight": torch.zeros(1, 1)})
    with pytest.raises(CheckpointError, match="has no tiny weights"):
        load_model(Tiny, path, MAP, component="tiny")


def test_pickle_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.ckpt"
    with open(path, "wb") as f:
        pickle.dump({"a": 1}, f, protocol=4)
    with pytest.raises(CheckpointError, match="pickle"):
        SafetensorsFile(path)


def test_header_length_that_spells_a_pickle_magic_still_loads(tmp_path):
    """A 1408-byte header starts the file with b"\\x80\\x05", a pickle's protocol-5 magic: still a safetensors file."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (1408 - len(header))
    path = tmp_path / "w.safetensors"
    path.write_bytes((1408).to_bytes(8, "little") + header + torch.tensor([1.0, 2.0]).numpy().tobytes())
    assert path.read_bytes()[:2] == b"\x80\x05"
    assert torch.equal(SafetensorsFile(path).read("w"), torch.tensor([1.0, 2.0]))


def test_truncated_file_is_refused(tmp_path):
    path = _full(tmp_path / "t.safetensors")
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 10])
    with pytest.raises(CheckpointError, match="truncated"):
        SafetensorsFile(cut)


@pytest.mark.parametrize("content", [b"", b"hello world, not a model", b"\xff" * 64])
def test_corrupt_file_is_refused(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        SafetensorsFile(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        open_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="folder"):
        open_checkpoint(tmp_path)


def test_sharded_checkpoint_reads_all_shards_and_first_metadata(tmp_path):
    full = dict(SafetensorsFile(_full(tmp_path / "f.safetensors")).iter_tensors())
    keys = sorted(full)
    a = _write(tmp_path / "a.safetensors", {k: full[k] for k in keys[:2]}, {"tiny": {"width": 4}})
    b = _write(tmp_path / "b.safetensors", {k: full[k] for k in keys[2:]}, {"ignored": {}})
    ckpt = open_checkpoint([a, b])
    assert sorted(ckpt.keys()) == keys and ckpt.config == {"tiny": {"width": 4}}
    model = load_model(Tiny, ckpt, MAP, component="tiny")
    assert torch.equal(model.lin.bias, full[PREFIX + "lin.bias"])


def test_config_errors_name_key_value_and_file():
    sec = ConfigSection.of({"tiny": {"rope_type": "spiral", "dropout": 0.1}}, "tiny", source="x.safetensors")
    with pytest.raises(ConfigError, match=r"x\.safetensors: config value tiny\.rope_type is 'spiral'; supported"):
        sec.choice("rope_type", ["split", "interleaved"])
    with pytest.raises(ConfigError, match=r"tiny\.dropout is 0\.1, expected 0\.0"):
        sec.expect("dropout", 0.0)
    with pytest.raises(ConfigError, match=r"tiny\.num_layers is missing"):
        sec.require("num_layers")
    with pytest.raises(ConfigError, match="no 'vae' section"):
        ConfigSection.of({}, "vae", source="x.safetensors")


def test_key_map_semantics():
    km = KeyMap(
        "m", prefixes=("a.",), suffixes=(".w", ".b"), exclude=("a.skip.",), replacements=(("a.", ""), ("x", "y"))
    )
    assert km.rename("a.x.w") == "y.w"
    assert km.rename("a.x.c") is None
    assert km.rename("a.skip.w") is None
    assert km.rename("b.x.w") is None


def _lora(path: Path, stems: dict[str, tuple[int, int]], rank: int = 2, seed: int = 1) -> Path:
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for stem, (out_f, in_f) in stems.items():
        tensors[f"diffusion_model.{stem}.lora_A.weight"] = torch.randn(rank, in_f, generator=g)
        tensors[f"diffusion_model.{stem}.lora_B.weight"] = torch.randn(out_f, rank, generator=g)
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path


def test_lora_fusion_formula_and_restore(tmp_path):
    """float32 weights: 1.1.3 numerics fuse in float32; 1.2.0 (delta A.12) aggregate Δ in bf16 and add W into it,
    so the fused weight carries bf16 rounding."""
    ckpt = _full(tmp_path / "c.safetensors")
    lora = _lora(tmp_path / "l.safetensors", {"lin": (3, 4)})
    old = load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(lora, 0.5)], numerics=NUMERICS_1_1_3)
    fused = load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(lora, 0.5)])
    base = load_model(Tiny, ckpt, MAP, component="tiny")
    lf = dict(SafetensorsFile(lora).iter_tensors())
    a, b = lf["diffusion_model.lin.lora_A.weight"], lf["diffusion_model.lin.lora_B.weight"]
    expected = (b * 0.5) @ a + base.lin.weight
    assert torch.equal(old.lin.weight, expected)
    expected_120 = ((b.bfloat16() * 0.5) @ a.bfloat16()).add_(base.lin.weight).float()
    assert torch.equal(fused.lin.weight, expected_120) and not torch.equal(expected_120, expected)
    assert torch.equal(fused.lin.bias, base.lin.bias)

    touched = fuse_loras_into_model(base, [LoraSpec(lora, 0.5)], numerics=NUMERICS_1_1_3)
    assert touched == ["lin.weight"] and torch.equal(base.lin.weight, expected)
    restore_weights(base, ckpt, MAP, touched)
    assert torch.equal(base.lin.weight, SafetensorsFile(ckpt).read(PREFIX + "lin.weight"))
    fuse_loras_into_model(base, [LoraSpec(lora, 0.5)])
    assert torch.equal(base.lin.weight, expected_120)


@pytest.mark.gpu
def test_refusing_a_cpu_model_fuses_where_the_loader_does(tmp_path):
    """A CPU-resident model on a CUDA machine: the loader fuses on CUDA, so a later re-fusion (a cached transformer
    taking its LoRAs again) must too, or the weights differ in the last bf16 bit from the first run's."""
    ckpt = _full(tmp_path / "c.safetensors", torch.bfloat16)
    lora = _lora(tmp_path / "l.safetensors", {"lin": (3, 4)})
    fused = load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(lora, 0.7)])
    refused = load_model(Tiny, ckpt, MAP, component="tiny")
    fuse_loras_into_model(refused, [LoraSpec(lora, 0.7)])
    assert refused.lin.weight.device.type == "cpu" and torch.equal(refused.lin.weight, fused.lin.weight)


def test_two_loras_accumulate_in_order(tmp_path):
    ckpt = _full(tmp_path / "c.safetensors")
    l1 = _lora(tmp_path / "l1.safetensors", {"lin": (3, 4)}, seed=1)
    l2 = _lora(tmp_path / "l2.safetensors", {"lin": (3, 4)}, seed=2)
    loras = [LoraSpec(l1, 0.5), LoraSpec(l2, 2.0)]
    fused = load_model(Tiny, ckpt, MAP, component="tiny", loras=loras, numerics=NUMERICS_1_1_3)
    w = SafetensorsFile(ckpt).read(PREFIX + "lin.weight")
    t1, t2 = dict(SafetensorsFile(l1).iter_tensors()), dict(SafetensorsFile(l2).iter_tensors())
    delta = (t1["diffusion_model.lin.lora_B.weight"] * 0.5) @ t1["diffusion_model.lin.lora_A.weight"]
    delta = delta.addmm(t2["diffusion_model.lin.lora_B.weight"], t2["diffusion_model.lin.lora_A.weight"], alpha=2.0)
    assert torch.equal(fused.lin.weight, delta + w)


def test_lora_matching_nothing_is_an_error(tmp_path):
    ckpt = _full(tmp_path / "c.safetensors")
    lora = _lora(tmp_path / "l.safetensors", {"transformer_blocks.0.attn1.to_q": (3, 4)})
    with pytest.raises(LoraError, match="none of its 1 LoRA weight pairs match"):
        load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(lora, 1.0)])


def test_lora_partial_match_warns_with_counts(tmp_path):
    ckpt = _full(tmp_path / "c.safetensors")
    lora = _lora(tmp_path / "l.safetensors", {"lin": (3, 4), "not_here": (2, 2)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(lora, 1.0)])
    assert any("1 of 2 LoRA weight pairs match" in str(w.message) for w in caught)


@pytest.mark.parametrize(("rank_a", "in_f", "out_f"), [(2, 5, 3), (2, 4, 2), (3, 4, 3)], ids=["in", "out", "rank"])
def test_lora_pair_of_the_wrong_shape_is_an_error_naming_it(tmp_path, rank_a, in_f, out_f):
    """A pair that names a model weight but does not fit it (a LoRA for the other model version) is refused before
    any tensor is fused, with the shapes, rather than failing inside the matmul."""
    ckpt = _full(tmp_path / "c.safetensors")
    path = tmp_path / "l.safetensors"
    save_file(
        {
            "diffusion_model.lin.lora_A.weight": torch.zeros(rank_a, in_f),
            "diffusion_model.lin.lora_B.weight": torch.zeros(out_f, 2),
        },
        str(path),
    )
    expected = rf"LoRA pair 'lin' \(A \[{rank_a}, {in_f}\], B \[{out_f}, 2\]\) does not fit the model's weight \[3, 4\]"
    with pytest.raises(LoraError, match=expected):
        load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(path, 1.0)])
    model = load_model(Tiny, ckpt, MAP, component="tiny")
    with pytest.raises(LoraError, match=expected):
        fuse_loras_into_model(model, [LoraSpec(path, 1.0)])
    assert torch.equal(model.lin.weight, SafetensorsFile(ckpt).read(PREFIX + "lin.weight"))


def test_lora_fuse_device_follows_a_cuda_target(monkeypatch):
    """LoRAs fuse on the CUDA device the model goes to (`--device cuda:1`), on the current CUDA device for a CPU
    target when CUDA exists (as the official loader), and on the CPU without CUDA."""
    from ltx_core.loader.lora import lora_fuse_device

    assert lora_fuse_device("cuda:1") == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert lora_fuse_device("cpu") == lora_fuse_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 2)
    assert lora_fuse_device("cpu") == lora_fuse_device("cuda") == torch.device("cuda", 2)


def test_file_without_lora_pairs_is_not_a_lora(tmp_path):
    ckpt = _full(tmp_path / "c.safetensors")
    with pytest.raises(LoraError, match="not a LoRA file"):
        load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(ckpt, 1.0)])


def test_zero_strength_lora_is_not_opened(tmp_path):
    ckpt = _full(tmp_path / "c.safetensors")
    model = load_model(Tiny, ckpt, MAP, component="tiny", loras=[LoraSpec(tmp_path / "missing.safetensors", 0.0)])
    assert torch.equal(model.lin.weight, SafetensorsFile(ckpt).read(PREFIX + "lin.weight"))


def test_golden_checkpoints_open_with_their_config(golden):
    for name in ("ltx2_tiny.safetensors", "ltx23_tiny.safetensors"):
        ckpt = open_checkpoint(golden / name)
        assert {"transformer", "vae", "audio_vae", "vocoder"} <= set(ckpt.config)
        assert all(ckpt.info(k).nbytes > 0 for k in ckpt.keys())
