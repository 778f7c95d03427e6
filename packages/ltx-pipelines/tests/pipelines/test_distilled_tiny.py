"""The distilled pipeline end to end on generated tiny checkpoints (both versions): the MP4 it writes, image
conditioning, and the command line's answer to each class of bad input (one line, exit code, no file).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from ltx_core.errors import CheckpointError
from ltx_core.loader import SafetensorsFile
from ltx_core.testing.tiny_checkpoints import VERSIONS, make_tiny_checkpoints
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.testing.command_lines import flags
from ltx_pipelines.utils.helpers import ImageConditioningInput

HEIGHT, WIDTH, FRAMES, FPS = 64, 128, 9, 24.0  # smallest two-stage size the reflect-padded LTX-2 decoder takes


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("distilled_tiny")  # this module's own files (broken copies)


def _args(folder: Path, out: Path, *extra: str, ckpt: Path | None = None) -> list[str]:
    return [
        *flags(
            distilled_checkpoint_path=ckpt or folder / "distilled.safetensors",
            spatial_upsampler_path=folder / "spatial_upsampler_x2.safetensors",
            gemma_root=folder / "gemma",
            prompt="a red fox in the snow",
            height=HEIGHT,
            width=WIDTH,
            num_frames=FRAMES,
            frame_rate=FPS,
            output_path=out,
            quiet=True,
        ),
        *extra,
    ]


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(build_app("distilled"), args)
    return result.exit_code, result.output  # click >= 8.2: stdout and stderr interleaved


@pytest.mark.parametrize("version", VERSIONS)
def test_cli_writes_mp4_with_audio(tiny_sets: dict[str, Path], tmp_path: Path, version: str) -> None:
    folder = tiny_sets[version]
    out = tmp_path / "nested" / "out.mp4"
    code, text = _invoke(_args(folder, out, "--seed", "3"))
    assert code == 0, text
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (WIDTH, HEIGHT)
        assert video.average_rate == int(FPS)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == FRAMES
    rate = 24000 if version == "ltx2" else 48000  # the tiny vocoders' output rates (tiny_vocoder_config)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].rate == rate and container.streams.audio[0].channels == 2
        samples = sum(f.samples for f in container.decode(audio=0))
    # The waveform covers (4·T − 3) mel hops of the T = round(frames/fps·25) audio latents; AAC adds < 1 frame.
    latents = round(FRAMES / FPS * 25)
    expected = (4 * latents - 3) * 160 / 16000
    assert abs(samples / rate - expected) < 1024 / rate + 1e-9
    assert [p.name for p in out.parent.iterdir()] == ["out.mp4"]  # no temporary file left


def test_image_conditioning_runs(components: Any, tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 70, 3), dtype=np.uint8)).save(image)
    pipeline = DistilledPipeline(components.distilled, None, components.distilled, device="cpu")  # in memory
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        components.positive,
        seed=1,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        frame_rate=FPS,
        images=[ImageConditioningInput(image, 0, 1.0)],
        record=lambda name, t: recorded.__setitem__(name, t),
    )
    result.video.close()
    # strength 1 at frame 0: the first latent frame's tokens are kept clean (mask 0) in both stages
    for stage, (h, w) in (("stage1", (HEIGHT // 64, WIDTH // 64)), ("stage2", (HEIGHT // 32, WIDTH // 32))):
        mask = recorded[f"{stage}_video_denoise_mask"][0, :, 0]
        assert torch.equal(mask[: h * w], torch.zeros(h * w)) and bool((mask[h * w :] == 1).all())
        assert recorded[f"{stage}_image_pixels"].shape == (1, 3, 1, 2 * h * 16, 2 * w * 16)


# --- bad input: one line, exit code, no file ------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def broken_files(tiny_sets: dict[str, Path], tiny: Path) -> dict[str, Path]:
    folder = tiny_sets["ltx2"]
    state = load_file(str(folder / "distilled.safetensors"))
    meta = SafetensorsFile(folder / "distilled.safetensors").metadata
    no_vocoder = tiny / "no_vocoder.safetensors"
    save_file({k: v for k, v in state.items() if not k.startswith("vocoder.")}, str(no_vocoder), metadata=meta)
    foreign_lora = tiny / "foreign_lora.safetensors"
    save_file(
        {
            "diffusion_model.nowhere.lora_A.weight": torch.zeros(2, 4),
            "diffusion_model.nowhere.lora_B.weight": torch.zeros(4, 2),
        },
        str(foreign_lora),
    )
    not_image = tiny / "not_an_image.png"
    not_image.write_text("hello")
    return {"no_vocoder": no_vocoder, "foreign_lora": foreign_lora, "not_image": not_image}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("height", "nearest valid"),
        ("frames", "8k+1"),
        ("missing_checkpoint", "not found"),
        ("lora_as_checkpoint", "LoRA"),
        ("upsampler_as_checkpoint", "upsampler"),
        ("checkpoint_as_upsampler", "not a latent upsampler"),
        ("checkpoint_as_lora", "not a LoRA"),
        ("lacks_component", "lacks the vocoder"),
        ("unreadable_image", "not_an_image.png"),
        ("offload", "cannot be combined"),
        ("foreign_lora", "none of its 1 LoRA weight pairs match the model"),
    ],
)
def test_bad_input_exit_2(
    tiny_sets: dict[str, Path], broken_files: dict[str, Path], tmp_path: Path, case: str, expected: str
) -> None:
    folder = tiny_sets["ltx2"]
    out = tmp_path / "out.mp4"
    ckpt = folder / "distilled.safetensors"
    extra: list[str] = []
    if case == "height":
        extra = ["--height", "100"]
    elif case == "frames":
        extra = ["--num-frames", "10"]
    elif case == "missing_checkpoint":
        ckpt = folder / "nope.safetensors"
    elif case == "lora_as_checkpoint":
        ckpt = folder / "distilled_lora.safetensors"
    elif case == "upsampler_as_checkpoint":
        ckpt = folder / "spatial_upsampler_x2.safetensors"
    elif case == "checkpoint_as_upsampler":
        extra = ["--spatial-upsampler-path", str(ckpt)]
    elif case == "checkpoint_as_lora":
        extra = ["--lora", str(ckpt)]
    elif case == "lacks_component":
        ckpt = broken_files["no_vocoder"]
    elif case == "unreadable_image":
        extra = ["--image", str(broken_files["not_image"]), "0", "1.0"]
    elif case == "offload":
        extra = ["--offload", "cpu", "--compile"]  # streaming cannot be compiled
    elif case == "foreign_lora":
        extra = ["--lora", str(broken_files["foreign_lora"])]  # checked against the checkpoint's header
    code, text = _invoke(_args(folder, out, *extra, ckpt=ckpt))
    assert code == 2, text
    assert expected in " ".join(text.replace("│", " ").split()), text  # usage errors come in a wrapped panel
    if case not in ("height", "frames", "missing_checkpoint"):  # ours (the others are Typer usage errors)
        assert len(_lines(text)) == 1, text
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has 1 GiB free. More."),
            "error: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has 1 GiB free; try --offload cpu or disk",
        ),
        (MemoryError(), "error: out of host memory (RAM); try --offload disk"),
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you"
            ),
            "error: out of host memory (RAM); try --offload disk",
        ),
        (CheckpointError("decoder weights unreadable"), "error: decoder weights unreadable"),
    ],
    ids=["accelerator_oom", "host_oom", "cpu_allocator_oom", "ltx_error"],
)
def test_failure_while_writing_exit_1_no_file(
    tiny_sets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, expected: str
) -> None:
    """A failure after the first frames reached the MP4 writer (the decoder runs while writing): one line, exit 1,
    and neither the .mp4 nor its temporary file is left."""
    import ltx_core.model.video_vae as video_vae

    decode_video = video_vae.decode_video

    def failing_decode(*args: object, **kwargs: object) -> Iterator[torch.Tensor]:
        chunks = decode_video(*args, **kwargs)
        yield next(iter(chunks))
        raise failure

    monkeypatch.setattr(video_vae, "decode_video", failing_decode)
    out = tmp_path / "out.mp4"
    code, text = _invoke(_args(tiny_sets["ltx2"], out))
    assert code == 1, text
    lines = _lines(text)
    assert len(lines) == 1 and lines[0].startswith(expected), text
    assert list(tmp_path.iterdir()) == []


def test_module_help_runs_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "ltx_pipelines.distilled", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert proc.returncode == 0, proc.stderr
    for flag in (
        "--distilled-checkpoint-path",
        "--spatial-upsampler-path",
        "--gemma-root",
        "--image",
        "--lora",
        "--num-frames",
        "--frame-rate",
        "--output-path",
        "--enhance-prompt",
    ):
        assert flag in proc.stdout
    assert "RuntimeWarning" not in proc.stderr


# --- the generated set itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_tiny_set_has_the_released_layout(tiny_sets: dict[str, Path], golden: Path, version: str) -> None:
    folder = tiny_sets[version]
    dev = SafetensorsFile(folder / "dev.safetensors")
    assert dev.metadata.get("model_version") == ("2.3.0" if version == "ltx23" else None)
    for row in ("channel", "mean-of-stds", "mean-of-stds_over_std-of-means"):
        assert f"vae.per_channel_statistics.{row}" in dev.keys()
    reference = golden / "e2e" / f"{version}_e2e_tiny.safetensors"
    if reference.exists():  # same configs as the official e2e files, which leave the audio encoder out
        ref = SafetensorsFile(reference)
        ours = {k: (i.shape, i.dtype) for k, i in dev.tensors.items() if not k.startswith("audio_vae.encoder.")}
        assert ours == {k: (i.shape, i.dtype) for k, i in ref.tensors.items()}
        assert dev.config == ref.config
    distilled = SafetensorsFile(folder / "distilled.safetensors")
    assert distilled.keys() == dev.keys() and distilled.metadata == dev.metadata
    lora, ic = SafetensorsFile(folder / "distilled_lora.safetensors"), SafetensorsFile(folder / "ic_lora.safetensors")
    assert lora.metadata == {"format": "pt"}
    assert ic.metadata == {"format": "pt", "reference_downscale_factor": "2"}
    assert lora.keys() and all(k.startswith("diffusion_model.transformer_blocks.") for k in lora.keys())
    upsampler = SafetensorsFile(folder / "spatial_upsampler_x2.safetensors")
    assert upsampler.config["spatial_upsample"] is True and upsampler.config["spatial_scale"] == 2.0
    assert (folder / "gemma" / "tokenizer.json").is_file()
    if version != "ltx2":
        return  # one regeneration is enough to show determinism (and keeps the suite fast)
    again = make_tiny_checkpoints(folder.parent / "again", (version,), seed=0)[version]
    for name in ("dev.safetensors", "distilled_lora.safetensors"):  # deterministic (header key order may vary)
        mine, theirs = SafetensorsFile(folder / name), SafetensorsFile(again / name)
        assert mine.metadata == theirs.metadata
        expected = dict(mine.iter_tensors())
        assert all(torch.equal(t, expected[k]) for k, t in theirs.iter_tensors())


def test_audio_conditioner_encodes(tiny_sets: dict[str, Path]) -> None:
    from ltx_pipelines.utils.blocks import AudioConditioner, LatentGeometry

    ckpt = tiny_sets["ltx2"] / "distilled.safetensors"
    seconds, rate = 0.4, 22050
    t = torch.arange(int(seconds * rate)) / rate
    wave = torch.stack([torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 660 * t)])[None] * 0.5
    latent = AudioConditioner(ckpt, device="cpu")(lambda encode: encode(wave, rate))
    geometry = LatentGeometry.of(ckpt)
    assert latent.shape[:2] == (1, geometry.audio_channels) and latent.shape[3] == geometry.audio_mel_bins
    # resampled to 16 kHz: 6400 samples → 1 + 6400/160 = 41 mel frames (centred STFT) → 1 + 40/4 latents (causal)
    assert latent.shape[2] == 1 + int(seconds * 16000) // 160 // 4
    assert torch.isfinite(latent.float()).all()


_CUDA_ONLY = (
    "synchronize",
    "Stream",
    "Event",
    "current_stream",
    "stream",
    "empty_cache",
    "mem_get_info",
    "max_memory_allocated",
    "memory_allocated",
    "reset_peak_memory_stats",
    "get_device_capability",
    "get_device_name",
    "cudart",
    "set_device",
)


@pytest.mark.parametrize("offload", ["auto", "disk", "cpu"])
def test_cpu_runs_touch_no_cuda_only_call(
    tiny_sets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offload: str
) -> None:
    """The CPU path (and so the MPS one, which shares it) calls none of the CUDA-only functions, whatever the
    offload mode: each of them raises here, and CUDA is reported absent."""

    def trap(name: str) -> object:
        def called(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"torch.cuda.{name} called on the CPU path")

        return called

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in _CUDA_ONLY:
        monkeypatch.setattr(torch.cuda, name, trap(name))
    out = tmp_path / "cpu.mp4"
    code, text = _invoke(_args(tiny_sets["ltx23"], out, "--offload", offload, "--device", "cpu"))
    assert code == 0, text
    assert out.is_file()


@pytest.mark.parametrize("pre_quantized", [False, True])
def test_fp8_on_mps_is_refused_before_any_model_is_built(
    tiny_sets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pre_quantized: bool
) -> None:
    """Apple MPS has no float8: the preflight refuses `--quantization fp8-cast`, and the fp8-scaled-mm chosen
    automatically for a pre-quantized checkpoint, in one line before Gemma encodes the prompt (MPS is reported
    present; nothing may reach it, so building any model here fails the test)."""
    from ltx_core.testing.fp8_checkpoints import write_scaled_fp8_checkpoint
    from ltx_pipelines.utils.blocks import lifetime

    folder = tiny_sets["ltx23"]
    ckpt, extra, quantization = folder / "distilled.safetensors", ["--quantization", "fp8-cast"], "fp8-cast"
    if pre_quantized:
        ckpt, extra, quantization = tmp_path / "fp8.safetensors", [], "fp8-scaled-mm"
        write_scaled_fp8_checkpoint(folder / "distilled.safetensors", ckpt)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)

    def built(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was built before the quantization was refused")

    monkeypatch.setattr(lifetime, "built", built)
    out = tmp_path / "mps.mp4"
    code, text = _invoke(_args(folder, out, "--device", "mps", *extra, ckpt=ckpt))
    assert code != 0 and not out.exists()
    assert f"quantization {quantization!r} is not supported on Apple MPS" in " ".join(text.split()), text


def test_cli_decodes_through_a_diffusion_decoder_file(tiny_sets: dict[str, Path], tmp_path: Path) -> None:
    """A checkpoint whose `vae._class_name` names the LTX-2.5 diffusion decoder (released layout: fused qkv, gates)
    is decoded by it end to end: the tiny LTX-2.3 set with its video VAE swapped by the tiny-checkpoint writer."""
    from ltx_core.model.video_vae import DiffusionVideoDecoder, load_video_decoder
    from ltx_core.testing.tiny_checkpoints import write_diffusion_vae_checkpoint

    folder = tiny_sets["ltx23"]
    ckpt = write_diffusion_vae_checkpoint(folder / "distilled.safetensors", tmp_path / "dvae.safetensors")
    assert isinstance(load_video_decoder(ckpt), DiffusionVideoDecoder)
    out = tmp_path / "out.mp4"
    code, text = _invoke(_args(folder, out, "--seed", "3", ckpt=ckpt))
    assert code == 0, text
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (WIDTH, HEIGHT)
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
