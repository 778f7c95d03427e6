"""Reading single tensors of a checkpoint straight into caller-owned memory (readinto: no intermediate copy)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader.safetensors_file import Checkpoint, TensorInfo


class TensorReader:
    """Keeps one open handle per shard until `close()`."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self._owner = {k: f.path for f in checkpoint.files for k in f.tensors}
        self._infos = {k: f.tensors[k] for f in checkpoint.files for k in f.tensors}
        self._handles: dict[Path, BinaryIO] = {}

    def info(self, key: str) -> TensorInfo:
        return self._infos[key]

    def _handle(self, key: str) -> BinaryIO:
        path = self._owner[key]
        f = self._handles.get(path)
        if f is None:
            f = self._handles[path] = open(path, "rb")  # noqa: SIM115 - kept open for the provider's lifetime
        return f

    def read_into(self, key: str, dst: torch.Tensor) -> None:
        """Fill the uint8 CPU tensor `dst` (exactly the tensor's byte size) with the stored bytes of `key`."""
        info = self._infos[key]
        if dst.numel() != info.nbytes:
            raise ValueError(f"buffer of {dst.numel()} bytes for tensor {key!r} of {info.nbytes} bytes")
        if not info.nbytes:
            return
        f = self._handle(key)
        f.seek(info.start)
        if f.readinto(memoryview(dst.numpy())) != info.nbytes:
            raise CheckpointError(f"{self._owner[key]}: file is truncated (tensor {key!r} is incomplete)")

    def read(self, key: str) -> torch.Tensor:
        """A fresh CPU tensor with the stored dtype and shape."""
        info = self._infos[key]
        buf = torch.empty(info.nbytes, dtype=torch.uint8)
        self.read_into(key, buf)
        if not info.nbytes:
            return torch.empty(info.shape, dtype=info.dtype)
        return buf.view(info.dtype).reshape(info.shape)

    def close(self) -> None:
        for f in self._handles.values():
            f.close()
        self._handles.clear()
