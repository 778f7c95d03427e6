"""The automatic offload choice as a pure function over a table of machines, option checks, and the probe."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.offload.policy import (
    GIB,
    MemoryInfo,
    ModelFootprint,
    OffloadMode,
    check_offload_options,
    choose_offload,
    estimate_vae_decode_bytes,
    parse_offload,
    probe_memory,
    resolve_offload,
)
from ltx_core.offload.streaming import transformer_footprint
from ltx_core.testing.golden import component_checkpoints

# LTX-2.3 22B transformer, 48 blocks, by hand: bf16 ≈ 0.86 GiB per block + ~2 GiB outside the blocks;
# fp8-cast halves the block Linears (≈ 0.45 GiB per block).
BF16 = ModelFootprint(block_bytes=48 * int(0.86 * GIB), largest_block=int(0.86 * GIB), other_bytes=2 * GIB)
FP8 = ModelFootprint(block_bytes=48 * int(0.45 * GIB), largest_block=int(0.45 * GIB), other_bytes=2 * GIB)


def _cuda(free_gb: float, ram_gb: float) -> MemoryInfo:
    return MemoryInfo("cuda", int(free_gb * GIB), int(ram_gb * GIB))


SCENARIOS = [
    # (name, footprint, memory, mode, tiling)
    ("H100 80GB, 128GB RAM, bf16", BF16, _cuda(79, 128), OffloadMode.NONE, False),
    ("H200 140GB, 64GB RAM, bf16", BF16, _cuda(139, 64), OffloadMode.NONE, False),
    ("48GB card, 64GB RAM, bf16", BF16, _cuda(47, 64), OffloadMode.CPU, False),
    ("24GB card, 32GB RAM, fp8-cast", FP8, _cuda(23.5, 32), OffloadMode.CPU, True),
    ("24GB card, 32GB RAM, bf16", BF16, _cuda(23.5, 32), OffloadMode.DISK, True),
    ("24GB card, 64GB RAM, bf16", BF16, _cuda(23.5, 64), OffloadMode.CPU, True),
    ("32GB card, 16GB RAM, fp8-cast", FP8, _cuda(31.5, 16), OffloadMode.NONE, True),
    ("28GB card, 16GB RAM, fp8-cast", FP8, _cuda(27.5, 16), OffloadMode.DISK, True),
    ("16GB card, 16GB RAM, bf16", BF16, _cuda(15.5, 16), OffloadMode.DISK, True),
    ("CPU, 128GB RAM, bf16", BF16, MemoryInfo("cpu", None, 128 * GIB), OffloadMode.NONE, False),
    ("CPU, 32GB RAM, bf16", BF16, MemoryInfo("cpu", None, 32 * GIB), OffloadMode.DISK, True),
    ("MPS 128GB unified, bf16", BF16, MemoryInfo("mps", 96 * GIB, 120 * GIB, unified=True), OffloadMode.NONE, False),
    ("MPS 32GB unified, fp8-cast", FP8, MemoryInfo("mps", 20 * GIB, 28 * GIB, unified=True), OffloadMode.DISK, True),
]


@pytest.mark.parametrize(("name", "footprint", "memory", "mode", "tiling"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_choose_offload(
    name: str, footprint: ModelFootprint, memory: MemoryInfo, mode: OffloadMode, tiling: bool
) -> None:
    choice = choose_offload(footprint, memory)
    assert choice.mode is mode, f"{name}: {choice.describe()}"
    assert choice.vae_tiling is tiling, f"{name}: {choice.describe()}"
    line = choice.describe()
    assert "\n" not in line and line.startswith(f"offload: {mode.value}, VAE tiling")


def test_streaming_that_still_does_not_fit_says_so() -> None:
    choice = choose_offload(BF16, _cuda(3, 128))
    assert choice.mode is OffloadMode.CPU
    assert "may run out" in choice.reason


def test_thresholds_are_inclusive() -> None:
    activation = 1 * GIB
    exact = MemoryInfo("cuda", BF16.total + activation, 1 * GIB)
    assert choose_offload(BF16, exact, activation_bytes=activation).mode is OffloadMode.NONE
    short = MemoryInfo("cuda", BF16.total + activation - 1, BF16.block_bytes + 2 * GIB)
    assert choose_offload(BF16, short, activation_bytes=activation, ram_reserve_bytes=2 * GIB).mode is OffloadMode.CPU
    shorter = MemoryInfo("cuda", BF16.total, BF16.block_bytes + 2 * GIB - 1)
    assert choose_offload(BF16, shorter, ram_reserve_bytes=2 * GIB).mode is OffloadMode.DISK


def test_vae_estimate_by_hand() -> None:
    assert estimate_vae_decode_bytes(121, 512, 768) == 121 * 512 * 768 * 768
    small = estimate_vae_decode_bytes(25, 256, 384)
    assert choose_offload(FP8, _cuda(23.5, 64), vae_decode_bytes=small).vae_tiling is False


def test_resolve_echoes_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    choice = resolve_offload("auto", FP8, "cuda", memory=_cuda(23.5, 32))
    assert choice.mode is OffloadMode.CPU
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "offload: cpu" in out
    forced = resolve_offload("disk", FP8, "cuda", memory=_cuda(79, 128), echo=None)
    assert forced.mode is OffloadMode.DISK and forced.reason == "requested"


def test_parse_and_option_checks() -> None:
    assert parse_offload(None) is OffloadMode.AUTO
    assert parse_offload("CPU") is OffloadMode.CPU
    with pytest.raises(InputError, match="valid: none, cpu, disk, auto"):
        parse_offload("gpu")
    check_offload_options(OffloadMode.NONE, compile=True)
    check_offload_options(OffloadMode.DISK)
    with pytest.raises(InputError, match=r"^compile=True cannot be combined with offload='cpu'; drop one of them$"):
        check_offload_options(OffloadMode.CPU, compile=True)


def test_probe_memory_cpu() -> None:
    info = probe_memory("cpu")
    assert info.device_type == "cpu" and info.accelerator_free is None
    assert info.ram_available > 0


@pytest.mark.gpu
def test_probe_memory_cuda() -> None:
    info = probe_memory("cuda")
    _free, total = torch.cuda.mem_get_info()
    assert info.device_type == "cuda" and 0 < info.accelerator_free <= total


def test_footprint_of_golden_checkpoint_drives_choice(golden: Path) -> None:
    ckpts = component_checkpoints()
    assert ckpts
    fp = transformer_footprint(ckpts[0])
    fp8 = transformer_footprint(ckpts[0], quantization="fp8-cast")
    assert 0 < fp8.block_bytes < fp.block_bytes and fp8.other_bytes == fp.other_bytes
    mem = MemoryInfo("cuda", fp.total, 10 * GIB)
    assert choose_offload(fp, mem, activation_bytes=0).mode is OffloadMode.NONE
    assert choose_offload(fp, mem, activation_bytes=1, ram_reserve_bytes=0).mode is OffloadMode.CPU
