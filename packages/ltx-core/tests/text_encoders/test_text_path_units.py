"""Config detection, random-init build for the tiny-checkpoint generator, RoPE ladder and masking by hand."""

import copy
import math

import pytest
import torch

from ltx_core.errors import ConfigError, InputError
from ltx_core.loader import open_checkpoint
from ltx_core.text_encoders.gemma.config import TextPathConfig
from ltx_core.text_encoders.gemma.connector import connector_rope, rope_ladder
from ltx_core.text_encoders.gemma.features import norm_v1, norm_v2
from ltx_core.text_encoders.gemma.loading import (
    TEXT_PATH_KEY_MAP,
    build_text_path,
    load_text_path,
    text_path_checkpoint_state_dict,
    text_path_config,
)
from ltx_core.text_encoders.gemma.processor import right_pad_order


def _config(golden, variant):
    return copy.deepcopy(open_checkpoint(golden / f"{variant}.safetensors").config)


def test_version_detection(golden):
    assert text_path_config(open_checkpoint(golden / "ltx2_tiny.safetensors")).version == 1
    assert text_path_config(open_checkpoint(golden / "ltx23_tiny.safetensors")).version == 2
    cfg = _config(golden, "ltx23_tiny")
    del cfg["transformer"]["caption_proj_input_norm"]
    with pytest.raises(ConfigError, match="caption_proj_input_norm"):
        TextPathConfig.from_config(cfg, 4)
    cfg = _config(golden, "ltx23_tiny")
    cfg["transformer"]["caption_projection_first_linear"] = True
    with pytest.raises(ConfigError, match="unsupported"):
        TextPathConfig.from_config(cfg, 4)


def test_audio_connector_falls_back_to_video_settings(golden):
    cfg = _config(golden, "ltx2_tiny")
    tp = TextPathConfig.from_config(cfg, 4)
    assert tp.audio_connector == tp.video_connector
    t = cfg["transformer"]
    assert tp.video_connector.width == t["connector_num_attention_heads"] * t["connector_attention_head_dim"]
    assert tp.video_connector.rope_max_pos == t["connector_positional_embedding_max_pos"][0]
    assert tp.video_connector.rope_float64 and not tp.video_connector.gated_attention


@pytest.mark.parametrize("variant", ["ltx2_tiny", "ltx23_tiny"])
def test_random_build_round_trips_through_a_checkpoint(golden, variant, tmp_path):
    """What the tiny-checkpoint generator does: build from config, save official keys, load back strictly."""
    from safetensors.torch import save_file

    cfg = _config(golden, variant)
    n_states = text_path_config(open_checkpoint(golden / f"{variant}.safetensors")).num_hidden_states
    torch.manual_seed(0)
    model = build_text_path(cfg, n_states).eval()
    sd = text_path_checkpoint_state_dict(model)
    assert all(TEXT_PATH_KEY_MAP.rename(k) is not None for k in sd)
    import json

    path = tmp_path / "tp.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, path, metadata={"config": json.dumps(cfg)})
    loaded = load_text_path(path)
    d = cfg["transformer"]["caption_channels"]
    hs = torch.randn(n_states, 1, 128, d)
    mask = torch.zeros(1, 128, dtype=torch.int64)
    mask[:, 100:] = 1
    with torch.no_grad():
        a, b = model(hs, mask), loaded(hs, mask)
    assert torch.isfinite(a.video_context).all() and torch.isfinite(a.audio_context).all()
    assert a.video_context.std() > 0
    assert torch.equal(a.video_context, b.video_context) and torch.equal(a.audio_context, b.audio_context)


def test_rope_ladder_by_hand():
    ladder = rope_ladder(4, 10000.0, float64=True)
    want = torch.tensor([10000 ** (j / 3) * math.pi / 2 for j in range(4)], dtype=torch.float32)
    torch.testing.assert_close(ladder, want, rtol=0, atol=0)
    cos, sin = connector_rope(3, num_heads=2, head_dim=4, max_pos=4, theta=10000.0, float64=True, device="cpu")
    assert cos.shape == (1, 2, 3, 2)
    # head 1 takes ladder entries 2..3; position 2 → fraction 2/4·2 − 1 = 0 → angle 0
    torch.testing.assert_close(cos[0, :, 2], torch.ones(2, 2))
    torch.testing.assert_close(sin[0, 1, 0], torch.sin(-ladder[2:]))


def test_norms_by_hand():
    # one sample, 2 tokens (first is a pad), D=2, L=1
    x = torch.tensor([[[[100.0], [-50.0]], [[1.0], [3.0]]]])
    mask = torch.tensor([[0, 1]])
    v1 = norm_v1(x, mask)
    # mean over valid = 2, range = 2 → 8·(x−2)/(2+1e-6) = ±4
    torch.testing.assert_close(v1[0, 1], torch.tensor([-4.0, 4.0]) / (1 + 5e-7))
    assert torch.equal(v1[0, 0], torch.zeros(2))
    v2 = norm_v2(x, mask)
    torch.testing.assert_close(v2[0, 1], torch.tensor([1.0, 3.0]) / math.sqrt(5.0 + 1e-6))
    assert torch.equal(v2[0, 0], torch.zeros(2))


def test_right_pad_order_is_stable():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 0, 1, 0, 1]])
    assert right_pad_order(mask).tolist() == [[2, 3, 4, 0, 1], [0, 2, 4, 1, 3]]


def test_text_length_must_be_a_multiple_of_the_registers(golden):
    model = load_text_path(golden / "ltx2_tiny.safetensors")
    d = model.config.gemma_width
    hs = torch.randn(model.config.num_hidden_states, 1, 100, d)
    with pytest.raises(InputError, match="multiple of 128"):
        model(hs, torch.ones(1, 100, dtype=torch.int64))
    with pytest.raises(InputError, match="width"):
        model(torch.randn(model.config.num_hidden_states, 1, 128, d + 1), torch.ones(1, 128, dtype=torch.int64))


def test_bf16_text_path_is_close_to_float32(golden):
    from ltx_core.testing.golden import load_case, relative_error

    case = load_case(golden / "cases" / "ltx23" / "text_embeddings_1.safetensors")
    model = load_text_path(golden / case.params["checkpoint"], dtype=torch.bfloat16)
    with torch.no_grad():
        out = model(case.inputs["hidden_states"].bfloat16(), case.inputs["attention_mask"])
    assert out.video_context.dtype == torch.bfloat16
    assert relative_error(out.video_context.float(), case.outputs["video_context"]) < 5e-2


def test_package_import_does_not_load_transformers():
    import subprocess
    import sys

    code = "import sys, ltx_core.text_encoders.gemma; assert 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rope_ladder_is_built_on_the_cpu_whatever_the_default_device() -> None:
    """Its float64 math cannot run on Apple MPS: under another default device (meta stands in for
    `torch.set_default_device("mps")`) the ladder is still computed on the CPU, to the same bits."""
    expected = rope_ladder(64, 10000.0, True)
    with torch.device("meta"):
        ladder = rope_ladder(64, 10000.0, True)
    assert ladder.device.type == "cpu" and torch.equal(ladder, expected)
