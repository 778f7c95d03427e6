import pytest
import torch

from ltx_core.testing.golden import component_checkpoints, load_case
from ltx_pipelines.utils.constants import (
    DISTILLED_SIGMAS,
    LTX_2_3_PARAMS,
    LTX_2_PARAMS,
    STAGE_2_DISTILLED_SIGMAS,
    detect_params,
)


def test_sigma_tables_match_golden(golden):
    case = load_case(golden / "cases" / "common" / "schedulers.safetensors")
    assert torch.equal(DISTILLED_SIGMAS, case.outputs["distilled_sigmas"])
    assert torch.equal(STAGE_2_DISTILLED_SIGMAS, case.outputs["stage2_distilled_sigmas"])
    assert DISTILLED_SIGMAS.tolist() == pytest.approx(case.params["distilled_sigma_values"])


def test_detect_params(golden, tmp_path):
    for ckpt in component_checkpoints():
        from ltx_core.loader.safetensors_file import SafetensorsFile

        version = SafetensorsFile(ckpt).metadata.get("model_version", "")
        expected = LTX_2_3_PARAMS if version.startswith("2.3") else LTX_2_PARAMS
        assert detect_params(ckpt) == expected
    assert detect_params(tmp_path / "missing.safetensors") == LTX_2_PARAMS
