"""Run a stack of layers whose weights live in host memory (or on disk): each layer's weights are copied to the
compute device just before it runs and dropped right after, so the device holds one layer at a time plus whatever is
outside the stack. Used for Gemma (48 decoder layers, ~24 GB in bf16) on cards that cannot hold it next to nothing else.

The layers compute with exactly the weights they would have resident (a copy is exact), so outputs are bitwise the
resident ones. Host copies are ordinary (pageable) tensors: pinning 24 GB could starve a 32 GB machine, and the
upload time is small next to a text encoding. The transformer has its own, richer streaming (`offload.streaming`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


class LayerOffload:
    """Attach to `layers`; `remove()` detaches. Without `source` the layers' parameters are their host copies; with
    `source(i) → {parameter name: host tensor}` they are placeholders (e.g. meta) and each arrival reads layer i
    afresh (from disk, say), so the host holds no layer between runs. Buffers move to `device` once (small)."""

    def __init__(
        self,
        layers: Sequence[nn.Module],
        device: torch.device | str,
        source: Callable[[int], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.source = source
        self.uploads = 0
        self._handles: list[Any] = []
        for index, layer in enumerate(layers):
            for module in layer.modules():
                for name, buffer in list(module._buffers.items()):
                    if buffer is not None:
                        module._buffers[name] = buffer.to(self.device)
            slots = {
                f"{prefix}.{name}" if prefix else name: (module, name, p)
                for prefix, module in layer.named_modules()
                for name, p in module._parameters.items()
                if p is not None
            }
            self._handles.append(layer.register_forward_pre_hook(self._arrive(index, slots)))
            self._handles.append(layer.register_forward_hook(self._leave(slots)))

    def _arrive(self, index: int, slots: dict[str, tuple[nn.Module, str, nn.Parameter]]) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            values = self.source(index) if self.source is not None else {k: p for k, (_m, _n, p) in slots.items()}
            for key, (module, name, _placeholder) in slots.items():
                module._parameters[name] = nn.Parameter(values[key].detach().to(self.device), requires_grad=False)
            self.uploads += 1

        return hook

    def _leave(self, slots: dict[str, tuple[nn.Module, str, nn.Parameter]]) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any, _output: Any) -> None:
            for module, name, placeholder in slots.values():
                module._parameters[name] = placeholder

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def offload_layers(model: nn.Module, layers: nn.ModuleList, device: torch.device | str) -> LayerOffload:
    """Move everything of `model` except `layers` to `device` and stream `layers` from the host."""
    placeholder = nn.ModuleList()
    parent, attr = _owner_of(model, layers)
    setattr(parent, attr, placeholder)
    try:
        model.to(device)
    finally:
        setattr(parent, attr, layers)
    return LayerOffload(list(layers), device)


def _owner_of(model: nn.Module, target: nn.Module) -> tuple[nn.Module, str]:
    for module in model.modules():
        for name, child in module.named_children():
            if child is target:
                return module, name
    raise ValueError("the layers are not part of the model")
