"""Where the transformer's weights live while it runs: resident on the accelerator ("none"), streamed block by
block from RAM ("cpu") or from the checkpoint file ("disk"), or chosen from the free memory ("auto").

`choose_offload` is a pure function of the model's footprint and the free memory, so the policy can be tested over
a table of machines; `probe_memory` reads the numbers (no CUDA call unless the device is CUDA).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import torch

from ltx_core.errors import InputError

GIB = 1024**3
# Working memory kept free on the accelerator beside the weights (activations, attention, the sampler's tensors).
DEFAULT_ACTIVATION_BYTES = 4 * GIB
# RAM left to the OS and the rest of the pipeline when the blocks are kept in RAM.
DEFAULT_RAM_RESERVE_BYTES = 4 * GIB
STREAMING_DEVICE_SLOTS = 2


class OffloadMode(Enum):
    NONE = "none"
    CPU = "cpu"
    DISK = "disk"
    AUTO = "auto"

    @property
    def streams(self) -> bool:
        return self in (OffloadMode.CPU, OffloadMode.DISK)


def parse_offload(value: str | OffloadMode | None) -> OffloadMode:
    if value is None:
        return OffloadMode.AUTO
    if isinstance(value, OffloadMode):
        return value
    try:
        return OffloadMode(str(value).strip().lower())
    except ValueError:
        valid = ", ".join(m.value for m in OffloadMode)
        raise InputError(f"offload mode {value!r} is not known; valid: {valid}") from None


def check_compile_with_streaming(offload: OffloadMode, compile: bool) -> None:
    """torch.compile cannot trace the streaming hooks (spec B.9): the rule itself, with no toolchain probe (the
    command line checks it while parsing)."""
    if offload.streams and compile:
        raise InputError(f"compile=True cannot be combined with offload={offload.value!r}; drop one of them")


def check_offload_options(
    offload: OffloadMode, *, compile: bool = False, device: torch.device | str | None = None
) -> None:
    """Combinations the transformer loader refuses: torch.compile with streaming (spec B.9), and torch.compile where
    its kernels cannot be built (`ltx_core.toolchain.check_compile_toolchain`; for `device` when known). The one
    place this rule is written: the CLI preflight, the loader and `compile_transformer` all call it. Every
    quantization streams (the official code refuses fp8-scaled-mm there; ours streams its blocks like any other)."""
    check_compile_with_streaming(offload, compile)
    if compile:
        from ltx_core.toolchain import check_compile_toolchain

        check_compile_toolchain(device)


@dataclass(frozen=True)
class ModelFootprint:
    """Bytes of a streamable model once loaded (in its compute dtype / quantization)."""

    block_bytes: int  # all blocks together
    largest_block: int
    other_bytes: int  # weights outside the blocks (always on the device)

    @property
    def total(self) -> int:
        return self.block_bytes + self.other_bytes

    def streaming_device_bytes(self, slots: int = STREAMING_DEVICE_SLOTS) -> int:
        return self.other_bytes + slots * self.largest_block


@dataclass(frozen=True)
class MemoryInfo:
    device_type: str  # "cuda", "mps" or "cpu"
    accelerator_free: int | None  # None without an accelerator
    ram_available: int
    unified: bool = False  # accelerator memory is the host RAM (Apple MPS)


@dataclass(frozen=True)
class OffloadChoice:
    mode: OffloadMode
    vae_tiling: bool
    reason: str

    def describe(self) -> str:
        tiling = "on" if self.vae_tiling else "off"
        return f"offload: {self.mode.value}, VAE tiling {tiling} ({self.reason})"


def estimate_vae_decode_bytes(frames: int, height: int, width: int) -> int:
    """Rough peak of an untiled video decode in bf16: three 128-channel full-resolution activations (a conv's
    input and output plus one temporary); ~34 GiB at 768x512x121."""
    return frames * height * width * 128 * 2 * 3


def _gb(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def choose_offload(
    footprint: ModelFootprint,
    memory: MemoryInfo,
    *,
    activation_bytes: int = DEFAULT_ACTIVATION_BYTES,
    ram_reserve_bytes: int = DEFAULT_RAM_RESERVE_BYTES,
    vae_decode_bytes: int = estimate_vae_decode_bytes(121, 512, 768),
) -> OffloadChoice:
    """Resident when weights + working memory fit the free accelerator memory; else stream from RAM when the blocks
    fit the available RAM (minus a reserve), else from disk. VAE tiling when the free memory of the decoding device
    is below the untiled decode estimate (the transformer is freed before decoding)."""
    total, blocks = footprint.total, footprint.block_bytes
    ram_room = memory.ram_available - ram_reserve_bytes
    if memory.accelerator_free is None:  # CPU compute: weights live in RAM anyway
        tiling = memory.ram_available < vae_decode_bytes
        if total <= ram_room:
            return OffloadChoice(OffloadMode.NONE, tiling, f"CPU device; model {_gb(total)} fits RAM {_gb(ram_room)}")
        return OffloadChoice(
            OffloadMode.DISK, True, f"CPU device; model {_gb(total)} exceeds usable RAM {_gb(ram_room)}"
        )
    free = memory.accelerator_free
    tiling = free < vae_decode_bytes
    need = total + activation_bytes
    if need <= free:
        return OffloadChoice(
            OffloadMode.NONE, tiling, f"model {_gb(total)} + working {_gb(activation_bytes)} fits free {_gb(free)}"
        )
    stream_need = footprint.streaming_device_bytes() + activation_bytes
    warn = "" if stream_need <= free else f"; streaming still needs {_gb(stream_need)}, may run out"
    if memory.unified:  # host copies would live in the same memory: only reading from disk saves anything
        return OffloadChoice(OffloadMode.DISK, True, f"model {_gb(need)} exceeds free unified memory {_gb(free)}{warn}")
    if blocks <= ram_room:
        return OffloadChoice(
            OffloadMode.CPU,
            tiling,
            f"model {_gb(need)} exceeds free {_gb(free)}; blocks {_gb(blocks)} fit usable RAM {_gb(ram_room)}{warn}",
        )
    return OffloadChoice(
        OffloadMode.DISK,
        tiling,
        f"model {_gb(need)} exceeds free {_gb(free)} and blocks {_gb(blocks)} exceed usable RAM {_gb(ram_room)}{warn}",
    )


def available_ram_bytes() -> int:
    """Available host RAM: psutil when installed, else /proc/meminfo MemAvailable, else free pages."""
    if importlib.util.find_spec("psutil") is not None:
        import psutil

        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def probe_memory(device: torch.device | str) -> MemoryInfo:
    """Free memory of `device` and of the host; only the device's own backend is queried."""
    dev = torch.device(device)
    ram = available_ram_bytes()
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        return MemoryInfo("cuda", int(free), ram)
    if dev.type == "mps":
        limit = int(torch.mps.recommended_max_memory())
        used = int(torch.mps.driver_allocated_memory())
        return MemoryInfo("mps", max(0, min(limit - used, ram)), ram, unified=True)
    return MemoryInfo("cpu", None, ram)


