"""Vocoders: golden parity for both types, filter construction vs the spec's values, config handling."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.errors import ConfigError, InputError
from ltx_core.loader import open_checkpoint
from ltx_core.model.audio_vae.alias_free import hann_sinc_filter, kaiser_sinc_filter
from ltx_core.model.audio_vae.bwe import VocoderWithBWE, stft_bases
from ltx_core.model.audio_vae.loading import (
    load_vocoder,
    vocoder_checkpoint_state_dict,
    vocoder_config,
    vocoder_from_config,
)
from ltx_core.model.audio_vae.mel import mel_filterbank
from ltx_core.model.audio_vae.vocoder import Vocoder
from ltx_core.testing.golden import load_case, report
from ltx_core.testing.tiny_checkpoints import tiny_vocoder_config

TOL = 1e-5
VARIANTS = ["ltx2", "ltx23"]

# Spec §9.4 / §9.5 (float32 values of the official construction).
KAISER_12 = [0.0020289647, 0.0093894657, -0.0255434625, -0.0576573834, 0.1285725832, 0.4432097971]
HANN_X3 = [
    6.3177048e-18,
    2.8921149e-17,
    2.4011068e-17,
    -8.1753433e-07,
    -1.8301698e-04,
    -5.3822371e-04,
    2.4459162e-04,
    2.6412962e-03,
    3.6252614e-03,
    -8.6147012e-04,
    -8.9774597e-03,
    -1.0861670e-02,
    1.6903407e-03,
    2.1374011e-02,
    2.5451900e-02,
    -2.5134082e-03,
    -4.6781030e-02,
    -5.9479956e-02,
    3.1138659e-03,
    1.3534595e-01,
    2.7194273e-01,
    3.3000001e-01,
    2.7194273e-01,
    1.3534595e-01,
    3.1138659e-03,
    -5.9479926e-02,
    -4.6780977e-02,
    -2.5134082e-03,
    2.5451882e-02,
    2.1373985e-02,
    1.6903407e-03,
    -1.0861668e-02,
    -8.9774551e-03,
    -8.6147012e-04,
    3.6252614e-03,
    2.6412962e-03,
    2.4459162e-04,
    -5.3822348e-04,
    -1.8301698e-04,
    -8.1753433e-07,
    2.4011068e-17,
    2.8921129e-17,
    6.3177048e-18,
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The shared CI box is oversubscribed; these small convs run ~10x faster single-threaded."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ckpt(golden, variant):
    return golden / f"{variant}_tiny.safetensors"


@pytest.mark.parametrize("variant", VARIANTS)
def test_vocoder_parity(golden, variant):
    case = load_case(golden / "cases" / variant / "vocoder.safetensors")
    voc = load_vocoder(_ckpt(golden, variant))
    assert type(voc).__name__ == case.params["vocoder_class"]
    assert voc.output_sampling_rate == case.params["output_sampling_rate"]
    mel = case.inputs["mel"]
    with torch.no_grad():
        got = voc(mel)
    assert got.shape[-1] == mel.shape[2] * voc.hop
    report(f"{variant}/vocoder", got, case.outputs["waveform"], TOL)


def test_kaiser_filter_matches_spec_and_checkpoint(golden):
    h = kaiser_sinc_filter(0.25, 0.3, 12).flatten()
    expected = torch.tensor(KAISER_12 + KAISER_12[::-1])
    assert torch.allclose(h, expected, rtol=1e-6, atol=1e-9)
    voc = load_vocoder(_ckpt(golden, "ltx23"))
    stored = voc.vocoder.resblocks[0].acts1[0].upsample.filter.flatten()
    assert torch.allclose(stored, h, rtol=1e-6, atol=1e-9)


def test_hann_resampler_filter_matches_spec():
    h = hann_sinc_filter(3).flatten()
    assert h.dtype == torch.float32 and h.numel() == len(HANN_X3)
    assert torch.allclose(h, torch.tensor(HANN_X3), rtol=1e-6, atol=1e-12)


def test_bwe_bases_match_the_recipe(golden):
    voc = load_vocoder(_ckpt(golden, "ltx23"))
    assert isinstance(voc, VocoderWithBWE)
    bwe = voc.cfg.bwe
    forward, _ = stft_bases(bwe.n_fft, bwe.hop_length)
    assert torch.allclose(voc.mel_stft.stft_fn.forward_basis, forward, atol=1e-6)
    fb = mel_filterbank(bwe.n_fft // 2 + 1, bwe.num_mels, bwe.input_sampling_rate)
    # float32 exp differs by an ulp between CPU kernels (MKL VML by generation, Sleef vs scalar), so a few entries
    # may too: the float32 component bound, relative to the basis's peak.
    report("bwe mel basis", voc.mel_stft.mel_basis, fb.T, 1e-5)


def test_resampler_is_not_a_checkpoint_tensor(golden):
    voc = load_vocoder(_ckpt(golden, "ltx23"))
    assert not any(k.startswith("resampler") for k in voc.state_dict())


def test_ltx23_vocoder_computes_in_float32_after_bf16_load(golden):
    """Spec §11: weights rounded to bf16 at load, compute in fp32, output cast to the input dtype."""
    path = _ckpt(golden, "ltx23")
    case = load_case(golden / "cases" / "ltx23" / "vocoder.safetensors")
    mel = case.inputs["mel"][:, :, :4].bfloat16()  # a few frames keep it fast
    voc16 = load_vocoder(path, dtype=torch.bfloat16)
    assert voc16.conv_pre.weight.dtype == torch.float32
    ref = load_vocoder(path)
    with torch.no_grad():
        for p in [*ref.parameters(), *ref.buffers()]:
            p.copy_(p.bfloat16().float())
        got = voc16(mel)
        expected = ref(mel.float()).bfloat16()
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, expected)


def test_ltx2_vocoder_computes_in_bf16(golden):
    voc = load_vocoder(_ckpt(golden, "ltx2"), dtype=torch.bfloat16)
    case = load_case(golden / "cases" / "ltx2" / "vocoder.safetensors")
    with torch.no_grad():
        got = voc(case.inputs["mel"])
    assert got.dtype == torch.bfloat16
    # bf16 end to end stays close to the float32 reference (outputs are bounded by tanh).
    assert (got.float() - case.outputs["waveform"]).abs().max() < 0.05 * case.outputs["waveform"].abs().max()


@pytest.mark.parametrize("variant", VARIANTS)
def test_random_init_from_config_is_finite(golden, variant):
    config = open_checkpoint(_ckpt(golden, variant)).config
    voc = vocoder_from_config(config).eval()
    with torch.no_grad():
        wave = voc(torch.randn(1, 2, 2, 64))
    assert wave.shape == (1, 2, 2 * voc.hop)
    assert torch.isfinite(wave).all() and wave.abs().max() <= 1.0


def test_config_type_detection(golden):
    assert isinstance(vocoder_from_config(open_checkpoint(_ckpt(golden, "ltx2")).config), Vocoder)
    assert isinstance(vocoder_from_config(open_checkpoint(_ckpt(golden, "ltx23")).config), VocoderWithBWE)
    # No vocoder section: the official defaults describe the released LTX-2 vocoder.
    with pytest.raises(ConfigError, match="resblock"):
        vocoder_config({})  # the official loader insists on resblock "1" and stereo being present


def _mutated(golden, variant, path, value):
    config = open_checkpoint(_ckpt(golden, variant)).config
    section = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config["vocoder"].items()}
    target = section
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return {"vocoder": section}


@pytest.mark.parametrize(
    ("variant", "path", "value", "match"),
    [
        ("ltx2", ("resblock",), "2", "resblock"),
        ("ltx2", ("stereo",), False, "stereo"),
        ("ltx2", ("upsample_rates",), [6, 5], "upsample_kernel_sizes"),
        ("ltx23", ("vocoder", "activation"), "snake", "activation"),
        ("ltx23", ("bwe", "n_fft"), None, "n_fft"),
        ("ltx23", ("bwe", "resblock"), "1", "resblock"),
    ],
)
def test_invalid_vocoder_config_raises(golden, variant, path, value, match):
    with pytest.raises(ConfigError, match=match):
        vocoder_config(_mutated(golden, variant, path, value), "test.safetensors")


def test_vocoder_rejects_mono_mel(golden):
    voc = load_vocoder(_ckpt(golden, "ltx2"))
    with pytest.raises(InputError, match="stereo"):
        voc(torch.zeros(1, 1, 4, 64))


# --- upsample_initial_channel not divisible by 2^stages: channels floor at each stage (official) ---------------

_TINY2, _TINY23 = tiny_vocoder_config("ltx2"), tiny_vocoder_config("ltx23")
FLOORED_VOCODERS = {  # the tiny vocoders with other channel counts
    # LTX-2 layout: 48 over 5 stages → 24, 12, 6, 3, 1 (48 / 2^5 = 1.5 floors to 1)
    "ltx2": {**_TINY2, "upsample_initial_channel": 48},
    # LTX-2.3 layout: main 40 over 4 stages → 20, 10, 5, 2; BWE 48 over 5 stages → 24, 12, 6, 3, 1
    "ltx23": {
        "vocoder": {**_TINY23["vocoder"], "upsample_initial_channel": 40},
        "bwe": {**_TINY23["bwe"], "upsample_initial_channel": 48},
    },
}
# Hand-computed: (conv_pre out, [(ups in, ups out)], final channels) per generator.
FLOORED_CHANNELS = {
    48: (48, [(48, 24), (24, 12), (12, 6), (6, 3), (3, 1)], 1),
    40: (40, [(40, 20), (20, 10), (10, 5), (5, 2)], 2),
}


def _check_floored_generator(gen: Vocoder) -> None:
    pre, ups, final = FLOORED_CHANNELS[gen.cfg.upsample_initial_channel]
    assert gen.conv_pre.out_channels == pre
    assert [(u.in_channels, u.out_channels) for u in gen.ups] == ups
    per_stage = len(gen.cfg.resblock_kernel_sizes)
    for index, block in enumerate(gen.resblocks):
        ch = ups[index // per_stage][1]
        for conv in (*block.convs1, *block.convs2):
            assert (conv.in_channels, conv.out_channels) == (ch, ch)
    assert gen.conv_post.in_channels == final and gen.conv_post.out_channels == 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_vocoder_with_floored_channels_round_trips_and_runs(tmp_path, variant):
    """Valid for the official implementation: built, written with the official keys, loaded strictly, run."""
    config = {"vocoder": FLOORED_VOCODERS[variant]}
    torch.manual_seed(0)
    built = vocoder_from_config(config).eval()
    path = tmp_path / "vocoder.safetensors"
    state = {k: v.contiguous() for k, v in vocoder_checkpoint_state_dict(built).items()}
    save_file(state, str(path), metadata={"config": json.dumps(config)})
    loaded = load_vocoder(path).eval()
    generators = [loaded] if isinstance(loaded, Vocoder) else [loaded.vocoder, loaded.bwe_generator]
    for gen in generators:
        _check_floored_generator(gen)
    frames = 4
    mel = torch.randn(1, 2, frames, 64)
    with torch.no_grad():
        got = loaded(mel)
        want = built(mel)
    # LTX-2: 240 samples per mel frame at 24 kHz; LTX-2.3: main 160/frame at 16 kHz, then x3 to 48 kHz
    samples = frames * 240 if variant == "ltx2" else frames * 160 * 3
    assert got.shape == (1, 2, samples)
    assert torch.isfinite(got).all()
    assert torch.equal(got, want)  # the checkpoint round trip loses nothing


def test_vocoder_without_channels_left_is_refused():
    config = {"vocoder": {**FLOORED_VOCODERS["ltx2"], "upsample_initial_channel": 16}}  # 16 / 2^5 floors to 0
    with pytest.raises(ConfigError, match="upsample_initial_channel 16 leaves no channel after 5 upsampling stages"):
        vocoder_config(config)
