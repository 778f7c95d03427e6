"""The res_2s second-order SDE sampler (HQ pipeline).

Per step: x0 at σ, an exponential-integrator half step to the geometric midpoint σs = √(σ·σn) with SDE re-noising
(substep generator), optional "bong" anchor refinement, x0 at σs, the full second-order update, SDE re-noising
(step generator). The update math runs in float64; the state is rounded to the model dtype after each step.
Both generators are seeded independently of the pipeline seed (defaults −1 ≡ 2^64 − 1 and 9999).
Apple MPS has no float64, so there the update math and the noise draws run on the CPU and only the model
calls run on MPS (the official code never runs on MPS, so there is no reference to match there).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import fields, replace
from functools import lru_cache

import torch

from ltx_core.components.diffusion_steps import Res2sDiffusionStep
from ltx_core.components.velocity import post_process_latent
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import DenoisedLatentResult, Schedule
from ltx_pipelines.utils.recording import Recorder
from ltx_pipelines.utils.samplers import (
    DenoiseFn,
    DenoiserCall,
    LoopCallback,
    LoopState,
    Sampler,
    StepDone,
    call_tokens,
)

NoiseFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

C2 = 0.5  # midpoint fraction (in log-sigma)
SUBSTEP_ETA = 0.5  # the substep injection always uses 0.5, whatever the loop's eta
FINAL_SIGMA = 0.0011  # a trailing 0 in the schedule is replaced by [FINAL_SIGMA, 0]


def get_new_noise(latent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """float64 standard normal, standardised globally, then per batch entry over the last two dims (unbiased)."""
    z = torch.randn(latent.shape, dtype=torch.float64, device=generator.device, generator=generator)
    z = (z - z.mean()) / z.std()
    return (z - z.mean(dim=(-2, -1), keepdim=True)) / z.std(dim=(-2, -1), keepdim=True)


@lru_cache(maxsize=256)
def phi(j: int, z: float) -> float:
    """φ_j(z) = (e^z − Σ_{k<j} z^k/k!) / z^j, with the 1/j! limit at z → 0."""
    if abs(z) < 1e-10:
        return 1.0 / math.factorial(j)
    remainder = sum(z**k / math.factorial(k) for k in range(j))
    return (math.exp(z) - remainder) / z**j


def res2s_coefficients(h: float, c2: float = C2) -> tuple[float, float, float]:
    """(a21, b1, b2) of the two-stage exponential integrator for step size h = −log(σn/σ)."""
    a21 = c2 * phi(1, -h * c2)
    b2 = phi(2, -h) / c2
    b1 = phi(1, -h) - b2
    return a21, b1, b2


def _inject_sde_noise(
    state: LatentState,
    sample: torch.Tensor,
    denoised: torch.Tensor,
    sigmas: torch.Tensor,
    step_index: int,
    stepper: Res2sDiffusionStep,
    generator: torch.Generator,
    eta: float,
    new_noise_fn: NoiseFn,
    legacy_mode: bool,
    to_zero: bool,
) -> torch.Tensor:
    """`to_zero`: the step's σ_next (or its σ_up) is 0, known from the host-side schedule (legacy mode; the masked
    per-token sigmas of the other mode are read back from the device instead)."""
    noise = new_noise_fn(state.latent, generator)  # always drawn first, even if the step returns early
    if not legacy_mode:
        mask = state.denoise_mask.to(torch.float64)
        sigmas = torch.stack([mask * sigmas[step_index], mask * sigmas[step_index + 1]])
        step_index = 0
    x = stepper.step(sample, denoised, sigmas, step_index, noise, eta, to_zero=to_zero if legacy_mode else None)
    if legacy_mode:
        x = post_process_latent(x, state.denoise_mask, state.clean_latent)
    return x


def _float32(value: float) -> float:
    """`value` rounded to float32, as a Python float (what a float32 schedule holds)."""
    return struct.unpack("f", struct.pack("f", value))[0]  # type: ignore[no-any-return]


def math_device_for(device: torch.device) -> torch.device:
    """Where the float64 update math runs: the states' own device, except the CPU for Apple MPS."""
    return torch.device("cpu") if device.type == "mps" else device


def _sigmas_to(schedule: Schedule, device: torch.device) -> Schedule:
    """`sigmas` on the model's device. MPS has no float64 (moving a float64 tensor there raises), and the midpoint
    call's σs = √(σ·σn) is float64: it is rounded to float32 on the CPU first. The per-token timesteps are float32
    either way; only the σ-driven AdaLN inputs (σ·1000, computed in float64 on CUDA) may differ by a float32 ulp.
    Elsewhere the dtype is kept, so a CUDA model sees the same tensor as without the hop."""
    sigmas = schedule.sigmas
    if device.type == "mps" and sigmas.dtype == torch.float64:
        sigmas = sigmas.to(torch.float32)
    return Schedule(sigmas.to(device), schedule.values)