def resolve_offload(
    requested: str | OffloadMode | None,
    footprint: ModelFootprint,
    device: torch.device | str,
    *,
    memory: MemoryInfo | None = None,
    echo: Callable[[str], None] | None = print,
    **choose_kwargs: int,
) -> OffloadChoice:
    """The mode to use: the requested one, or for "auto" the `choose_offload` pick, echoed as one line."""
    mode = parse_offload(requested)
    memory = memory if memory is not None else probe_memory(device)
    auto = choose_offload(footprint, memory, **choose_kwargs)
    choice = auto if mode is OffloadMode.AUTO else OffloadChoice(mode, auto.vae_tiling, "requested")
    if echo is not None:
        echo(choice.describe())
    return choice


TEXT_ENCODER_MARGIN_BYTES = 2 * GIB  # Gemma's activations for a 1024-token prompt (49 hidden states kept) and slack


def choose_text_encoder_offload(
    requested: str | OffloadMode | None,
    weight_bytes: int,
    memory: MemoryInfo,
    ram_reserve_bytes: int = DEFAULT_RAM_RESERVE_BYTES,
) -> tuple[str, str]:
    """(placement, why) for Gemma: "resident" on the device, "ram" (decoder layers kept in RAM, uploaded one at a
    time) or "disk" (read from the shards one at a time). `none` keeps it resident; `cpu` and `disk` stream it on an
    accelerator (the official CLI streams Gemma with the same flag), `cpu` falling back to disk when RAM is short;
    `auto` stays resident when the weights plus a margin fit the free accelerator memory, else uses RAM when it
    fits, else disk. Never streamed on the CPU (nothing to stream to) nor on unified memory (no gain)."""
    mode = parse_offload(requested)
    if memory.device_type == "cpu" or memory.accelerator_free is None:
        return "resident", "no accelerator to stream to"
    if memory.unified:
        return "resident", "unified memory: streaming from RAM would save nothing"
    if mode is OffloadMode.NONE:
        return "resident", "offload none"
    need = weight_bytes + TEXT_ENCODER_MARGIN_BYTES
    if mode is OffloadMode.AUTO and need <= memory.accelerator_free:
        return "resident", f"Gemma {_gb(need)} fits the free {_gb(memory.accelerator_free)}"
    free = memory.accelerator_free
    why = f"offload {mode.value}" if mode is not OffloadMode.AUTO else f"Gemma {_gb(need)} exceeds the free {_gb(free)}"
    if mode is OffloadMode.DISK:
        return "disk", why
    if weight_bytes + ram_reserve_bytes <= memory.ram_available:
        return "ram", why
    return "disk", f"{why}; its {_gb(weight_bytes)} do not fit the available RAM {_gb(memory.ram_available)}"
