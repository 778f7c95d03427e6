"""1.2.0 weight-free component cases: the guider in float32 arithmetic (A.6) and the two-lerp noiser (A.4), float32
inputs within 1e-5 relative, bf16 inputs bitwise (the float32 arithmetic in the official order, cast once)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.latent_tools import VideoLatentTools
from ltx_core.components.noisers import GaussianNoiser, create_noised_state
from ltx_core.components.patchifiers import VideoLatentPatchifier
from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_core.testing.golden import GoldenCase, component_cases_120, golden_dir, load_case, report
from ltx_core.types import LatentState, VideoLatentShape

TOL = 1e-5
GUIDERS = component_cases_120("guiders")
NOISERS = component_cases_120("gaussian_noiser")
_PASSES = ("cond", "uncond_text", "uncond_perturbed", "uncond_modality")


def _check(label: str, got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.dtype == expected.dtype, f"{label}: dtype {got.dtype} != {expected.dtype}"
    if expected.dtype == torch.float32:
        report(label, got, expected, TOL)
    else:
        assert torch.equal(got, expected), f"{label}: {(got != expected).sum().item()} elements differ"


def test_cases_listed() -> None:
    if not (GUIDERS and NOISERS):
        pytest.skip(f"no 1.2.0 guider / noiser cases under {golden_dir()} (the in-repo subset has none)")


def _guider_runs(case: GoldenCase) -> list[tuple[str, dict, bool]]:
    """(output name, guider params, bf16 inputs) for every output of the case."""
    runs = []
    for out in case.outputs:
        setting = out.removeprefix("multimodal_").removesuffix("_bf16")
        runs.append((out, case.params["settings"][setting], out.endswith("_bf16")))
    return runs


@pytest.mark.parametrize("path", GUIDERS, ids=[p.stem for p in GUIDERS])
def test_guiders_120(path: Path) -> None:
    case = load_case(path)
    runs = _guider_runs(case)
    assert runs
    for out, setting, bf16 in runs:
        passes = {p: case.inputs[f"{p}_bf16" if bf16 else p] for p in _PASSES}
        # a pass the setting gives as a number is absent (the denoiser hands the float 0.0)
        absent = {k: v for k, v in setting.items() if k in _PASSES}
        params = MultiModalGuiderParams(**{k: v for k, v in setting.items() if k not in _PASSES})
        args = [absent.get(p, passes[p]) for p in _PASSES]
        got = MultiModalGuider(params).calculate(*args)
        _check(out, got, case.outputs[out])


@pytest.mark.parametrize("path", GUIDERS, ids=[p.stem for p in GUIDERS])
def test_1_1_3_guider_differs_on_bf16_only(path: Path) -> None:
    """README_120 §8.1: float32 passes give the 1.1.3 values bit for bit; only bf16 passes see A.6."""
    case = load_case(path)
    out, setting, _ = next(r for r in _guider_runs(case) if r[2] and "cfg_only" not in r[0])
    params = MultiModalGuiderParams(**setting)
    old, new = MultiModalGuider(params, numerics=NUMERICS_1_1_3), MultiModalGuider(params)
    bf16 = [case.inputs[f"{p}_bf16"] for p in _PASSES]
    assert not torch.equal(old.calculate(*bf16), case.outputs[out]), "bf16 arithmetic reproduces the float32 one"
    f32 = [case.inputs[p] for p in _PASSES]
    assert torch.equal(old.calculate(*f32), new.calculate(*f32))


def _noiser_state(case: GoldenCase, dtype: str) -> LatentState:
    suffix = "" if dtype == "float32" else f"_{dtype}"
    latent = case.inputs[f"latent{suffix}"]
    return LatentState(
        latent=latent,
        denoise_mask=case.inputs["denoise_mask"],
        positions=torch.zeros(latent.shape[0], 1, latent.shape[1], 2),
        clean_latent=case.inputs[f"clean_latent{suffix}"],
    )


@pytest.mark.parametrize("path", NOISERS, ids=[p.stem for p in NOISERS])
def test_gaussian_noiser_120(path: Path) -> None:
    case = load_case(path)
    runs = case.params["runs"]
    assert runs
    for run in runs:
        noiser = GaussianNoiser(torch.Generator().manual_seed(case.params["noise_seed"]))
        state = _noiser_state(case, run["dtype"])
        assert torch.equal(noiser.draw(state.latent), case.inputs[f"noise_{run['dtype']}"]), "the draw differs"
        noiser = GaussianNoiser(torch.Generator().manual_seed(case.params["noise_seed"]))
        got = noiser(state, run["noise_scale"]).latent
        _check(run["output"], got, case.outputs[run["output"]])


def test_1_2_0_noising_keeps_the_patchified_channel_major_layout() -> None:
    """README_120 §8.2, "layout effect": the official 1.2.0 noiser's `torch.lerp` returns the noised video tokens as
    the patchifier's view of the [B, C, F, H, W] latent (channel-major, not contiguous), and the CPU bf16 GEMM of the
    first linear layer rounds differently on that layout than on contiguous tokens; measured on the distilled t2v
    1.2.0 recording: bitwise as a view, 0.023 (video) / 0.031 (audio) off on the first call when made contiguous.
    The 1.1.3 mix (`n·(m·s) + x·(1 − m·s)`, noise first) gives contiguous tokens, as 1.1.3 did."""
    tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(1, 4, 2, 2, 3), 24.0)
    for numerics, contiguous in ((NUMERICS_1_2_0, False), (NUMERICS_1_1_3, True)):
        noiser = GaussianNoiser(torch.Generator().manual_seed(0), numerics)
        tokens = create_noised_state(tools, noiser, dtype=torch.bfloat16).latent
        shape = tools.target_shape
        assert tokens.shape == (1, shape.frames * shape.height * shape.width, shape.channels)
        assert tokens.is_contiguous() is contiguous, numerics.name
        if not contiguous:  # the channel axis is the slow one: the [B, C, F·H·W] memory of the latent
            assert tokens.stride()[1:] == (1, tokens.shape[1])
