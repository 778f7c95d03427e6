"""DubItPipeline (formerly LipDubPipeline): the negative-time audio reference (by hand and against the golden case),
reading the reference clip, end to end on generated tiny checkpoints (CLI MP4, determinism, one-line errors without
output files), and the old names."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
import torch
from typer.testing import CliRunner

from ltx_core.components.latent_tools import AudioLatentTools
from ltx_core.components.patchifiers import AudioPatchifier
from ltx_core.errors import InputError
from ltx_core.testing.golden import e2e_cases, load_case
from ltx_core.types import Audio, AudioLatentShape
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.media.mp4 import write_mp4
from ltx_pipelines.media.video import VideoClip
from ltx_pipelines.utils.ic_reference import audio_reference_item, read_lipdub_reference, snapped_frame_count
from ltx_pipelines.utils.recording import recording

FPS = 24.0


def _golden_cases() -> list[Path]:
    return e2e_cases("*_lipdub_*")


def test_audio_reference_is_appended_at_negative_times() -> None:
    """[target | reference]; the reference's 40-ms tokens end 0.04 s before t = 0, mask 0 (kept clean)."""
    target = AudioLatentShape(1, 8, 5, 16)
    tools = AudioLatentTools(AudioPatchifier(1), target)
    state = tools.create_initial_state("cpu", torch.bfloat16)
    reference = torch.randn(1, 8, 3, 16, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    new = audio_reference_item(reference).apply_to(state, tools)
    assert new.latent.shape[1] == 5 + 3
    assert torch.equal(new.positions[:, :, :5], state.positions)
    assert torch.equal(new.clean_latent[:, 5:], reference.permute(0, 2, 1, 3).flatten(2))  # (B, T, C·M)
    ref = new.positions[0, 0, 5:]
    own = state.positions[0, 0, :3]  # a 3-frame latent's own bounds, as the target's first three
    shift = float(own[-1, 1]) + 0.04
    torch.testing.assert_close(ref, own - shift, rtol=0, atol=1e-6)
    assert float(ref.max()) == pytest.approx(-0.04, abs=1e-6)
    assert torch.equal(new.denoise_mask[0, 5:, 0], torch.zeros(3)) and torch.equal(
        new.denoise_mask[0, :5, 0], torch.ones(5)
    )


@pytest.mark.parametrize("path", _golden_cases(), ids=lambda p: p.stem)
def test_audio_reference_matches_golden(path: Path) -> None:
    case = load_case(path)
    for stage, latent in ((1, "reference_audio_latent"), (2, "stage1_audio_latent")):
        recorded: dict[str, torch.Tensor] = {}
        with recording(recorded.__setitem__):
            audio_reference_item(case.outputs[latent])
        assert torch.equal(recorded["reference_audio_tokens"], case.outputs[f"stage{stage}_reference_audio_tokens"])
        assert torch.equal(
            recorded["reference_audio_positions"], case.outputs[f"stage{stage}_reference_audio_positions"]
        )
        positions = case.outputs[f"stage{stage}_audio_positions"]
        n_ref = recorded["reference_audio_tokens"].shape[1]
        assert bool((positions[..., -n_ref:, :] < 0).all()) and bool((positions[..., :-n_ref, :] >= 0).all())


def test_reference_reading() -> None:
    assert [snapped_frame_count(n) for n in (1, 8, 9, 16, 17, 19)] == [1, 1, 9, 9, 17, 17]
    audio = Audio(torch.zeros(2, 800), 16000)
    ref = read_lipdub_reference(VideoClip(torch.zeros(19, 8, 8, 3, dtype=torch.uint8), 25.0), audio)
    assert ref.num_frames == 17 and ref.frame_rate == 25.0
    with pytest.raises(InputError, match="need the reference audio too"):
        read_lipdub_reference(VideoClip(torch.zeros(9, 8, 8, 3, dtype=torch.uint8), 25.0))
    with pytest.raises(InputError, match="need their frame rate"):
        read_lipdub_reference(torch.zeros(9, 8, 8, 3, dtype=torch.uint8), audio)


# --- end to end on tiny checkpoints ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tiny_sets: dict[str, Path]) -> dict[str, Path]:
    return tiny_sets


def _clip(frames: int) -> torch.Tensor:
    small = torch.rand(1, 3, 3, 4, 6, generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.interpolate(small, size=(frames, 48, 80), mode="trilinear")[0].permute(1, 2, 3, 0)


def _tone(frames: int) -> Audio:
    t = torch.arange(int(16000 * frames / FPS)) / 16000
    return Audio(0.5 * torch.stack([torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 660 * t)]), 16000)


def _args(folder: Path, out: Path, reference: Path, *extra: str) -> list[str]:
    return [
        "--distilled-checkpoint-path",
        str(folder / "distilled.safetensors"),
        "--spatial-upsampler-path",
        str(folder / "spatial_upsampler_x2.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--prompt",
        "a person speaking",
        "--height",
        "64",
        "--width",
        "64",
        "--reference-video",
        str(reference),
        "--output-path",
        str(out),
        "--quiet",
        *extra,
    ]


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(build_app("dubit"), args)
    return result.exit_code, result.output


def test_cli_writes_dubbed_mp4(tiny: dict[str, Path], tmp_path: Path) -> None:
    folder = tiny["ltx23"]
    reference = write_mp4(tmp_path / "talk.mp4", _clip(11), FPS, _tone(11))
    out = tmp_path / "out.mp4"
    code, text = _invoke(_args(folder, out, reference, "--lora", str(folder / "distilled_lora.safetensors")))
    assert code == 0, text
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height, video.average_rate) == (64, 64, int(FPS))
        assert sum(1 for _ in container.decode(video=0)) == 9  # 11 reference frames snapped down to 8k+1
    with av.open(str(out)) as container:
        assert container.streams.audio[0].channels == 2 and sum(f.samples for f in container.decode(audio=0)) > 0


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("two_loras", 2, "takes exactly one IC-LoRA (--lora PATH); got 2"),
        ("no_audio", 2, "--reference-video: file"),  # and "has no audio stream": checked before any model is built
        ("corrupt", 2, "--reference-video: cannot read video file"),
        ("dev", 2, "non-distilled (dev) checkpoint; the Dub-It pipeline"),
    ],
)
def test_bad_inputs_one_line_no_file(tiny: dict[str, Path], tmp_path: Path, case: str, code: int, message: str) -> None:
    folder = tiny["ltx23"]
    reference = write_mp4(tmp_path / "talk.mp4", _clip(9), FPS, None if case == "no_audio" else _tone(9))
    if case == "corrupt":
        reference.write_bytes(reference.read_bytes()[:200])
    out = tmp_path / "out.mp4"
    lora = ["--lora", str(folder / "distilled_lora.safetensors")] * (2 if case == "two_loras" else 1)
    args = _args(folder, out, reference, *lora)
    if case == "dev":
        args[1] = str(folder / "dev.safetensors")
    got, text = _invoke(args)
    assert got == code, text
    assert message in text and len(text.strip().splitlines()) == 1, text
    assert case != "no_audio" or "has no audio stream" in text
    assert not out.exists()


def test_the_old_names_still_work_and_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    import ltx_pipelines.lipdub as old
    from ltx_pipelines.dubit import DubItPipeline

    with pytest.warns(FutureWarning, match="old names of ltx_pipelines.dubit / DubItPipeline"):
        assert old.LipDubPipeline is DubItPipeline
    with pytest.raises(SystemExit) as info:
        old.main(["--help"])
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert "Usage: python -m ltx_pipelines.lipdub" in " ".join(out.split())
    note = "note: ltx_pipelines.lipdub / LipDubPipeline are the old names of ltx_pipelines.dubit / DubItPipeline"
    assert err.strip() == note
