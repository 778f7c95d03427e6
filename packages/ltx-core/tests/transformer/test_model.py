"""Model structure, loading round trip, model types, dtype handling and input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.errors import CheckpointError, InputError
from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.loader import open_checkpoint
from ltx_core.model.transformer import (
    LTXModel,
    Modality,
    ModelType,
    TransformerConfig,
    build_transformer,
    load_transformer,
    read_model_version,
    transformer_checkpoint_state_dict,
)
from ltx_core.model.transformer.loading import TEXT_CONNECTOR_PREFIXES, TRANSFORMER_PREFIX
from ltx_core.numerics import NUMERICS_1_1_3
from ltx_core.testing.golden import load_case, relative_error, report

VARIANTS = ["ltx2", "ltx23"]

# The official published configs (spec §1.5) and the official tensor / parameter counts (spec §2.2).
_OFFICIAL_19B = {"caption_channels": 3840, "av_ca_timestep_scale_multiplier": 1000.0}
_OFFICIAL_22B = {
    **_OFFICIAL_19B,
    "apply_gated_attention": True,
    "cross_attention_adaln": True,
    "caption_proj_before_connector": True,
}


@pytest.mark.parametrize(
    ("flags", "model_type", "tensors", "params"),
    [
        (_OFFICIAL_19B, ModelType.AUDIO_VIDEO, 3510, 18_876_174_592),
        (_OFFICIAL_22B, ModelType.AUDIO_VIDEO, 4186, 18_988_838_144),
        (_OFFICIAL_19B, ModelType.VIDEO_ONLY, 1215, 13_041_520_768),
        (_OFFICIAL_22B, ModelType.VIDEO_ONLY, 1457, 13_124_316_288),
    ],
)
def test_official_structure(flags: dict, model_type: ModelType, tensors: int, params: int) -> None:
    with torch.device("meta"):
        model = LTXModel(TransformerConfig(model_type=model_type, **flags))
    sd = model.state_dict()
    assert len(sd) == tensors
    assert sum(t.numel() for t in sd.values()) == params
    assert not list(model.buffers())


def _ckpt(golden: Path, variant: str) -> Path:
    path = golden / f"{variant}_tiny.safetensors"
    if not path.exists():
        pytest.skip(f"no {path.name}")
    return path


def _inputs(golden: Path, variant: str, name: str = "transformer_forward") -> tuple[Modality, Modality, dict]:
    case = load_case(golden / "cases" / variant / f"{name}.safetensors")
    i = case.inputs

    def mod(p: str) -> Modality:
        return Modality(i[f"{p}_latent"], i[f"{p}_sigma"], i[f"{p}_timesteps"], i[f"{p}_positions"], i[f"{p}_context"])

    return mod("video"), mod("audio"), case.outputs


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_keys_are_the_checkpoint_keys(golden: Path, variant: str) -> None:
    path = _ckpt(golden, variant)
    model = load_transformer(path)
    keys = set(transformer_checkpoint_state_dict(model))
    ours = (k for k in open_checkpoint(path).keys() if k.startswith(TRANSFORMER_PREFIX))
    stored = {k for k in ours if not k.startswith(TEXT_CONNECTOR_PREFIXES)}
    assert keys == stored


@pytest.mark.parametrize("variant", VARIANTS)
def test_random_init_round_trip(golden: Path, variant: str, tmp_path: Path) -> None:
    """What the tiny-checkpoint generator does: build from a config on CPU, save, load back."""
    config = open_checkpoint(_ckpt(golden, variant)).config
    torch.manual_seed(0)
    model = build_transformer(config).eval()
    for name, t in model.state_dict().items():
        assert torch.isfinite(t).all(), name
        if t.ndim == 2 and t.numel() > 1:
            assert t.std() > 0, name
    video, audio, _ = _inputs(golden, variant)
    with torch.no_grad():
        v0, a0 = model(video, audio)
    assert v0 is not None and a0 is not None
    assert torch.isfinite(v0).all() and torch.isfinite(a0).all() and v0.std() > 0 and a0.std() > 0
    out = tmp_path / "t.safetensors"
    save_file(transformer_checkpoint_state_dict(model), str(out), metadata={"config": json.dumps(config)})
    loaded = load_transformer(out)
    with torch.no_grad():
        v1, a1 = loaded(video, audio)
    assert torch.equal(v0, v1) and torch.equal(a0, a1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_video_only_model_from_av_checkpoint(golden: Path, variant: str) -> None:
    path = _ckpt(golden, variant)
    vo = load_transformer(path, model_type=ModelType.VIDEO_ONLY)
    assert not hasattr(vo, "audio_patchify_proj")
    assert not any("audio" in k for k in vo.state_dict())
    av = load_transformer(path)
    video, audio, _ = _inputs(golden, variant)
    with torch.no_grad():
        v_only, a_none = vo(video, None)
        v_av, _ = av(video, None)
    assert a_none is None and v_only is not None and v_only.shape == (*video.latent.shape[:2], vo.config.out_channels)
    assert torch.isfinite(v_only).all()
    # Without audio the AV model runs exactly the video-only computation.
    assert torch.equal(v_only, v_av)
    with pytest.raises(InputError, match="Audio is not enabled"):
        vo(video, audio)


@pytest.mark.parametrize("variant", VARIANTS)
def test_bf16_load_runs_close_to_golden(golden: Path, variant: str) -> None:
    model = load_transformer(_ckpt(golden, variant), dtype=torch.bfloat16, numerics=NUMERICS_1_1_3)
    assert all(p.dtype == torch.bfloat16 for p in model.parameters())
    video, audio, expected = _inputs(golden, variant)

    def bf16(m: Modality) -> Modality:
        return m.with_(latent=m.latent.bfloat16(), context=m.context.bfloat16())

    with torch.no_grad():
        v, a = model(bf16(video), bf16(audio))
    assert v is not None and a is not None and v.dtype == torch.bfloat16
    report(f"{variant}/bf16.video_velocity", v, expected["video_velocity"], 5e-2)
    report(f"{variant}/bf16.audio_velocity", a, expected["audio_velocity"], 5e-2)


@pytest.mark.parametrize("variant", VARIANTS)
def test_single_stream_inputs(golden: Path, variant: str) -> None:
    model = load_transformer(_ckpt(golden, variant))
    video, audio, expected = _inputs(golden, variant)
    with torch.no_grad():
        v, a = model(None, audio)
    assert v is None and a is not None and torch.isfinite(a).all()
    # Removing the video stream removes the V2A contribution, so the audio output must change.
    assert relative_error(a, expected["audio_velocity"]) > 1e-4
    with pytest.raises(InputError, match="At least one"):
        model(None, None)
    with pytest.raises(InputError, match="perturbation config has 1 entries"):
        model(video, audio, BatchedPerturbationConfig.empty(1))


def test_read_model_version(golden: Path) -> None:
    assert read_model_version(_ckpt(golden, "ltx2")) is None
    assert (read_model_version(_ckpt(golden, "ltx23")) or "").startswith("2.3")


def test_wrong_file_is_a_checkpoint_error(golden: Path) -> None:
    path = golden / "upsampler_spatial_x2_tiny.safetensors"
    if not path.exists():
        pytest.skip("no upsampler file")
    with pytest.raises(CheckpointError):
        load_transformer(path)


@pytest.mark.parametrize("flags", [_OFFICIAL_19B, _OFFICIAL_22B], ids=["19b", "22b"])
def test_official_widths_forward_on_meta(flags: dict) -> None:
    """Shape check of the real widths (32 heads, RoPE padding, 3840 caption input) without allocating weights."""
    with torch.device("meta"):
        model = LTXModel(TransformerConfig(num_layers=1, rope_float64=True, **flags))
        cfg = model.config
        ctx_v = cfg.caption_channels if cfg.has_caption_projection else cfg.video_dim
        ctx_a = cfg.caption_channels if cfg.has_caption_projection else cfg.audio_dim
        b, tv, ta, s = 2, 6, 4, 8
        video = Modality(
            torch.empty(b, tv, cfg.in_channels),
            torch.empty(b),
            torch.empty(b, tv, 1),
            torch.empty(b, 3, tv, 2),
            torch.empty(b, s, ctx_v),
        )
        audio = Modality(
            torch.empty(b, ta, cfg.audio_in_channels),
            torch.empty(b),
            torch.empty(b, ta, 1),
            torch.empty(b, 1, ta, 2),
            torch.empty(b, s, ctx_a),
        )
        v, a = model(video, audio)
    assert v is not None and v.shape == (b, tv, cfg.out_channels)
    assert a is not None and a.shape == (b, ta, cfg.audio_out_channels)


@pytest.mark.gpu
@pytest.mark.parametrize("variant", VARIANTS)
def test_cuda_float32_parity(golden: Path, variant: str) -> None:
    model = load_transformer(_ckpt(golden, variant), device="cuda", numerics=NUMERICS_1_1_3)
    video, audio, expected = _inputs(golden, variant)

    def cuda(m: Modality) -> Modality:
        return m.with_(**{k: getattr(m, k).cuda() for k in ("latent", "sigma", "timesteps", "positions", "context")})

    with torch.no_grad():
        v, a = model(cuda(video), cuda(audio))
    assert v is not None and a is not None
    report(f"{variant}/cuda.video_velocity", v, expected["video_velocity"], 1e-5)
    report(f"{variant}/cuda.audio_velocity", a, expected["audio_velocity"], 1e-5)
