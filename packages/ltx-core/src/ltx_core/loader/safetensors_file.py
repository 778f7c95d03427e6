"""Reading safetensors files: header, metadata, and tensors one at a time.

We parse the (tiny, JSON) header ourselves and read each tensor with `readinto` into its final buffer. That keeps
peak host memory at one copy of the weights (no mmap pages counted twice) and lets us refuse anything that is not a
well-formed safetensors file (a pickle, a truncated download) with a clear message before touching the model.
Only safetensors are ever read: there is no code path that unpickles.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError

_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
DTYPE_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in _DTYPES.items()}  # for writers
_MAX_HEADER = 100 * 1024 * 1024
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK\x03\x04")


@dataclass(frozen=True)
class TensorInfo:
    """Where a tensor sits in its file."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int  # absolute byte offset in the file
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


class SafetensorsFile:
    """One safetensors file: validated header, metadata, and per-tensor reads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise CheckpointError(f"File not found: {self.path}")
        if self.path.is_dir():
            raise CheckpointError(f"Expected a .safetensors file but got a folder: {self.path}")
        self._tensors, self.metadata = _read_header(self.path)

    @property
    def tensors(self) -> dict[str, TensorInfo]:
        return self._tensors

    def keys(self) -> list[str]:
        return list(self._tensors)

    @cached_property
    def config(self) -> dict[str, Any]:
        """The JSON `config` metadata entry ({} when absent)."""
        raw = self.metadata.get("config")
        if raw is None:
            return {}
        try:
            cfg = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{self.path}: metadata 'config' is not valid JSON ({exc.msg})") from None
        if not isinstance(cfg, dict):
            raise CheckpointError(f"{self.path}: metadata 'config' is not a JSON object")
        return cfg

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self._tensors.values())

    def read(self, name: str, device: torch.device | str = "cpu") -> torch.Tensor:
        """Read one tensor into a fresh buffer (on CPU, then moved to `device` if it is not the CPU)."""
        with open(self.path, "rb") as f:
            return self._read_from(f, self._tensors[name], device)

    def iter_tensors(
        self, names: Sequence[str] | None = None, device: torch.device | str = "cpu"
    ) -> Iterator[tuple[str, torch.Tensor]]:
        """Yield tensors in file order, one open file handle for all of them."""
        infos = [self._tensors[n] for n in names] if names is not None else list(self._tensors.values())
        infos.sort(key=lambda t: t.start)
        with open(self.path, "rb") as f:
            for info in infos:
                yield info.name, self._read_from(f, info, device)

    def _read_from(self, f: Any, info: TensorInfo, device: torch.device | str) -> torch.Tensor:
        buf = torch.empty(info.nbytes, dtype=torch.uint8)
        f.seek(info.start)
        if info.nbytes and f.readinto(memoryview(buf.numpy())) != info.nbytes:
            raise CheckpointError(f"{self.path}: file is truncated (tensor {info.name!r} is incomplete)")
        tensor = buf.view(info.dtype).reshape(info.shape) if info.nbytes else torch.empty(info.shape, dtype=info.dtype)
        if torch.device(device).type != "cpu":
            tensor = tensor.to(device)
        return tensor


def _read_header(path: Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
        if len(head) < 9:
            raise CheckpointError(f"{path}: not a safetensors file (too short: {size} bytes)")
        (header_len,) = struct.unpack("<Q", head[:8])
        plausible = 0 < header_len <= _MAX_HEADER and 8 + header_len <= size and head[8:9] == b"{"
        # A header length's low bytes can spell a pickle's magic (1408 = b"\x80\x05"): only a file that is not a
        # plausible safetensors file is called a pickle.
        if not plausible and head.startswith(_PICKLE_MAGIC):
            raise CheckpointError(
                f"{path}: this is a pickle/PyTorch file; only .safetensors checkpoints are supported "
                "(pickles can run arbitrary code and are never loaded)"
            )
        if not plausible:
            raise CheckpointError(f"{path}: not a valid safetensors file (corrupt or truncated header)")
        raw = head[8:] + f.read(header_len - 1)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a valid safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a valid safetensors file (header is not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    data_start = 8 + header_len
    tensors: dict[str, TensorInfo] = {}
    data_end = data_start
    for name, entry in header.items():
        try:
            dtype = _DTYPES[entry["dtype"]]
            shape = tuple(int(s) for s in entry["shape"])
            start, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: not a valid safetensors file (bad entry for {name!r})") from None
        numel = 1
        for s in shape:
            numel *= s
        if end - start != numel * dtype.itemsize or start < 0:
            raise CheckpointError(f"{path}: corrupt safetensors file (size mismatch for tensor {name!r})")
        tensors[name] = TensorInfo(name, dtype, shape, data_start + start, data_start + end)
        data_end = max(data_end, data_start + end)
    if data_end > size:
        raise CheckpointError(f"{path}: file is truncated ({size} bytes, header promises {data_end})")
    return tensors, {str(k): str(v) for k, v in metadata.items()}


class Checkpoint:
    """A checkpoint given as one file or several shards; metadata comes from the first shard."""

    def __init__(self, paths: str | Path | Sequence[str | Path]) -> None:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not paths:
            raise CheckpointError("No checkpoint file given")
        self.files = [SafetensorsFile(p) for p in paths]
        self._owners: dict[str, SafetensorsFile] | None = None

    @property
    def path(self) -> Path:
        return self.files[0].path

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(f.path for f in self.files)

    @property
    def config(self) -> dict[str, Any]:
        return self.files[0].config

    @property
    def metadata(self) -> dict[str, str]:
        return self.files[0].metadata

    def keys(self) -> list[str]:
        """All tensor names; a later shard's duplicate wins, as in the official loader."""
        return list(self._owner())

    def _owner(self) -> dict[str, SafetensorsFile]:
        if self._owners is None:
            owner: dict[str, SafetensorsFile] = {}
            for f in self.files:
                for k in f.tensors:
                    owner[k] = f
            self._owners = owner
        return self._owners

    def info(self, name: str) -> TensorInfo:
        return self._owner()[name].tensors[name]

    def read(self, name: str, device: torch.device | str = "cpu") -> torch.Tensor:
        """One tensor, from the shard that owns it."""
        return self._owner()[name].read(name, device)

    def iter_tensors(
        self, names: Sequence[str], device: torch.device | str = "cpu"
    ) -> Iterator[tuple[str, torch.Tensor]]:
        owner = self._owner()
        by_file: dict[int, list[str]] = {}
        for n in names:
            by_file.setdefault(id(owner[n]), []).append(n)
        for f in self.files:
            if id(f) in by_file:
                yield from f.iter_tensors(by_file[id(f)], device)


