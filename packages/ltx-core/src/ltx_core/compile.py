"""torch.compile of the transformer blocks (spec B.9 / transformer §13.1): each block compiled on its own, in
place (`nn.Module.compile`, so parameter names and checkpoint keys do not change), and the model's forward run
under the official dynamo/inductor settings. No numerical intent: compiled kernels may round differently.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from torch import nn

from ltx_core import toolchain
from ltx_core.errors import InputError

# The official settings: blocks differ only by their index, so many graphs share one cache; guards on dynamic
# shapes are skipped for cache hits.
_DYNAMO_PATCHES: dict[str, Any] = {
    "inline_inbuilt_nn_modules": True,
    "cache_size_limit": 256,
    "allow_unspec_int_on_nn_module": True,
}
_INDUCTOR_PATCHES: dict[str, Any] = {"unsafe_skip_cache_dynamic_shape_guards": True}


@contextlib.contextmanager
def compile_settings() -> Iterator[None]:
    """The config patches, limited to the options this PyTorch version has."""
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    with contextlib.ExitStack() as stack:
        for cfg, patches in ((dynamo_config, _DYNAMO_PATCHES), (inductor_config, _INDUCTOR_PATCHES)):
            with warnings.catch_warnings():  # options that newer versions deprecate (always on) still apply
                warnings.simplefilter("ignore", FutureWarning)
                known = {k: v for k, v in patches.items() if hasattr(cfg, k)}
            if known:
                stack.enter_context(cfg.patch(**known))
        yield


def is_compiled(model: nn.Module) -> bool:
    return hasattr(model, "forward_without_compilation")


def compile_transformer(
    model: nn.Module,
    *,
    backend: str | Callable[..., Any] = "inductor",
    mode: str | None = None,
    dynamic: bool | None = None,
    fullgraph: bool = False,
) -> nn.Module:
    """Compile every block of a resident transformer in place and return it. Streaming models are refused."""
    from ltx_core.offload.policy import check_offload_options, parse_offload
    from ltx_core.offload.streaming.wrapper import BlockStreamingWrapper

    if isinstance(model, BlockStreamingWrapper):
        check_offload_options(parse_offload(model.mode), compile=True)  # refuses: the one no-streaming rule
    blocks = getattr(model, "transformer_blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        raise InputError(f"compile_transformer expects an LTXModel, got {type(model).__name__}")
    if is_compiled(model):
        return model
    if backend == "inductor":
        toolchain.check_compile_toolchain(next(model.parameters()).device)
    kwargs: dict[str, Any] = {"backend": backend, "dynamic": dynamic, "fullgraph": fullgraph}
    if mode is not None:
        kwargs["mode"] = mode
    for block in blocks:
        block.compile(**kwargs)
    original = model.forward

    @functools.wraps(original)
    def forward(*args: Any, **kw: Any) -> Any:
        with compile_settings():
            return original(*args, **kw)

    model.forward_without_compilation = original
    model.forward = forward
    return model
