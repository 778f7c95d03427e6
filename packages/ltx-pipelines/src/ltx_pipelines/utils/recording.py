"""Recording intermediate tensors under the golden-case names (parity tests, debugging).

A recorder is a plain `fn(name, tensor)`. A pipeline's `record=` keyword is set once per call (`pipeline_call`)
as the current recorder; the helpers that record (image, reference and source encoding) read it with
`current_recorder()`, and a `recording_under("stage1_")` block adds a prefix (or suffix) for what runs inside it, so
no helper takes a `record` parameter. `DiffusionStage` takes its recorder explicitly from the call's `Run` and records
the states, the per-call x0 predictions (through the loop callback `CallRecorder`) and the attention mask. Without a
recorder nothing is kept or copied.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import torch

from ltx_pipelines.utils.denoisers import PASS_ORDER, DenoisedLatentResult, DenoiserOutput
from ltx_pipelines.utils.samplers import DenoiserCall, StepDone

Recorder = Callable[[str, torch.Tensor], None]  # (name, tensor): intermediate states, for tests and debugging
EncodeFn = Callable[..., torch.Tensor]  # pixels (and optional tiling) → latent
P = ParamSpec("P")
R = TypeVar("R")

_CURRENT: ContextVar[Recorder | None] = ContextVar("ltx_pipelines_recorder", default=None)


def current_recorder() -> Recorder | None:
    """The recorder of the pipeline call in progress, with the prefixes and suffixes of the `recording_under` blocks
    around this point; None outside a call or when the call records nothing."""
    return _CURRENT.get()


@contextmanager
def recording(record: Recorder | None) -> Iterator[Recorder | None]:
    """Within the block, `current_recorder()` is `record`."""
    token = _CURRENT.set(record)
    try:
        yield record
    finally:
        _CURRENT.reset(token)


def recording_under(prefix: str = "", suffix: str = "") -> contextlib.AbstractContextManager[Recorder | None]:
    """Within the block, the current recorder adds `prefix` / `suffix` to every name (`stage1_`, `_0`)."""
    return recording(suffixed(prefixed(current_recorder(), prefix), suffix))


def pipeline_call(call: Callable[P, R]) -> Callable[P, R]:
    """Decorates a pipeline's `__call__`: it runs under `torch.inference_mode()`, and its `record=` keyword is the
    current recorder for the whole call (the one place a recorder enters the engine)."""

    @functools.wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.inference_mode(), recording(kwargs.get("record")):  # type: ignore[arg-type]
            return call(*args, **kwargs)

    return wrapper


def prefixed(record: Recorder | None, prefix: str) -> Recorder | None:
    """`record` with `prefix` added to every name (`stage1_`, `stage2_`); None stays None."""
    if record is None or not prefix:
        return record
    return lambda name, tensor: record(prefix + name, tensor)


def suffixed(record: Recorder | None, suffix: str) -> Recorder | None:
    """`record` with `suffix` added to every name (`_0`, `_1` for several references); None stays None."""
    if record is None or not suffix:
        return record
    return lambda name, tensor: record(name + suffix, tensor)


def recorded_encoder(encode: EncodeFn, count: int, name: str = "image") -> EncodeFn:
    """`encode`, recording `{name}_pixels` and `{name}_latent` per call (suffixed `_i` when `count` > 1) to the
    current recorder."""
    record = current_recorder()
    if record is None:
        return encode
    index = iter(range(count))

    def wrapped(pixels: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        suffix = "" if count == 1 else f"_{next(index)}"
        latent = encode(pixels, *args, **kwargs)
        record(f"{name}_pixels{suffix}", pixels)
        record(f"{name}_latent{suffix}", latent)
        return latent

    return wrapped


@dataclass
class CallRecorder:
    """A loop callback keeping each denoiser call's sigma, step index, input tokens and predictions; `flush(record)`
    hands them over as `calls_sigma`, `calls_step_index`, `calls_{video,audio}_in`, `calls_{video,audio}_denoised`,
    `calls_*_skipped` and, for the guidance passes that ran in some call, `calls_*_{cond,uncond,ptb,mod}` (zeros
    where a call skipped the pass)."""

    calls: list[tuple[torch.Tensor, int, DenoiserOutput]] = field(default_factory=list)
    inputs: list[tuple[torch.Tensor | None, torch.Tensor | None]] = field(default_factory=list)

    def __call__(self, event: DenoiserCall | StepDone) -> None:
        if isinstance(event, DenoiserCall):
            sigma = event.sigmas.sigmas[event.step_index].detach().clone().float()
            self.calls.append((sigma, event.step_index, (event.video, event.audio)))
            self.inputs.append(
                tuple(None if t is None else t.detach().clone() for t in (event.video_in, event.audio_in))
            )

    def flush(self, record: Recorder | None) -> None:
        calls, self.calls = self.calls, []
        inputs, self.inputs = self.inputs, []
        if record is None or not calls:
            return
        record("calls_sigma", torch.stack([c[0] for c in calls]))
        record("calls_step_index", torch.tensor([c[1] for c in calls], dtype=torch.int64))
        for index, modality in enumerate(("video", "audio")):
            given = [i[index] for i in inputs]
            if given and all(t is not None for t in given):
                record(f"calls_{modality}_in", torch.stack(given))  # type: ignore[arg-type]
            results: list[DenoisedLatentResult | None] = [c[2][index] for c in calls]
            if any(r is None for r in results):
                continue
            present = [r for r in results if r is not None]
            record(f"calls_{modality}_denoised", torch.stack([r.denoised for r in present]))
            record(f"calls_{modality}_skipped", torch.tensor([r.skipped for r in present]))
            for pass_name in PASS_ORDER:
                preds = [getattr(r, pass_name) for r in present]
                ran = [p for p in preds if p is not None]
                if ran:
                    filler = torch.zeros_like(ran[0])  # a call where the guider skipped the step ran no pass
                    record(f"calls_{modality}_{pass_name}", torch.stack([filler if p is None else p for p in preds]))
