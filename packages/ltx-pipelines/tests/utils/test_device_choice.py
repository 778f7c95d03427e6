"""Device selection and the MPS guard of the res_2s sampler (no MPS or CUDA needed: both are simulated)."""

import pytest
import torch

from ltx_core.errors import InputError
from ltx_pipelines.utils import blocks
from ltx_pipelines.utils.res2s import res2s_audio_video_denoising_loop


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


def test_res2s_refuses_mps_with_a_clear_message():
    class _State:
        latent: object = None

    class _MpsLatent:
        device = torch.device("mps")

    state = _State()
    state.latent = _MpsLatent()  # only .device is read before the guard
    from ltx_core.components.diffusion_steps import Res2sDiffusionStep

    with pytest.raises(InputError, match=r"float64.*MPS"):
        res2s_audio_video_denoising_loop(
            torch.tensor([1.0, 0.0]), state, None, Res2sDiffusionStep(), lambda *a: None, lambda *a: None
        )
