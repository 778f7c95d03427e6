"""Denoisers: from the current states to x0 predictions, with or without multi-modal guidance.

All guidance passes of a step (cond, uncond, ptb, mod — each only if some guider needs it) are stacked along the
batch in that order and sent as one transformer call with a per-sample perturbation config; the wrapped model
(usually a `BatchSplitAdapter`) decides how many rows run together.

Every call takes the run's `numerics` (the stage passes it): the guiders compute as that release did (delta A.6),
a frozen stream's σ is 0 or its step σ (A.2, `stream_modality`), and the simple denoiser's σ one per sample or 0-d
(A.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch

from ltx_core.batch_split import X0Callable
from ltx_core.components.guiders import (
    POSITIVE_ONLY_GUIDER,
    MultiModalGuider,
    MultiModalGuiderFactory,
)
from ltx_core.components.modality_input import modality_from_latent_state
from ltx_core.errors import InputError
from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig,
    Perturbation,
    PerturbationConfig,
    PerturbationType,
)
from ltx_core.model.transformer.modality import Modality
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.types import LatentState

PASS_ORDER = ("cond", "uncond", "ptb", "mod")


@dataclass(frozen=True)
class Schedule:
    """A sigma schedule on both sides: `sigmas` on the states' device for the math, `values` (the same numbers as
    Python floats) for control flow, so that no step reads a value back from the device (a host sync on CUDA)."""

    sigmas: torch.Tensor
    values: tuple[float, ...]

    @classmethod
    def of(cls, sigmas: torch.Tensor | Sequence[float], device: torch.device | str | None = None) -> Schedule:
        """float32 sigmas on `device` (default: where they are), read to the host once, here."""
        tensor = torch.as_tensor(sigmas).detach().to(torch.float32)
        values = tuple(tensor.cpu().tolist())
        return cls(tensor if device is None else tensor.to(device), values)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class DenoisedLatentResult:
    """The x0 a sampler uses (`denoised`) plus the raw per-pass predictions (None where a pass did not run)."""

    denoised: torch.Tensor
    cond: torch.Tensor | None = None
    uncond: torch.Tensor | None = None
    ptb: torch.Tensor | None = None
    mod: torch.Tensor | None = None
    skipped: bool = False  # the guider skipped this step: `denoised` is the previous step's


DenoiserOutput = tuple[DenoisedLatentResult | None, DenoisedLatentResult | None]


class Denoiser(Protocol):
    def __call__(
        self,
        transformer: X0Callable,
        video_state: LatentState | None,
        audio_state: LatentState | None,
        sigmas: Schedule,
        step_index: int,
        *,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> DenoiserOutput: ...


@dataclass
class SimpleDenoiser:
    """One conditional pass, no guidance (distilled stages and every stage 2)."""

    video_context: torch.Tensor | None
    audio_context: torch.Tensor | None

    def __call__(
        self,
        transformer: X0Callable,
        video_state: LatentState | None,
        audio_state: LatentState | None,
        sigmas: Schedule,
        step_index: int,
        *,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> DenoiserOutput:
        sigma = sigmas.sigmas[step_index]
        video = _single_modality(video_state, self.video_context, sigma, "video", numerics)
        audio = _single_modality(audio_state, self.audio_context, sigma, "audio", numerics)
        v_out, a_out = transformer(video, audio, None)
        return (
            None if video_state is None else DenoisedLatentResult(denoised=v_out, cond=v_out),
            None if audio_state is None else DenoisedLatentResult(denoised=a_out, cond=a_out),
        )


def _single_modality(
    state: LatentState | None, context: torch.Tensor | None, sigma: torch.Tensor, name: str, numerics: Numerics
) -> Modality | None:
    """The simple denoiser's stream input. 1.2.0 passes σ as one value per sample (delta A.3): the same values,
    but a dimensioned σ promotes the per-token timesteps to its dtype (float64 in res_2s sub-steps), where 1.1.3's
    0-d σ left them float32."""
    if state is None:
        return None
    if context is None:
        raise InputError(f"the {name} state is present but no {name} context was given")
    if numerics.simple_denoiser_sigma_per_sample:
        sigma = sigma.expand(state.latent.shape[0])
    return stream_modality(state, context, sigma, numerics)


def stream_modality(
    state: LatentState, context: torch.Tensor, sigma: torch.Tensor, numerics: Numerics, enabled: bool = True
) -> Modality:
    """One stream's transformer input. A frozen stream gets σ = 0 under 1.2.0 (delta A.2: its prompt AdaLN and the
    other stream's A↔V gate then see 0); its per-token timesteps are 0 either way (mask 0)."""
    if state.frozen and numerics.frozen_stream_sigma_zero:
        sigma = torch.zeros_like(sigma)
    return modality_from_latent_state(state, context, sigma, enabled=enabled)


