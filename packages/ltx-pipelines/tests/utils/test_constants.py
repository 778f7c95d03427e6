import hashlib

import pytest
import torch

from ltx_core.testing.golden import load_case
from ltx_pipelines.utils.constants import (
    DEFAULT_NEGATIVE_PROMPT,
    DISTILLED_SIGMAS,
    LTX_2_3_HQ_PARAMS,
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


def test_param_sets():
    assert LTX_2_PARAMS.num_inference_steps == 40 and LTX_2_PARAMS.video_guider_params.stg_blocks == (29,)
    assert LTX_2_3_PARAMS.num_inference_steps == 30 and LTX_2_3_PARAMS.audio_guider_params.stg_blocks == (28,)
    assert LTX_2_3_PARAMS.audio_guider_params.cfg_scale == 7.0
    assert (LTX_2_PARAMS.stage_2_height, LTX_2_PARAMS.stage_2_width) == (1024, 1536)
    assert (LTX_2_3_HQ_PARAMS.stage_2_height, LTX_2_3_HQ_PARAMS.stage_2_width) == (1088, 1920)
    assert LTX_2_3_HQ_PARAMS.audio_guider_params.rescale_scale == 1.0


def test_negative_prompt_is_exact():
    digest = hashlib.sha256(DEFAULT_NEGATIVE_PROMPT.encode()).hexdigest()
    assert digest == "3b57a0df38897410505431c481fdc9b8e4b6e86d18b1c425a1bc26ab96067379"


def test_detect_params(golden, tmp_path):
    for ckpt in sorted(golden.glob("ltx*_tiny.safetensors")):
        from ltx_core.loader.safetensors_file import SafetensorsFile

        version = SafetensorsFile(ckpt).metadata.get("model_version", "")
        expected = LTX_2_3_PARAMS if version.startswith("2.3") else LTX_2_PARAMS
        assert detect_params(ckpt) == expected
    assert detect_params(tmp_path / "missing.safetensors") == LTX_2_PARAMS
