"""Guidance arithmetic: the multi-modal guider the pipelines use and its sigma-dependent factory.

`MultiModalGuider.calculate` evaluates left to right, each product and difference its own op, exactly like the
official expression; changing the association changes bf16 results. Under 1.2.0 numerics (delta A.6) the passes are
cast to float32 first and the result cast back to the prediction dtype; under 1.1.3 everything stays in that dtype.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from ltx_core.errors import InputError
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics

Prediction = torch.Tensor | float  # an absent guidance pass is the float 0.0


@dataclass(frozen=True)
class MultiModalGuiderParams:
    cfg_scale: float = 1.0
    stg_scale: float = 0.0
    stg_blocks: tuple[int, ...] | None = ()  # None: every block
    rescale_scale: float = 0.0
    modality_scale: float = 1.0
    skip_step: int = 0

    def __post_init__(self) -> None:
        if self.stg_blocks is not None and not isinstance(self.stg_blocks, tuple):
            object.__setattr__(self, "stg_blocks", tuple(self.stg_blocks))
        if self.skip_step < 0:
            raise InputError(f"skip_step {self.skip_step} is invalid; use 0 (never skip) or a positive integer")


@dataclass(frozen=True)
class MultiModalGuider:
    params: MultiModalGuiderParams = field(default_factory=MultiModalGuiderParams)
    negative_context: torch.Tensor | None = None
    numerics: Numerics = DEFAULT_NUMERICS

    def do_unconditional_generation(self) -> bool:
        return not math.isclose(self.params.cfg_scale, 1.0)

    def do_perturbed_generation(self) -> bool:
        return not math.isclose(self.params.stg_scale, 0.0)

    def do_isolated_modality_generation(self) -> bool:
        return not math.isclose(self.params.modality_scale, 1.0)

    def should_skip_step(self, step: int) -> bool:
        if self.params.skip_step == 0:
            return False
        return step % (self.params.skip_step + 1) != 0

    def calculate(
        self,
        cond: torch.Tensor,
        uncond_text: Prediction = 0.0,
        uncond_perturbed: Prediction = 0.0,
        uncond_modality: Prediction = 0.0,
    ) -> torch.Tensor:
        p = self.params
        dtype = cond.dtype
        if self.numerics.guider_fp32:
            cond, uncond_text, uncond_perturbed, uncond_modality = (
                _float32(x) for x in (cond, uncond_text, uncond_perturbed, uncond_modality)
            )
        pred = (
            cond
            + (p.cfg_scale - 1) * (cond - uncond_text)
            + p.stg_scale * (cond - uncond_perturbed)
            + (p.modality_scale - 1) * (cond - uncond_modality)
        )
        if p.rescale_scale != 0:
            factor = cond.std() / pred.std()
            factor = p.rescale_scale * factor + (1 - p.rescale_scale)
            pred = pred * factor
        return pred.to(dtype) if self.numerics.guider_fp32 else pred


def _float32(x: Prediction) -> Prediction:
    """A pass as float32; an absent pass stays the float 0.0."""
    return x.float() if isinstance(x, torch.Tensor) else x


POSITIVE_ONLY_GUIDER = MultiModalGuider(MultiModalGuiderParams())


@dataclass(frozen=True)
class MultiModalGuiderFactory:
    """Guider params by sigma bins: entry (key, params) applies to sigmas in (next smaller key, key]."""

    entries: tuple[tuple[float, MultiModalGuiderParams], ...]
    negative_context: torch.Tensor | None = None
    numerics: Numerics = DEFAULT_NUMERICS

    def __post_init__(self) -> None:
        if not self.entries:
            raise InputError("guider params by sigma must have at least one entry")
        object.__setattr__(self, "entries", tuple(sorted(self.entries, key=lambda e: e[0], reverse=True)))

    @classmethod
    def constant(
        cls,
        params: MultiModalGuiderParams,
        negative_context: torch.Tensor | None = None,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> MultiModalGuiderFactory:
        return cls(((math.inf, params),), negative_context, numerics)

    @classmethod
    def from_dict(
        cls,
        by_sigma: Mapping[float, MultiModalGuiderParams],
        negative_context: torch.Tensor | None = None,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> MultiModalGuiderFactory:
        if not by_sigma:
            raise InputError("guider params by sigma must have at least one entry")
        return cls(tuple((float(k), v) for k, v in by_sigma.items()), negative_context, numerics)

    def params(self, sigma: float) -> MultiModalGuiderParams:
        covering = [e for e in self.entries if e[0] >= sigma]
        return covering[-1][1] if covering else self.entries[0][1]

    def build_from_sigma(self, sigma: float) -> MultiModalGuider:
        return MultiModalGuider(self.params(sigma), self.negative_context, self.numerics)

    def with_negative_context(self, negative_context: torch.Tensor | None) -> MultiModalGuiderFactory:
        return MultiModalGuiderFactory(self.entries, negative_context, self.numerics)

    def with_numerics(self, numerics: Numerics) -> MultiModalGuiderFactory:
        return MultiModalGuiderFactory(self.entries, self.negative_context, numerics)


def create_multimodal_guider_factory(
    params_or_factory: MultiModalGuiderParams | MultiModalGuiderFactory,
    negative_context: torch.Tensor | None = None,
    numerics: Numerics | None = None,
) -> MultiModalGuiderFactory:
    """A factory from params or a factory; `numerics` None keeps a given factory's (the default for params)."""
    if isinstance(params_or_factory, MultiModalGuiderFactory):
        factory = params_or_factory
        if negative_context is not None and negative_context is not factory.negative_context:
            factory = factory.with_negative_context(negative_context)
        return factory if numerics is None or numerics == factory.numerics else factory.with_numerics(numerics)
    return MultiModalGuiderFactory.constant(params_or_factory, negative_context, numerics or DEFAULT_NUMERICS)
