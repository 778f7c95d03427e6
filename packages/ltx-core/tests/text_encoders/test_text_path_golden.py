"""Golden parity: Gemma hidden states → features → contexts, against the official outputs (README 5.7)."""

import pytest
import torch

from ltx_core.loader import open_checkpoint
from ltx_core.testing.golden import component_cases, load_case, report
from ltx_core.text_encoders.gemma.loading import load_text_path, text_path_checkpoint_state_dict, text_path_config
from ltx_core.text_encoders.gemma.prompts import contexts_from_hidden_states

TOL = 1e-5


def _cases():
    return component_cases("text_embeddings_*")


@pytest.mark.parametrize("path", _cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_text_path_matches_official(path, golden):
    case = load_case(path)
    model = load_text_path(golden / case.params["checkpoint"])
    with torch.no_grad():
        out = model(case.inputs["hidden_states"], case.inputs["attention_mask"])
    label = f"{path.parent.name}/{path.stem}"
    report(f"{label} video_features", out.video_features, case.outputs["video_features"], TOL)
    report(f"{label} audio_features", out.audio_features, case.outputs["audio_features"], TOL)
    report(f"{label} video_context", out.video_context, case.outputs["video_context"], TOL)
    report(f"{label} audio_context", out.audio_context, case.outputs["audio_context"], TOL)
    assert out.mask.dtype == torch.int64
    assert torch.equal(out.mask, case.outputs["context_mask"])
    # the public entry point, fed the per-layer tuple Gemma returns (a different memory layout)
    hs = tuple(case.inputs["hidden_states"].unbind(0))
    ctx = contexts_from_hidden_states(model, hs, case.inputs["attention_mask"])
    report(f"{label} video_context (tuple input)", ctx.video_context, case.outputs["video_context"], TOL)
    report(f"{label} audio_context (tuple input)", ctx.audio_context, case.outputs["audio_context"], TOL)
    assert torch.equal(ctx.mask, case.outputs["context_mask"])


@pytest.mark.parametrize("name", ["ltx2_tiny", "ltx23_tiny"])
def test_state_dict_round_trip_uses_official_keys(name, golden):
    path = golden / f"{name}.safetensors"
    ckpt = open_checkpoint(path)
    model = load_text_path(ckpt)
    sd = text_path_checkpoint_state_dict(model)
    official = {k for k in ckpt.keys() if k.startswith("text_embedding_projection.") or "_embeddings_connector." in k}
    assert set(sd) == official
    for key in sorted(official)[:5]:
        assert torch.equal(sd[key], ckpt.files[0].read(key))
    cfg = text_path_config(ckpt)
    assert cfg.gemma_width == ckpt.config["transformer"]["caption_channels"]
