import hashlib

import pytest
import torch

from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_core.testing.golden import component_checkpoints, load_case
from ltx_core.testing.in_memory import tiny_in_memory_models
from ltx_pipelines.utils.constants import (
    DEFAULT_NEGATIVE_PROMPT,
    DISTILLED_SIGMAS,
    LTX_2_3_PARAMS,
    LTX_2_4_PARAMS,
    LTX_2_PARAMS,
    NEGATIVE_PROMPT_1_1_3,
    STAGE_2_DISTILLED_SIGMAS,
    default_negative_prompt,
    detect_params,
    model_version,
    params_for_version,
    parse_model_version,
)


def test_sigma_tables_match_golden(golden):
    case = load_case(golden / "cases" / "common" / "schedulers.safetensors")
    assert torch.equal(DISTILLED_SIGMAS, case.outputs["distilled_sigmas"])
    assert torch.equal(STAGE_2_DISTILLED_SIGMAS, case.outputs["stage2_distilled_sigmas"])
    assert DISTILLED_SIGMAS.tolist() == pytest.approx(case.params["distilled_sigma_values"])


def test_detect_params(golden, tmp_path):
    """The released "X.Y.Z" strings select as 1.1.3's "starts with 2.3" did (delta E.3)."""
    for ckpt in component_checkpoints():
        from ltx_core.loader.safetensors_file import SafetensorsFile

        version = SafetensorsFile(ckpt).metadata.get("model_version", "")
        expected = LTX_2_3_PARAMS if version.startswith("2.3") else LTX_2_PARAMS
        assert detect_params(ckpt) == expected
    assert detect_params(tmp_path / "missing.safetensors") == LTX_2_PARAMS
    assert model_version(tiny_in_memory_models("ltx23")) >= (2, 3)  # an in-memory source's metadata
    assert model_version(tiny_in_memory_models("ltx2")) == ()


@pytest.mark.parametrize(
    "text,parsed",
    [("2.3.0", (2, 3, 0)), ("2.3.rc1", (2, 3)), ("2.4-rc2", (2, 4)), ("2.3rc1", (2,)), ("2.5", (2, 5)), ("", ())],
)
def test_model_version_parsing_follows_the_spec_examples(text, parsed):
    assert parse_model_version(text) == parsed


def test_params_by_version_table():
    """Delta E.3: < 2.3 LTX-2 (40 steps, block 29, CRF 33), 2.3 (30, 28, 33), ≥ 2.4 (30, 28, CRF 18)."""
    rows = {(): (40, (29,), 33), (2, 2, 9): (40, (29,), 33), (2, 3): (30, (28,), 33), (2, 4): (30, (28,), 18)}
    rows[(2, 5, 1)] = rows[(2, 4)]
    for version, (steps, blocks, crf) in rows.items():
        params = params_for_version(version)
        assert (params.num_inference_steps, params.video_guider_params.stg_blocks, params.default_image_crf) == (
            steps,
            blocks,
            crf,
        )
    assert params_for_version((2, 4)) is LTX_2_4_PARAMS
    assert LTX_2_4_PARAMS.video_guider_params == LTX_2_3_PARAMS.video_guider_params  # guiders as LTX-2.3's


def test_negative_prompts_are_the_releases_strings():
    """Delta A.14: 1.2.0 = 1.1.3's 58 items after five new ones (1171 characters, 63 items); SHA-256 of each."""
    for text, length, items, digest in (
        (DEFAULT_NEGATIVE_PROMPT, 1171, 63, "5d3fc170ddbab647fd3baf4694dfcca44dd817fe489bc3ab0684e12505472be4"),
        (NEGATIVE_PROMPT_1_1_3, 1078, 58, "3b57a0df38897410505431c481fdc9b8e4b6e86d18b1c425a1bc26ab96067379"),
    ):
        assert (len(text), len(text.split(", ")), hashlib.sha256(text.encode()).hexdigest()) == (length, items, digest)
    assert DEFAULT_NEGATIVE_PROMPT.startswith("has_subtitles, has_blurbox, transition from black, ")
    assert default_negative_prompt(NUMERICS_1_2_0) == DEFAULT_NEGATIVE_PROMPT
    assert default_negative_prompt(NUMERICS_1_1_3) == NEGATIVE_PROMPT_1_1_3
