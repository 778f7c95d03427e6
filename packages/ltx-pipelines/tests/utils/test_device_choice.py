"""Device selection, and where the res_2s sampler runs its float64 math (no MPS or CUDA needed: simulated)."""

import pytest
import torch

from ltx_core.components.diffusion_steps import Res2sDiffusionStep
from ltx_core.errors import InputError
from ltx_core.types import LatentState
from ltx_pipelines.utils import blocks
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.res2s import math_device_for, res2s_audio_video_denoising_loop


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
    cpu_video, _ = res2s_audio_video_denoising_loop(
        sigmas, state("cpu"), None, Res2sDiffusionStep(), model, SimpleDenoiser(context, None)
    )
    assert set(seen) == {torch.device("cpu")}
    seen.clear()
    hop_video, _ = res2s_audio_video_denoising_loop(
        sigmas.to(cuda), state(cuda), None, Res2sDiffusionStep(), model,
        SimpleDenoiser(context.to(cuda), None), math_device=torch.device("cpu"),
    )  # fmt: skip
    assert {d.type for d in seen} == {"cuda"}
    assert hop_video.latent.device.type == "cuda"
    assert torch.equal(hop_video.latent.cpu(), cpu_video.latent)
