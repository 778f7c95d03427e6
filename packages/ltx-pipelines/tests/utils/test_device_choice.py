"""Device selection, and where the res_2s sampler runs its float64 math (no MPS or CUDA needed: simulated)."""

from functools import partial

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.types import LatentState
from ltx_pipelines.utils import blocks
from ltx_pipelines.utils.denoisers import Schedule, SimpleDenoiser
from ltx_pipelines.utils.res2s import math_device_for, res2s_loop
from ltx_pipelines.utils.samplers import LoopState


def test_default_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert blocks.default_device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert blocks.default_device() == torch.device("cpu")


def test_asking_for_a_missing_accelerator_is_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(InputError, match="CUDA is not available"):
        blocks.resolve_device("cuda")
    with pytest.raises(InputError, match="MPS is not available"):
        blocks.resolve_device("mps")


def test_mps_has_one_device(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert blocks.resolve_device("mps") == torch.device("mps")
    assert blocks.resolve_device("mps:0") == torch.device("mps", 0)
    with pytest.raises(InputError, match="Apple MPS has a single device; use mps"):
        blocks.resolve_device("mps:1")


def test_res2s_math_runs_on_the_cpu_for_mps_only():
    assert math_device_for(torch.device("mps")) == torch.device("cpu")
    assert math_device_for(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert math_device_for(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.gpu
def test_res2s_hops_model_calls_to_the_accelerator_bitwise():
    """The MPS arrangement (float64 math on the CPU, model calls on the accelerator), exercised with CUDA."""
    torch.manual_seed(0)
    cuda = torch.device("cuda")
    weight = torch.randn(4, 4)
    seen: list[torch.device] = []

    def model(video, audio, perturbations):
        seen.append(video.latent.device)
        w = weight.to(video.latent.device)
        return (video.latent.float() @ w).to(video.latent.dtype).cpu().to(video.latent.device), None

    def state(device):
        return LatentState(
            latent=torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16).to(device),
            denoise_mask=torch.ones(1, 6, 1, device=device),
            positions=torch.zeros(1, 3, 6, 2, device=device),
            clean_latent=torch.zeros(1, 6, 4, device=device),
        )

    sigmas = torch.tensor([1.0, 0.6, 0.3, 0.0])
    context = torch.zeros(1, 1, 4)
    cpu_video, _ = res2s_loop(
        partial(SimpleDenoiser(context, None), model), LoopState(state("cpu"), None), Schedule.of(sigmas)
    )
    assert set(seen) == {torch.device("cpu")}
    seen.clear()
    hop_video, _ = res2s_loop(
        partial(SimpleDenoiser(context.to(cuda), None), model),
        LoopState(state(cuda), None),
        Schedule.of(sigmas, cuda),
        math_device=torch.device("cpu"),
    )
    assert {d.type for d in seen} == {"cuda"}
    assert hop_video.latent.device.type == "cuda"
    assert torch.equal(hop_video.latent.cpu(), cpu_video.latent)


def _fake_mps_to(monkeypatch: pytest.MonkeyPatch) -> list[torch.dtype]:
    """Make `Tensor.to(<mps device>)` behave like Apple MPS without one: a float64 tensor raises (as MPS does), any
    other stays on the CPU. Returns the dtypes moved "to MPS"."""
    real_to = torch.Tensor.to
    moved: list[torch.dtype] = []

    def is_mps(value: object) -> bool:
        return isinstance(value, torch.device | str) and torch.device(value).type == "mps"

    def to(self: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        if any(is_mps(a) for a in args) or is_mps(kwargs.get("device")):
            args = tuple(a for a in args if not is_mps(a))
            kwargs.pop("device", None)
            out = real_to(self, *args, **kwargs)
            if out.dtype == torch.float64:
                raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support it")
            moved.append(out.dtype)
            return out
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    return moved


def test_res2s_model_calls_on_mps_receive_no_float64(monkeypatch: pytest.MonkeyPatch) -> None:
    """The res_2s midpoint call passes σs = √(σ·σn) as a float64 tensor; on MPS the hop rounds it to float32 on the
    CPU first (moving float64 to MPS raises). Emulated: the loop runs with the MPS hop and a fake MPS `.to`."""
    from ltx_pipelines.utils.res2s import _DeviceHop

    seen: list[torch.Tensor] = []

    def model(video, audio, perturbations):
        return (video.latent.float() * 0.5).to(video.latent.dtype), None

    class Recording(SimpleDenoiser):
        def __call__(self, transformer, video_state, audio_state, sigmas, step_index):
            seen.append(sigmas.sigmas)
            return super().__call__(transformer, video_state, audio_state, sigmas, step_index)

    def state() -> LatentState:
        return LatentState(
            latent=torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16),
            denoise_mask=torch.ones(1, 6, 1),
            positions=torch.zeros(1, 3, 6, 2),
            clean_latent=torch.zeros(1, 6, 4),
        )

    sigmas = torch.tensor([1.0, 0.6, 0.3, 0.0])
    context = torch.zeros(1, 1, 4)
    plain, _ = res2s_loop(partial(Recording(context, None), model), LoopState(state(), None), Schedule.of(sigmas))
    assert torch.float64 in {s.dtype for s in seen}  # what the hop has to handle
    seen.clear()
    moved = _fake_mps_to(monkeypatch)
    hop = _DeviceHop(partial(Recording(context, None), model), torch.device("mps"), torch.device("cpu"))
    hopped, _ = res2s_loop(hop, LoopState(state(), None), Schedule.of(sigmas))
    assert moved and torch.float64 not in moved
    assert {s.dtype for s in seen} == {torch.float32}
    assert hopped.latent.shape == plain.latent.shape and torch.isfinite(hopped.latent.float()).all()