class PrefixedCheckpoint(Checkpoint):
    """A checkpoint seen with `prefix` before every key: a split component file stored without its prefix (a video
    VAE as bare `encoder.*` / `decoder.*`) reads through the component's usual key map."""

    def __init__(self, base: Checkpoint, prefix: str) -> None:
        self.base, self.prefix = base, prefix
        self.files = base.files
        self._owners = None

    def _base_name(self, name: str) -> str:
        if not name.startswith(self.prefix):
            raise KeyError(name)
        return name[len(self.prefix) :]

    def keys(self) -> list[str]:
        return [self.prefix + k for k in self.base.keys()]

    def info(self, name: str) -> TensorInfo:
        return self.base.info(self._base_name(name))

    def read(self, name: str, device: torch.device | str = "cpu") -> torch.Tensor:
        return self.base.read(self._base_name(name), device)

    def iter_tensors(
        self, names: Sequence[str], device: torch.device | str = "cpu"
    ) -> Iterator[tuple[str, torch.Tensor]]:
        for name, tensor in self.base.iter_tensors([self._base_name(n) for n in names], device):
            yield self.prefix + name, tensor


def open_checkpoint(paths: str | Path | Sequence[str | Path] | Checkpoint) -> Checkpoint:
    return paths if isinstance(paths, Checkpoint) else Checkpoint(paths)
