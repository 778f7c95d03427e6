"""bf16 pipeline precision (spec §11) against the end-to-end fixtures: encode and decode+vocode paths.

The official pipelines load the audio encoder, decoder and vocoder in bf16 (LTX-2.3's vocoder then computes in
float32). These fixtures record the bf16 tensors at the audio boundaries of each flow.
"""

import pytest
import torch

from ltx_core.model.audio_vae.codec import decode_audio
from ltx_core.model.audio_vae.loading import load_audio_decoder, load_audio_encoder, load_vocoder
from ltx_core.model.audio_vae.mel import waveform_to_mel
from ltx_core.model.audio_vae.timing import audio_latent_frames_for_video, fit_audio_latent
from ltx_core.testing.cpu_parity import (
    COMPONENT_ON_OTHER_KERNELS,
    DRIFTS,
    WAVEFORM_ON_OTHER_KERNELS,
    blind_to,
    parity_for,
)
from ltx_core.testing.golden import e2e_cases, load_case, report

FLOWS = e2e_cases("*")
# (waveform input, params entry with its rate, mel output, latent output) per audio-encoding flow.
ENCODE_IO = [
    ("source_audio", "source_audio", "source_mel", "source_audio_latent"),
    ("reference_audio", "reference_audio", "reference_mel", "reference_audio_latent"),
    ("audio", "input_audio", "audio_mel", "audio_latent_full"),
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _decoded_latent(name, case):
    if "audio_waveform" not in case.outputs or "output_audio" in case.params:
        return None  # A2V returns its input waveform; nothing is decoded
    # Lip-dub decodes the stage-1 audio latent (README 7.12); the other flows the last stage's.
    order = ["stage1_audio_latent"] if "lipdub" in name else ["stage2_audio_latent", "stage1_audio_latent"]
    return next((case.outputs[k] for k in order if k in case.outputs), None)


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_bf16_decode_and_vocode(path):
    case = load_case(path)
    latent = _decoded_latent(case.name, case)
    if latent is None:
        pytest.skip("flow decodes no audio latent")
    ckpt = case.file(case.params["checkpoint"])
    decoder = load_audio_decoder(ckpt, dtype=torch.bfloat16)
    vocoder = load_vocoder(ckpt, dtype=torch.bfloat16)
    wave, rate = decode_audio(decoder, vocoder, latent)
    assert rate == case.params["audio_sampling_rate"]
    # Bit-exact with the recording's kernels. On others, the LTX-2.3 float32 vocoder's summation order moves the
    # waveform by up to ~0.004 (README 7.13) and the bf16 decoders round differently.
    expected = case.outputs["audio_waveform"].float()
    ltx23 = case.params["variant"] == "ltx23"  # its vocoder amplifies other kernels' rounding: drift is still seen
    tolerance = WAVEFORM_ON_OTHER_KERNELS if ltx23 else COMPONENT_ON_OTHER_KERNELS
    blind = blind_to(tolerance, wave, expected, DRIFTS if ltx23 else None)
    assert not blind, f"{case.name}/audio_waveform: the tolerant bound would pass the record {blind}"
    if not parity_for(case).strict:  # other CPU kernels: scattered bf16 differences, no drift (cpu_parity)
        found = tolerance.violations(wave, expected)
        assert not found, f"{case.name}/audio_waveform: {'; '.join(found)}"
        return
    report(f"{case.name}/audio_waveform (bf16)", wave, expected, 1e-5)


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_bf16_mel_and_encode(path):
    case = load_case(path)
    io = next(((w, p, m, z) for w, p, m, z in ENCODE_IO if m in case.outputs and w in case.inputs), None)
    if io is None:
        pytest.skip("flow encodes no audio")
    wave_key, params_key, mel_key, latent_key = io
    info = case.params[params_key]
    ckpt = [case.file(case.params["checkpoint"]), case.file(case.params["audio_vae_encoder"])]
    encoder = load_audio_encoder(ckpt, dtype=torch.bfloat16)
    wave = case.inputs[wave_key][..., : info.get("samples_used", info["samples"])]
    mel = waveform_to_mel(wave, info["sampling_rate"], encoder.cfg.mel)
    report(f"{case.name}/{mel_key}", mel, case.outputs[mel_key], 1e-5)
    with torch.no_grad():
        latent = encoder(case.outputs[mel_key])
    assert latent.dtype == torch.bfloat16
    expected = case.outputs[latent_key]
    if latent_key == "source_audio_latent":  # retake fits the encoded audio to the clip length
        frames = audio_latent_frames_for_video(case.params["num_frames"], case.params["frame_rate"])
        latent = fit_audio_latent(latent, frames)
    if parity_for(case).strict:
        report(f"{case.name}/{latent_key} (bf16)", latent.float(), expected.float(), 1e-5)
    else:  # other CPU kernels: scattered bf16 differences, no drift (cpu_parity)
        found = COMPONENT_ON_OTHER_KERNELS.violations(latent, expected)
        found += [f"blind to {p}" for p in blind_to(COMPONENT_ON_OTHER_KERNELS, latent, expected)]
        assert not found, f"{case.name}/{latent_key}: {'; '.join(found)}"
