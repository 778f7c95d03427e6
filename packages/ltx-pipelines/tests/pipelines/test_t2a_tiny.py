"""`python -m ltx_pipelines.t2a_one_stage` end to end: tiny files through the command line to a WAV, the audio-only
file cut from a full one (`ltx_core.testing.audio_only`), `--jobs`, the one-line refusals, and the official T2A run
through the whole command line (Gemma-4 text path, duration head, WAV samples)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ltx_core.loader import open_checkpoint
from ltx_core.testing.audio_only import audio_only_file
from ltx_core.testing.cpu_parity import parity_for
from ltx_core.testing.golden import golden_dir, load_case, pipeline_cases_120
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.testing.command_lines import flags

TINY = {"num_frames": 9, "num_inference_steps": 2, "audio_stg_blocks": 1, "seed": 4, "device": "cpu", "quiet": True}


def _invoke(pipeline: str, args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(pipeline), args)
    return result.exit_code, result.output


def _read_wav(path: Path) -> tuple[torch.Tensor, int]:
    """(int16 samples [N, channels], rate), read with the standard library."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return torch.from_numpy(data.copy()), w.getframerate()


@pytest.fixture(scope="module")
def audio_only(tiny_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny LTX-2.3 set's dev checkpoint cut to what text to audio reads."""
    return audio_only_file(tiny_sets["ltx23"] / "dev.safetensors", tmp_path_factory.mktemp("t2a") / "ao.safetensors")


def test_wav_from_the_audio_only_file_and_from_the_full_one(
    tiny_sets: dict[str, Path], audio_only: Path, tmp_path: Path
) -> None:
    """The command line on the cut file, and a --jobs batch on the full checkpoint (its audio stream selected from
    it, the output named by the batch): the same WAV, byte for byte."""
    folder = tiny_sets["ltx23"]
    gemma = folder / "gemma"
    out = tmp_path / "rain.wav"
    code, text = _invoke(
        "t2a_one_stage",
        flags(checkpoint_path=audio_only, gemma_root=gemma, prompt="rain on a roof", output_path=out, **TINY),
    )
    assert code == 0, text
    samples, rate = _read_wav(out)
    vocoder = open_checkpoint(audio_only).config["vocoder"]
    expected_rate = vocoder["bwe"]["output_sampling_rate"] if "bwe" in vocoder else vocoder["output_sampling_rate"]
    assert rate == expected_rate and samples.shape[1] == 2
    assert abs(samples.shape[0] / rate - TINY["num_frames"] / 24.0) < 0.1 and samples.abs().max() > 0

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"prompt": "rain on a roof"}) + "\n")
    batch = {**TINY, "output_dir": tmp_path / "batch", "jobs": jobs}
    code, text = _invoke("t2a_one_stage", flags(checkpoint_path=folder / "dev.safetensors", gemma_root=gemma, **batch))
    assert code == 0, text
    (written,) = (tmp_path / "batch").glob("*.wav")
    assert written.name == "0001-seed4-rain-on-a-roof.wav"
    assert written.read_bytes() == out.read_bytes()


def test_wav_from_the_tiny_ltx25_audio_only_file(tiny_set_25: Path, tmp_path: Path) -> None:
    """The generated LTX-2.5 set's audio-only file (cut from its single file: the 2.5 flags, a duration head, the
    Gemma-4 text encoder): the length left to the head gives a WAV of the head's 8k+1 frames at 24 fps."""
    out = tmp_path / "birds.wav"
    tiny = {k: v for k, v in TINY.items() if k != "num_frames"}
    argv = flags(
        checkpoint_path=tiny_set_25 / "t2a.safetensors",
        gemma_root=tiny_set_25 / "gemma",
        prompt="birds at dawn",
        output_path=out,
        auto_duration=(0.5, 1.0),
        **tiny,
    )
    code, text = _invoke("t2a_one_stage", argv)
    assert code == 0, text
    samples, rate = _read_wav(out)
    frames = samples.shape[0] / rate * 24.0
    assert samples.shape[1] == 2 and samples.abs().max() > 0
    assert any(abs(frames - n) < 0.5 for n in range(9, 26, 8)), frames  # 8k+1 frames within 0.5-1.0 s


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("video pipeline, audio-only file", "has no video transformer (no model.diffusion_model.patchify_proj.weight)"),
        ("no vocoder", "lacks the vocoder (no vocoder.* weights), which this pipeline needs"),
        ("mp4 output", "does not end in .wav; the output is always a WAV file"),
        ("no duration head", "has no duration head (only LTX-2.5 files have one), so --auto-duration cannot"),
        ("min above max", "MIN_S 3 and MAX_S 2: give 0 < MIN_S <= MAX_S"),
        ("video-only LoRA, full file", "LoRA weight pairs match the model"),
    ],
)
def test_refusals_are_one_line_before_any_model(
    tiny_sets: dict[str, Path], audio_only: Path, tmp_path: Path, case: str, message: str
) -> None:
    from safetensors import safe_open

    from ltx_core.testing.tiny_checkpoints import _save

    folder = tiny_sets["ltx23"]
    out = tmp_path / ("out.mp4" if case in ("mp4 output", "video pipeline, audio-only file") else "out.wav")
    checkpoint, pipeline, extra = audio_only, "t2a_one_stage", dict(TINY)
    if case == "video pipeline, audio-only file":
        pipeline, extra = "distilled", {"spatial_upsampler_path": folder / "spatial_upsampler_x2.safetensors"}
    if case == "no vocoder":
        source = open_checkpoint(audio_only)
        with safe_open(str(audio_only), "pt") as f:
            kept = {k: f.get_tensor(k) for k in source.keys() if not k.startswith("vocoder.")}
        checkpoint = tmp_path / "no_vocoder.safetensors"
        _save(checkpoint, kept, dict(source.metadata))
    if case == "video-only LoRA, full file":  # the full file has the video weights, the audio-only model has not
        lora = open_checkpoint(folder / "distilled_lora.safetensors")
        with safe_open(str(lora.path), "pt") as f:
            video = {k: f.get_tensor(k) for k in lora.keys() if ".audio_" not in k and "_to_audio" not in k}
        _save(tmp_path / "video_lora.safetensors", video, {"format": "pt"})
        checkpoint, extra = folder / "dev.safetensors", {**TINY, "lora": tmp_path / "video_lora.safetensors"}
    if case in ("no duration head", "min above max"):
        extra = {**TINY, "num_frames": None, "auto_duration": (1, 2) if case == "no duration head" else (3, 2)}
    path_flag = "distilled_checkpoint_path" if pipeline == "distilled" else "checkpoint_path"
    common = {path_flag: checkpoint, "gemma_root": folder / "gemma", "prompt": "rain", "output_path": out}
    code, text = _invoke(pipeline, flags(**common, **extra))
    assert code == 2, text
    assert message in text and len(text.strip().splitlines()) == 1, text
    assert not out.exists()


