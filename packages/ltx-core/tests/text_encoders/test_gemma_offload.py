"""Gemma with its decoder layers streamed from RAM: the placement choice (a table of machines), bitwise the resident
encoder's hidden states and contexts, one layer's weights at a time, and the same code path run on the CPU."""

from __future__ import annotations

import logging

import pytest
import torch

from ltx_core.offload.policy import GIB, MemoryInfo, choose_text_encoder_offload
from ltx_core.text_encoders.gemma.model import gemma_weight_bytes, load_gemma, shard_index
from ltx_core.text_encoders.gemma.prompts import encode_prompts
from ltx_core.text_encoders.gemma.root import find_gemma_root

S = 256
GPU_24 = MemoryInfo("cuda", 22 * GIB, 30 * GIB)
GPU_80 = MemoryInfo("cuda", 78 * GIB, 100 * GIB)
GEMMA_12B = 24 * GIB


@pytest.mark.parametrize(
    ("requested", "memory", "placement", "why"),
    [
        ("auto", GPU_24, "ram", "exceeds the free 22.0 GiB"),
        ("auto", GPU_80, "resident", "fits the free 78.0 GiB"),
        ("auto", MemoryInfo("cuda", 22 * GIB, 16 * GIB), "disk", "do not fit the available RAM 16.0 GiB"),
        ("none", GPU_24, "resident", "offload none"),
        ("cpu", GPU_80, "ram", "offload cpu"),
        ("cpu", MemoryInfo("cuda", 22 * GIB, 20 * GIB), "disk", "do not fit the available RAM"),
        ("disk", GPU_80, "disk", "offload disk"),
        ("cpu", MemoryInfo("cpu", None, 64 * GIB), "resident", "no accelerator"),
        ("auto", MemoryInfo("mps", 10 * GIB, 10 * GIB, unified=True), "resident", "unified memory"),
    ],
    ids=["24GB-auto", "80GB-auto", "24GB-16GB-RAM-auto", "none", "cpu", "cpu-short-RAM", "disk", "cpu-device", "mps"],
)
def test_choice(requested: str, memory: MemoryInfo, placement: str, why: str) -> None:
    got, reason = choose_text_encoder_offload(requested, GEMMA_12B, memory)
    assert got == placement and why in reason


def test_margins_are_counted() -> None:
    # 24 GiB of weights + the 2 GiB margin: 25 GiB free is not enough, 26 GiB is; RAM keeps a 4 GiB reserve
    assert choose_text_encoder_offload("auto", GEMMA_12B, MemoryInfo("cuda", 25 * GIB, 28 * GIB))[0] == "ram"
    assert choose_text_encoder_offload("auto", GEMMA_12B, MemoryInfo("cuda", 26 * GIB, 0))[0] == "resident"
    assert choose_text_encoder_offload("auto", GEMMA_12B, MemoryInfo("cuda", 25 * GIB, 27 * GIB))[0] == "disk"


def test_weight_bytes_from_headers(tiny_roots: dict) -> None:
    _, root = tiny_roots["ltx23_tiny"]
    encoder = load_gemma(root, dtype=torch.bfloat16, max_length=S)
    expected = sum(p.numel() * p.element_size() for p in encoder.model.parameters())
    assert gemma_weight_bytes(shard_index(find_gemma_root(root).shards), torch.bfloat16) == expected


@pytest.mark.parametrize(("ram", "placement"), [(64 * GIB, "kept in RAM"), (0, "read from the shards")])
@pytest.mark.parametrize("variant", ["ltx2_tiny", "ltx23_tiny"])
def test_streamed_layers_equal_resident(
    tiny_roots: dict, variant: str, ram: int, placement: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The CPU stands in for the accelerator (the same hooks and copies; `memory` says a CUDA card is short, and
    RAM too for the disk placement)."""
    _, root = tiny_roots[variant]
    resident = load_gemma(root, dtype=torch.float32, max_length=S)
    with caplog.at_level(logging.INFO):
        streamed = load_gemma(
            root, dtype=torch.float32, max_length=S, offload="auto", memory=MemoryInfo("cuda", 0, ram)
        )
    assert placement in caplog.text
    layers = streamed.model.model.language_model.layers
    host = [[p for p in layer.parameters()] for layer in layers]
    if ram == 0:
        assert all(p.is_meta for p in layers.parameters())  # nothing of the layers is held between runs
    for prompt in ("A cat walks on the beach at sunset.", "blurry"):
        want, mask_want = resident.encode(prompt)
        got, mask_got = streamed.encode(prompt)
        assert torch.equal(mask_got, mask_want) and len(got) == len(want)
        assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
    assert streamed.offload.uploads == 2 * len(layers)  # each layer uploaded once per forward
    # between forwards every layer holds its host weights again (nothing stays on the device)
    assert [[p for p in layer.parameters()] for layer in layers] == host
    streamed.release()
    assert streamed.offload is None


def test_encode_prompts_passes_the_offload(
    tiny_roots: dict, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import ltx_core.offload.policy

    ckpt, root = tiny_roots["ltx2_tiny"]
    plain = encode_prompts(["a dog"], root, ckpt, device="cpu", dtype=torch.float32, max_length=S)
    monkeypatch.setattr(
        ltx_core.offload.policy, "probe_memory", lambda device: MemoryInfo("cuda", GIB // 1024, 64 * GIB)
    )
    with caplog.at_level(logging.INFO):
        streamed = encode_prompts(
            ["a dog"], root, ckpt, device="cpu", dtype=torch.float32, max_length=S, offload="auto"
        )
    assert "decoder layers kept in RAM" in caplog.text
    assert torch.equal(plain[0].video_context, streamed[0].video_context)


@pytest.mark.gpu
@pytest.mark.parametrize("offload", ["cpu", "disk"])
def test_streamed_layers_on_cuda_equal_resident(tiny_roots: dict, offload: str) -> None:
    _, root = tiny_roots["ltx23_tiny"]
    resident = load_gemma(root, dtype=torch.bfloat16, device="cuda", max_length=S)
    streamed = load_gemma(root, dtype=torch.bfloat16, device="cuda", max_length=S, offload=offload)
    assert streamed.offload is not None and streamed.device.type == "cuda"
    want, _ = resident.encode("A cat walks on the beach at sunset.")
    got, _ = streamed.encode("A cat walks on the beach at sunset.")
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
    layers = streamed.model.model.language_model.layers
    assert all(p.device.type in ("cpu", "meta") for p in layers.parameters())  # nothing left on the device


def test_enhancement_works_with_streamed_layers(tiny_roots: dict) -> None:
    from ltx_core.text_encoders.gemma.enhance import enhance_prompt

    _, root = tiny_roots["ltx23_tiny"]
    resident = load_gemma(root, dtype=torch.float32, max_length=S)
    streamed = load_gemma(
        root, dtype=torch.float32, max_length=S, offload="disk", memory=MemoryInfo("cuda", 0, 64 * GIB)
    )
    want = enhance_prompt(resident, "a cat", seed=3, max_new_tokens=6)
    assert enhance_prompt(streamed, "a cat", seed=3, max_new_tokens=6) == want
