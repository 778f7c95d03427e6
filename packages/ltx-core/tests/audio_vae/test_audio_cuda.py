"""Device handling on CUDA (skipped without one): every derived table must follow the input's device."""

import pytest
import torch

from ltx_core.model.audio_vae.loading import load_audio_decoder, load_audio_encoder, load_vocoder
from ltx_core.model.audio_vae.mel import waveform_to_mel
from ltx_core.testing.golden import load_case, report

# cuDNN may use TF32 for float32 convolutions (PyTorch's default), so hold a looser bound than on CPU.
TOL = 1e-3


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["ltx2", "ltx23"])
def test_audio_path_on_cuda(golden, variant):
    ckpt = golden / f"{variant}_tiny.safetensors"
    enc = load_audio_encoder(ckpt, device="cuda")
    dec = load_audio_decoder(ckpt, device="cuda")
    voc = load_vocoder(ckpt, device="cuda")
    pre = load_case(golden / "cases" / "common" / "audio_preprocess.safetensors")
    for name, wave in pre.inputs.items():
        rate = int(name.rsplit("_", 1)[1])
        mel = waveform_to_mel(wave.cuda(), rate, enc.cfg.mel)
        report(f"cuda/mel_{rate}", mel.cpu(), pre.outputs[f"mel_{rate}"], TOL)
    with torch.no_grad():
        for case_name, module, key_in, key_out in [
            ("audio_vae_encode", enc, "mel", "latent"),
            ("audio_vae_decode", dec, "latent", "mel"),
            ("vocoder", voc, "mel", "waveform"),
        ]:
            case = load_case(golden / "cases" / variant / f"{case_name}.safetensors")
            got = module(case.inputs[key_in].cuda())
            report(f"cuda/{variant}/{case_name}", got.cpu(), case.outputs[key_out], TOL)