@pytest.mark.parametrize("path", pipeline_cases_120("ltx25_t2a_auto"), ids=lambda p: p.stem)
def test_the_official_run_through_the_command_line(path: Path, tmp_path: Path) -> None:
    """The official auto-length run from its prompt: Gemma-4 encodes the prompt pair, the head chooses the length,
    the WAV holds the official samples (bitwise under the recording's kernels; the length on any CPU)."""
    case = load_case(path)
    p = case.params
    out = tmp_path / "official.wav"
    length = p["num_frames_request"]["auto_duration"]
    args = flags(
        checkpoint_path=case.file(p["checkpoint"]),
        gemma_root=golden_dir() / p["gemma_root"],
        prompt=p["prompt"],
        negative_prompt=p["negative_prompt"],
        seed=p["seed"],
        num_inference_steps=p["num_inference_steps"],
        auto_duration=(length["min_seconds"], length["max_seconds"]),
        frame_rate=p["frame_rate"],
        audio_stg_blocks=p["audio_guider"]["stg_blocks"],
        audio_cfg_guidance_scale=p["audio_guider"]["cfg_scale"],
        audio_stg_guidance_scale=p["audio_guider"]["stg_scale"],
        audio_rescale_scale=p["audio_guider"]["rescale_scale"],
        output_path=out,
        device="cpu",
        quiet=True,
    )
    code, text = _invoke("t2a_one_stage", args)
    assert code == 0, text
    samples, rate = _read_wav(out)
    official = case.outputs["wav_pcm_s16"]
    assert rate == p["wav_sampling_rate"] and samples.shape == official.shape  # the head's length
    if parity_for(case).strict:
        assert torch.equal(samples, official)


def test_an_audio_only_config_needs_none_of_the_audio_video_keys(audio_only: Path, tmp_path: Path) -> None:
    """The official audio-only configurator does not ask for the audio-video model's config keys (spec delta B.5):
    a file whose config lacks them gives what the file that has them gives."""
    from safetensors import safe_open

    from ltx_core.components.guiders import MultiModalGuiderParams
    from ltx_core.testing.in_memory import tiny_prompt_contexts
    from ltx_core.testing.tiny_checkpoints import _save
    from ltx_pipelines.t2a_one_stage import T2AOneStagePipeline

    source = open_checkpoint(audio_only)
    config = json.loads(source.metadata["config"])
    for key in ("use_audio_video_cross_attention", "share_ff", "av_cross_ada_norm"):
        del config["transformer"][key]
    with safe_open(str(audio_only), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in source.keys()}
    stripped = tmp_path / "no_av_keys.safetensors"
    _save(stripped, tensors, {**source.metadata, "config": json.dumps(config)})
    positive, negative = tiny_prompt_contexts("ltx23", seed=0), tiny_prompt_contexts("ltx23", seed=1)
    guidance = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,))
    waveforms = [
        T2AOneStagePipeline(path, None, device="cpu")(
            positive, negative, 2, 1, 24.0, 2, guidance, sigmas=(1.0, 0.5, 0.0)
        ).audio.waveform
        for path in (audio_only, stripped)
    ]
    assert torch.equal(waveforms[0], waveforms[1])