@dataclass(frozen=True)
class _Pass:
    name: str
    video_context: torch.Tensor | None
    audio_context: torch.Tensor | None
    perturbation: PerturbationConfig


def _needs_uncond(guider: MultiModalGuider, present: bool, force: bool) -> bool:
    return present and (guider.do_unconditional_generation() or force)


def _plan_passes(
    video_guider: MultiModalGuider,
    audio_guider: MultiModalGuider,
    video_context: torch.Tensor | None,
    audio_context: torch.Tensor | None,
    video_present: bool,
    audio_present: bool,
    force_uncond_pass: bool,
) -> list[_Pass]:
    passes = [_Pass("cond", video_context, audio_context, PerturbationConfig.empty())]

    v_uncond = _needs_uncond(video_guider, video_present, force_uncond_pass)
    a_uncond = _needs_uncond(audio_guider, audio_present, force_uncond_pass)
    if v_uncond or a_uncond:
        for needed, guider, name in ((v_uncond, video_guider, "video"), (a_uncond, audio_guider, "audio")):
            if needed and guider.negative_context is None:
                raise InputError(
                    f"{name} guidance needs an unconditional pass but no negative {name} context was given"
                )
        v_neg = video_guider.negative_context if video_guider.negative_context is not None else video_context
        a_neg = audio_guider.negative_context if audio_guider.negative_context is not None else audio_context
        passes.append(_Pass("uncond", v_neg, a_neg, PerturbationConfig.empty()))

    if video_guider.do_perturbed_generation() or audio_guider.do_perturbed_generation():
        ptb: list[Perturbation] = []
        if video_guider.do_perturbed_generation():
            ptb.append(Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, video_guider.params.stg_blocks))
        if audio_guider.do_perturbed_generation():
            ptb.append(Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, audio_guider.params.stg_blocks))
        passes.append(_Pass("ptb", video_context, audio_context, PerturbationConfig(tuple(ptb))))

    if video_guider.do_isolated_modality_generation() or audio_guider.do_isolated_modality_generation():
        isolate = (
            Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN, None),
            Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN, None),
        )
        passes.append(_Pass("mod", video_context, audio_context, PerturbationConfig(isolate)))
    return passes


def _tile(x: torch.Tensor, n: int) -> torch.Tensor:
    """[item0 … itemB−1] repeated n times along the batch."""
    return x.repeat(n, *([1] * (x.dim() - 1)))


def _batched_modality(
    state: LatentState | None,
    contexts: list[torch.Tensor | None],
    sigma: torch.Tensor,
    enabled: bool,
    numerics: Numerics,
) -> Modality | None:
    """The passes' stream inputs stacked along the batch (the state repeated, frozen or not, per pass)."""
    if state is None:
        return None
    n = len(contexts)
    batch = state.latent.shape[0]
    tiled = state.with_(
        latent=_tile(state.latent, n),
        denoise_mask=_tile(state.denoise_mask, n),
        positions=_tile(state.positions, n),
        clean_latent=_tile(state.clean_latent, n),
        attention_mask=None if state.attention_mask is None else _tile(state.attention_mask, n),
        keyframes_mask=None if state.keyframes_mask is None else _tile(state.keyframes_mask, n),
    )
    context = torch.cat([c for c in contexts if c is not None], dim=0)
    return stream_modality(tiled, context, sigma.reshape(1).expand(n * batch), numerics, enabled=enabled)


