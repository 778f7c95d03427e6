"""The streaming transformer: an LTXModel whose blocks borrow their weights from the device cache while they run.

A forward pre-hook on each block swaps the block's (meta) parameters for views of its device copy and starts the
upload of the next block (the last block prefetches the first, for the next step); a forward hook
marks the block done (for buffer reuse) and puts the meta placeholders back, so a block can never run on stale
weights. Everything else (non-block weights, the forward itself) is the resident model's code, hence the same math.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from types import TracebackType
from typing import Any

import torch
from torch import nn

from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.model.transformer.config import TransformerConfig
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model import LTXModel
from ltx_core.offload.streaming.device_cache import DeviceBlockCache
from ltx_core.offload.streaming.providers import BlockProvider
from ltx_core.offload.streaming.reader import TensorReader


def _owner(block: nn.Module, name: str) -> tuple[nn.Module, str]:
    *path, leaf = name.split(".")
    module = block
    for part in path:
        module = getattr(module, part)
    return module, leaf


class BlockStreamingWrapper(nn.Module):
    """Call it like LTXModel: `(video, audio, perturbations) → (video velocity, audio velocity)`. Use as a context
    manager, or call `close()`, to free the device pool, host buffers and file handles."""

    def __init__(
        self,
        model: LTXModel,
        cache: DeviceBlockCache,
        provider: BlockProvider,
        reader: TensorReader,
        mode: str,
    ) -> None:
        super().__init__()
        self.model = model
        self.mode = mode
        self._cache: DeviceBlockCache | None = cache
        self._provider: BlockProvider | None = provider
        self._reader: TensorReader | None = reader
        self._hooks: list[Any] = []
        self._num_blocks = len(model.transformer_blocks)
        for index, block in enumerate(model.transformer_blocks):
            names = [s.name for s in provider.layouts[index].slots]
            owners = {n: _owner(block, n) for n in names}
            placeholders = {n: getattr(m, leaf) for n, (m, leaf) in owners.items()}
            self._hooks.append(block.register_forward_pre_hook(self._pre_hook(index, owners)))
            self._hooks.append(block.register_forward_hook(self._post_hook(index, owners, placeholders)))

    @property
    def config(self) -> TransformerConfig:
        return self.model.config

    @property
    def closed(self) -> bool:
        return self._cache is None

    @property
    def uploads(self) -> int:
        """How many block uploads happened so far (a measure of streaming traffic)."""
        return self._cache.uploads if self._cache is not None else 0

    @property
    def host_bytes(self) -> int:
        return int(getattr(self._provider, "nbytes", 0))

    @property
    def device_pool_bytes(self) -> int:
        return self._cache.nbytes if self._cache is not None else 0

    def to(self, *args: Any, **kwargs: Any) -> BlockStreamingWrapper:  # type: ignore[override]
        """A no-op for the device it streams to (pipelines call `.to(device)` on every model); anything else would
        move the meta placeholders, so it is refused."""
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        if dtype is not None or (device is not None and self._cache is not None and device != self._cache.device):
            target = device if device is not None else dtype
            raise RuntimeError(f"a streaming transformer cannot be moved or cast (asked for {target}); rebuild it")
        return self

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> BlockStreamingWrapper:
        """Moves and casts that reach this module through a parent (e.g. `X0Model(model).to(device)`) are ignored:
        the stream owns where the weights live."""
        return self

    def set_attention_kernel(self, name: str) -> None:
        self.model.set_attention_kernel(name)

    def _pre_hook(self, index: int, owners: dict[str, tuple[nn.Module, str]]) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            if self._cache is None:
                raise RuntimeError("this streaming transformer was closed; build a new one")
            for name, tensor in self._cache.get(index).items():
                module, leaf = owners[name]
                module._parameters[leaf] = nn.Parameter(tensor, requires_grad=False)
            self._cache.prefetch((index + 1) % self._num_blocks, running=index)

        return hook

    def _post_hook(
        self, index: int, owners: dict[str, tuple[nn.Module, str]], placeholders: dict[str, nn.Parameter]
    ) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any, _output: Any) -> None:
            if self._cache is not None:
                self._cache.mark_done(index)
            for name, (module, leaf) in owners.items():
                module._parameters[leaf] = placeholders[name]

        return hook

    def forward(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbationConfig | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self._cache is None:
            raise RuntimeError("this streaming transformer was closed; build a new one")
        return self.model(video, audio, perturbations)

    def close(self) -> None:
        """Free everything: hooks, device pool, host buffers, open files; the weights go to the meta device."""
        if self._cache is None:
            return
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
        cuda = self._cache.cuda
        self._cache.close()
        self._cache = None
        if self._provider is not None:
            self._provider.close()
            self._provider = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.model.to("meta")
        free_memory(cuda)

    def __enter__(self) -> BlockStreamingWrapper:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def free_memory(cuda: bool) -> None:
    """gc, then return cached device and pinned host memory to the system (spec B.12)."""
    gc.collect()
    if not cuda or not torch.cuda.is_available():
        return
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    host_empty = getattr(torch._C, "_host_emptyCache", None)
    if host_empty is not None:
        with contextlib.suppress(RuntimeError):
            host_empty()