def _state_to(state: LatentState | None, device: torch.device) -> LatentState | None:
    if state is None:
        return None
    mask = state.attention_mask
    return state.with_(
        latent=state.latent.to(device),
        denoise_mask=state.denoise_mask.to(device),
        positions=state.positions.to(device),
        clean_latent=state.clean_latent.to(device),
        attention_mask=None if mask is None else mask.to(device),
    )


def _result_to(result: DenoisedLatentResult | None, device: torch.device) -> DenoisedLatentResult | None:
    if result is None:
        return None
    moved = {
        f.name: getattr(result, f.name).to(device)
        for f in fields(result)
        if isinstance(getattr(result, f.name), torch.Tensor)
    }
    return replace(result, **moved)


class _DeviceHop:
    """A denoise function that runs the model on `model_device` for a loop whose states live on another device."""

    def __init__(self, denoise: DenoiseFn, model_device: torch.device, math_device: torch.device) -> None:
        self.denoise, self.model_device, self.math_device = denoise, model_device, math_device

    def __call__(
        self, video_state: LatentState | None, audio_state: LatentState | None, sigmas: Schedule, step_index: int
    ) -> tuple[DenoisedLatentResult | None, DenoisedLatentResult | None]:
        v, a = self.denoise(
            _state_to(video_state, self.model_device),
            _state_to(audio_state, self.model_device),
            _sigmas_to(sigmas, self.model_device),
            step_index,
        )
        return _result_to(v, self.math_device), _result_to(a, self.math_device)


def _blend(state: LatentState, result: DenoisedLatentResult | None) -> torch.Tensor:
    if result is None:
        raise RuntimeError("the denoiser returned no result for a present modality")
    return post_process_latent(result.denoised, state.denoise_mask, state.clean_latent)