def guided_denoise(
    transformer: X0Callable,
    video_state: LatentState | None,
    audio_state: LatentState | None,
    sigma: torch.Tensor,
    video_guider: MultiModalGuider,
    audio_guider: MultiModalGuider,
    video_context: torch.Tensor | None,
    audio_context: torch.Tensor | None,
    last_video: torch.Tensor | None,
    last_audio: torch.Tensor | None,
    step_index: int,
    force_uncond_pass: bool = False,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> DenoiserOutput:
    """The routine shared by the guided denoisers: plan passes, one batched call, split, blend."""
    video_present, audio_present = video_state is not None, audio_state is not None
    if not video_present:
        video_guider = POSITIVE_ONLY_GUIDER
    if not audio_present:
        audio_guider = POSITIVE_ONLY_GUIDER
    # A skip needs a previous guided x0 to reuse; without one (first call) the modality is evaluated.
    v_skip = video_present and last_video is not None and video_guider.should_skip_step(step_index)
    a_skip = audio_present and last_audio is not None and audio_guider.should_skip_step(step_index)
    if (v_skip or not video_present) and (a_skip or not audio_present):
        return (
            DenoisedLatentResult(denoised=last_video, skipped=True) if video_present else None,
            DenoisedLatentResult(denoised=last_audio, skipped=True) if audio_present else None,
        )
    if video_present and video_context is None:
        raise InputError("the video state is present but no video context was given")
    if audio_present and audio_context is None:
        raise InputError("the audio state is present but no audio context was given")

    passes = _plan_passes(
        video_guider, audio_guider, video_context, audio_context, video_present, audio_present, force_uncond_pass
    )
    video = _batched_modality(video_state, [p.video_context for p in passes], sigma, not v_skip, numerics)
    audio = _batched_modality(audio_state, [p.audio_context for p in passes], sigma, not a_skip, numerics)
    batch = (video_state or audio_state).latent.shape[0]  # type: ignore[union-attr]
    perturbations = BatchedPerturbationConfig.of([p.perturbation for p in passes for _ in range(batch)])
    v_out, a_out = transformer(video, audio, perturbations)

    names = [p.name for p in passes]
    return (
        _guided_result(v_out, names, batch, video_guider, v_skip, last_video) if video_present else None,
        _guided_result(a_out, names, batch, audio_guider, a_skip, last_audio) if audio_present else None,
    )


def _guided_result(
    out: torch.Tensor | None,
    names: list[str],
    batch: int,
    guider: MultiModalGuider,
    skip: bool,
    last: torch.Tensor | None,
) -> DenoisedLatentResult:
    if out is None:
        raise RuntimeError("the transformer returned no output for a modality it was given")
    chunks = dict(zip(names, out.split(batch, dim=0), strict=True))
    preds = {name: chunks.get(name) for name in PASS_ORDER}
    if skip:
        denoised = last
    else:
        denoised = guider.calculate(
            preds["cond"],
            0.0 if preds["uncond"] is None else preds["uncond"],
            0.0 if preds["ptb"] is None else preds["ptb"],
            0.0 if preds["mod"] is None else preds["mod"],
        )
    return DenoisedLatentResult(denoised=denoised, skipped=skip, **preds)


@dataclass
class _Guided:
    """The fields and the call both guided denoisers share; a subclass says which guiders apply at a sigma
    (`_guiders`). The previous step's guided x0 (`_last_*`) is what a skipped step reuses."""

    video_context: torch.Tensor | None
    audio_context: torch.Tensor | None
    force_uncond_pass: bool = field(default=False, kw_only=True)
    _last_video: torch.Tensor | None = field(default=None, init=False, repr=False)
    _last_audio: torch.Tensor | None = field(default=None, init=False, repr=False)

    def _guiders(self, sigma: float) -> tuple[MultiModalGuider, MultiModalGuider]:
        raise NotImplementedError

    def __call__(
        self,
        transformer: X0Callable,
        video_state: LatentState | None,
        audio_state: LatentState | None,
        sigmas: Schedule,
        step_index: int,
        *,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> DenoiserOutput:
        video_guider, audio_guider = (_with(g, numerics) for g in self._guiders(sigmas.values[step_index]))
        out = guided_denoise(
            transformer,
            video_state,
            audio_state,
            sigmas.sigmas[step_index],
            video_guider,
            audio_guider,
            self.video_context,
            self.audio_context,
            self._last_video,
            self._last_audio,
            step_index,
            self.force_uncond_pass,
            numerics,
        )
        if out[0] is not None:
            self._last_video = out[0].denoised
        if out[1] is not None:
            self._last_audio = out[1].denoised
        return out


def _with(guider: MultiModalGuider, numerics: Numerics) -> MultiModalGuider:
    """`guider` computing as `numerics` says (the run's release, whatever the guider was made with)."""
    return guider if guider.numerics == numerics else replace(guider, numerics=numerics)


@dataclass
class GuidedDenoiser(_Guided):
    """Static guiders; an absent guider means positive-only for that modality."""

    video_guider: MultiModalGuider | None = None
    audio_guider: MultiModalGuider | None = None

    def _guiders(self, sigma: float) -> tuple[MultiModalGuider, MultiModalGuider]:
        return self.video_guider or POSITIVE_ONLY_GUIDER, self.audio_guider or POSITIVE_ONLY_GUIDER


@dataclass
class FactoryGuidedDenoiser(_Guided):
    """Guiders rebuilt each step from sigma-dependent params; audio falls back to the video factory.

    The bins are chosen by each call's own sigma (a Python float from the host side of the schedule): nothing is
    kept from an earlier call, so one denoiser can serve several schedules. (The official code caches the sigma
    list of its first call; the values are the same while the schedule is.)"""

    video_guider_factory: MultiModalGuiderFactory | None = None
    audio_guider_factory: MultiModalGuiderFactory | None = None

    def _guiders(self, sigma: float) -> tuple[MultiModalGuider, MultiModalGuider]:
        video_factory = self.video_guider_factory
        audio_factory = self.audio_guider_factory or self.video_guider_factory
        return (
            video_factory.build_from_sigma(sigma) if video_factory else POSITIVE_ONLY_GUIDER,
            audio_factory.build_from_sigma(sigma) if audio_factory else POSITIVE_ONLY_GUIDER,
        )
