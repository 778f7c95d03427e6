"""Recording intermediate tensors under the golden-case names (parity tests, debugging).

A recorder is a plain `fn(name, tensor)`. Pipelines pass it down; `DiffusionStage` records the states, the
per-call x0 predictions (through the loop callback `CallRecorder`) and the attention mask; the helpers here add
prefixes and suffixes (`stage1_`, `_0`) and record what an encoder sees. Without a recorder nothing is kept or copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ltx_pipelines.utils.denoisers import PASS_ORDER, DenoisedLatentResult, DenoiserOutput
from ltx_pipelines.utils.samplers import DenoiserCall, StepDone

Recorder = Callable[[str, torch.Tensor], None]  # (name, tensor): intermediate states, for tests and debugging
EncodeFn = Callable[..., torch.Tensor]  # pixels (and optional tiling) → latent


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


def recorded_encoder(encode: EncodeFn, record: Recorder | None, count: int, name: str = "image") -> EncodeFn:
    """`encode`, recording `{name}_pixels` and `{name}_latent` per call (suffixed `_i` when `count` > 1)."""
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
    """A loop callback keeping each denoiser call's sigma, step index and predictions; `flush(record)` hands them
    over as `calls_sigma`, `calls_step_index`, `calls_{video,audio}_denoised`, `calls_*_skipped` and, for the
    guidance passes that ran in some call, `calls_*_{cond,uncond,ptb,mod}` (zeros where a call skipped the pass)."""

    calls: list[tuple[torch.Tensor, int, DenoiserOutput]] = field(default_factory=list)

    def __call__(self, event: DenoiserCall | StepDone) -> None:
        if isinstance(event, DenoiserCall):
            sigma = event.sigmas.sigmas[event.step_index].detach().clone().float()
            self.calls.append((sigma, event.step_index, (event.video, event.audio)))

    def flush(self, record: Recorder | None) -> None:
        calls, self.calls = self.calls, []
        if record is None or not calls:
            return
        record("calls_sigma", torch.stack([c[0] for c in calls]))
        record("calls_step_index", torch.tensor([c[1] for c in calls], dtype=torch.int64))
        for index, modality in enumerate(("video", "audio")):
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
