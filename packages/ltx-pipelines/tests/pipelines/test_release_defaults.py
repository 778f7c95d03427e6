"""What a pipeline call does when the caller leaves a choice to the release (delta A.9.3, A.11): the decode tiling
and the image CRF follow the numerics and the checkpoint, nothing is built to decide them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.model.video_vae import AUTO_TILING, TilingConfig
from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_core.testing.in_memory import tiny_in_memory_models
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline
from ltx_pipelines.utils.blocks import DEFAULT_TILING, ImageConditioner


@pytest.mark.parametrize("cls", [DistilledPipeline, TI2VidOneStagePipeline])
def test_default_tiling_is_auto_under_1_2_0_and_untiled_under_1_1_3(cls: type) -> None:
    """Every pipeline, the one-stage included (1.1.3 decoded it untiled); an explicit None stays untiled."""
    source = tiny_in_memory_models("ltx23")
    extra = (source,) if cls is DistilledPipeline else ()
    new = cls(source, None, *extra, device="cpu", numerics=NUMERICS_1_2_0)
    old = cls(source, None, *extra, device="cpu", numerics=NUMERICS_1_1_3)
    assert new._decode_tiling(DEFAULT_TILING) is AUTO_TILING
    assert old._decode_tiling(DEFAULT_TILING) is None
    assert new._decode_tiling(None) is None
    assert new._decode_tiling(TilingConfig.default()) == TilingConfig.default()


def _versioned(path: Path, version: str | None) -> Path:
    save_file({"x": torch.zeros(1)}, path, metadata=None if version is None else {"model_version": version})
    return path


@pytest.mark.parametrize("version,crf", [(None, 33), ("2.3.0", 33), ("2.4.0", 18), ("2.5", 18)])
def test_image_crf_default_follows_the_video_vae_files_version(tmp_path: Path, version: str | None, crf: int) -> None:
    """Delta A.11 / E.3: 18 from model_version 2.4 on, else 33; under 1.1.3 always 33."""
    path = _versioned(tmp_path / "vae.safetensors", version)
    assert ImageConditioner(path, device="cpu", numerics=NUMERICS_1_2_0).default_image_crf == crf
    assert ImageConditioner(path, device="cpu", numerics=NUMERICS_1_1_3).default_image_crf == 33


def test_an_explicit_crf_wins_over_the_files_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr("ltx_pipelines.media.image.compress_image", lambda image, crf: seen.append(crf) or image)
    conditioner = ImageConditioner(_versioned(tmp_path / "v.safetensors", "2.4.0"), device="cpu")
    image = torch.zeros(4, 4, 3, dtype=torch.uint8).numpy()
    for crf in (None, 0, 25):
        conditioner.load_image(image, 4, 4, torch.float32, "cpu", crf)
    assert seen == [18, 0, 25]