def res2s_loop(
    denoise: DenoiseFn,
    state: LoopState,
    sigmas: Schedule,
    *,
    callback: LoopCallback | None = None,
    stepper: Res2sDiffusionStep | None = None,
    noise_seed: int = -1,
    noise_seed_substep: int | None = None,
    eta: float = 0.5,
    bongmath: bool = True,
    bongmath_max_iter: int = 100,
    new_noise_fn: NoiseFn = get_new_noise,
    model_dtype: torch.dtype = torch.bfloat16,
    legacy_mode: bool = True,
    math_device: torch.device | None = None,
) -> LoopState:
    """Run the loop (the signature of `samplers`); `math_device` (default: `math_device_for` the states' device)
    holds the float64 math, the generators and the states between model calls. Returns the states on their
    original device. Control flow reads the host side of the schedule only: no step waits for the device."""
    stepper = Res2sDiffusionStep() if stepper is None else stepper
    if not isinstance(stepper, Res2sDiffusionStep):
        raise ValueError(f"the res_2s loop needs a Res2sDiffusionStep stepper, got {type(stepper).__name__}")
    states = {"video": state.video, "audio": state.audio}
    present = [name for name, s in states.items() if s is not None]
    if not present:
        raise ValueError("the res_2s loop needs at least one of video and audio")
    model_device = states[present[0]].latent.device  # type: ignore[union-attr]
    device = math_device_for(model_device) if math_device is None else torch.device(math_device)
    if device != model_device:
        states = {name: _state_to(s, device) for name, s in states.items()}
        sigmas = Schedule(sigmas.sigmas.to(device), sigmas.values)
        denoise = _DeviceHop(denoise, model_device, device)
    if noise_seed_substep is None:
        noise_seed_substep = noise_seed + 10000
    step_gen = torch.Generator(device=device).manual_seed(noise_seed)
    sub_gen = torch.Generator(device=device).manual_seed(noise_seed_substep)

    n = len(sigmas.values) - 1
    extended = sigmas.values[-1] == 0.0
    if extended:
        tensor = torch.cat([sigmas.sigmas[:-1], sigmas.sigmas.new_tensor([FINAL_SIGMA, 0.0])])
        final = FINAL_SIGMA if sigmas.sigmas.dtype == torch.float64 else _float32(FINAL_SIGMA)
        sigmas = Schedule(tensor, (*sigmas.values[:-1], final, 0.0))
    sig64 = sigmas.sigmas.new_tensor(sigmas.values, dtype=torch.float64, device="cpu")
    hs = (-torch.log(sig64[1:] / sig64[:-1])).tolist()
    values, sigmas_t = sigmas.values, sigmas.sigmas

    for k in range(n):
        sigma = sigmas_t[k].to(torch.float64)
        sigma_next = sigmas_t[k + 1].to(torch.float64)
        mid_value = math.sqrt(values[k] * values[k + 1])  # = sigma_mid below, bit for bit (exact product, IEEE sqrt)
        anchors = {name: states[name].latent.clone().to(torch.float64) for name in present}  # type: ignore[union-attr]

        v_res, a_res = denoise(states["video"], states["audio"], sigmas, k)
        if callback is not None:
            callback(DenoiserCall(sigmas, k, v_res, a_res, *call_tokens(states["video"], states["audio"])))
        d1 = {name: _blend(states[name], res) for name, res in (("video", v_res), ("audio", a_res)) if name in present}  # type: ignore[arg-type]

        h = hs[k]
        a21, b1, b2 = res2s_coefficients(h)
        sigma_mid = (sigma * sigma_next).sqrt()
        sub_sigmas = torch.stack([sigma, sigma_mid])

        eps1 = {name: d1[name].to(torch.float64) - anchors[name] for name in present}
        x_mid = {name: anchors[name] + h * a21 * eps1[name] for name in present}
        for name in present:
            x_mid[name] = _inject_sde_noise(
                states[name],  # type: ignore[arg-type]
                anchors[name],
                x_mid[name],
                sub_sigmas,
                0,
                stepper,
                sub_gen,
                SUBSTEP_ETA,
                new_noise_fn,
                legacy_mode,
                mid_value * SUBSTEP_ETA == 0.0,
            )

        if bongmath and h < 0.5 and values[k] > 0.03:
            for name in present:
                d1_64 = d1[name].to(torch.float64)
                for _ in range(bongmath_max_iter):
                    anchors[name] = x_mid[name] - h * a21 * eps1[name]
                    eps1[name] = d1_64 - anchors[name]

        mid_states = {
            name: (None if states[name] is None else states[name].with_(latent=x_mid[name].to(model_dtype)))  # type: ignore[union-attr]
            for name in states
        }
        mid_schedule = Schedule(torch.stack([sigma_mid]), (mid_value,))
        v_res2, a_res2 = denoise(mid_states["video"], mid_states["audio"], mid_schedule, 0)
        if callback is not None:
            callback(
                DenoiserCall(mid_schedule, 0, v_res2, a_res2, *call_tokens(mid_states["video"], mid_states["audio"]))
            )
        d2 = {
            name: _blend(mid_states[name], res)  # type: ignore[arg-type]
            for name, res in (("video", v_res2), ("audio", a_res2))
            if name in present
        }

        for name in present:
            eps2 = d2[name].to(torch.float64) - anchors[name]
            x_next = anchors[name] + h * (b1 * eps1[name] + b2 * eps2)
            x_next = _inject_sde_noise(
                states[name],  # type: ignore[arg-type]
                anchors[name],
                x_next,
                sigmas_t,
                k,
                stepper,
                step_gen,
                eta,
                new_noise_fn,
                legacy_mode,
                values[k + 1] * eta == 0.0,
            )
            states[name] = states[name].with_(latent=x_next.to(model_dtype))  # type: ignore[union-attr]
        if callback is not None:
            callback(StepDone(k, n))

    if extended:
        v_res, a_res = denoise(states["video"], states["audio"], sigmas, n)
        if callback is not None:
            callback(DenoiserCall(sigmas, n, v_res, a_res, *call_tokens(states["video"], states["audio"])))
        for name, res in (("video", v_res), ("audio", a_res)):
            if name in present:
                states[name] = states[name].with_(latent=_blend(states[name], res).to(model_dtype))  # type: ignore[union-attr,arg-type]
    if device != model_device:
        return LoopState(_state_to(states["video"], model_device), _state_to(states["audio"], model_device))
    return LoopState(states["video"], states["audio"])


class Res2sLoop:
    """The res_2s loop with the pipelines' defaults, as a `DiffusionStage` loop; with a recorder, also records the
    SDE noise it draws (`sde_noise_{video,audio}`: per step the substep draw, then the step draw, as the golden
    cases store them)."""

    def __init__(self, record: Recorder | None = None) -> None:
        self.record = record

    def __call__(
        self,
        denoise: DenoiseFn,
        state: LoopState,
        sigmas: Schedule,
        *,
        callback: LoopCallback | None = None,
        stepper: Res2sDiffusionStep | None = None,
    ) -> LoopState:
        drawn: list[torch.Tensor] = []

        def noise(latent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            z = get_new_noise(latent, generator)
            drawn.append(z)
            return z

        out = res2s_loop(
            denoise,
            state,
            sigmas,
            callback=callback,
            stepper=stepper,
            new_noise_fn=get_new_noise if self.record is None else noise,
        )
        names = [n for n, s in (("video", state.video), ("audio", state.audio)) if s is not None]
        if self.record is not None and drawn:
            for i, name in enumerate(names):  # draws interleave the present modalities, video first
                self.record(f"sde_noise_{name}", torch.stack(drawn[i :: len(names)]))
        return out


RES2S = Sampler("res_2s", Res2sLoop)  # the second-order SDE sampler of the HQ recipe, recording its SDE draws
