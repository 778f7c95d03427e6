"""`--hdr` on the command line (spec NP 5): the distilled command end to end on the golden tiny LTX-2.5 files (an EXR
still in, the HLG master and EXR frames out), Retake on a folder of EXR frames, and the one-line errors (a bad
colour space, the option on a pipeline without it, EXR without --hdr, EXR mixed with SDR, IC-LoRA's and Retake's EXR
frame folders, the extra missing)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ltx_core.hdr.hlg import hlg_planes
from ltx_core.hdr.primaries import Primaries
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.testing.golden import golden_dir, load_case, pipeline_cases_120
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.testing.command_lines import flags

pytest.importorskip("OpenEXR", reason="the HDR extra (ltx-pipelines[hdr]) is not installed")


def _one_line(name: str, argv: list[str]) -> str:
    result = CliRunner().invoke(build_app(name), argv)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_the_distilled_command_writes_the_hdr_master_and_exr_frames(tmp_path: Path) -> None:
    """The official HDR case's inputs as a command line (its prompt through the tiny Gemma-4 root: contexts within the
    text path's tolerance, not bitwise, so the free-running result is not compared with the official frames; the
    pipeline's own parity is test_ltx25_distilled_hdr): every EXR frame, the summary row, and an HLG master whose
    decoded luma is the EXR frames' light."""
    import av

    from ltx_pipelines.media.exr import read_exr, write_exr

    found = pipeline_cases_120("ltx25_distilled_hdr")
    if not found:
        pytest.skip(f"no HDR end-to-end case under {golden_dir()} (its tiny LTX-2.5 files run the command)")
    case = load_case(found[0])
    p = case.params
    image = write_exr(tmp_path / "image.exr", case.inputs["image_exr_pixels"], HDRColorSpace.SRGB_LINEAR, half=False)
    out = tmp_path / "clip.mp4"
    spec = p["image_conditioning"]
    argv = flags(
        distilled_checkpoint_path=case.file(p["checkpoint"]),
        gemma_root=golden_dir() / p["gemma_root"],  # a folder (`case.file` resolves files)
        spatial_upsampler_path=case.file(p["upsampler"]),
        prompt=p["prompt"],
        seed=p["seed"],
        height=p["height"],
        width=p["width"],
        num_frames=p["num_frames"],
        frame_rate=p["frame_rate"],
        image=(image, spec["frame_idx"], spec["strength"]),
        hdr=p["color_space"].lower(),
        output_path=out,
    )
    result = CliRunner().invoke(build_app("distilled"), argv)
    assert result.exit_code == 0, result.output
    assert "SRGB_LINEAR: HLG master (BT.2020, 10-bit HEVC)" in result.output  # the summary's hdr row
    assert sorted(q.name for q in tmp_path.iterdir()) == ["clip.mp4", "clip_exr", "image.exr"]
    files = sorted((tmp_path / "clip_exr").iterdir())
    assert [f.name for f in files] == p["exr_output"]["files"]
    linear = torch.stack([torch.from_numpy(read_exr(f)) for f in files])  # SRGB_LINEAR: Rec.709 light
    assert linear.shape == (p["num_frames"], p["height"], p["width"], 3)
    assert bool(torch.isfinite(linear).all()) and linear.min().item() >= 0 and linear.max().item() > 1
    y_expected = hlg_planes(linear, Primaries.REC709)[0].int()
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        assert (context.pix_fmt, context.color_primaries, context.color_trc, context.colorspace) == (
            "yuv420p10le",
            9,
            18,
            9,
        )
        decoded = [_y_plane(frame) for frame in container.decode(video=0)]
    assert len(decoded) == p["num_frames"]
    diff = (torch.stack(decoded) - y_expected).abs().float().mean().item()
    spread = (y_expected - y_expected.float().mean()).abs().float().mean().item()
    # the master is the EXR frames' light: the CRF 12 loss on these noisy tiny frames is ~7 codes on average, a
    # fraction of the picture's own variation (a wrong curve, matrix, range or bit depth is of its order or more)
    assert diff <= 0.1 * spread, (diff, spread)


def _y_plane(frame: Any) -> torch.Tensor:
    plane = frame.planes[0]
    rows = np.frombuffer(bytes(plane), dtype="<u2").reshape(frame.height, plane.line_size // 2)
    return torch.from_numpy(rows[:, : frame.width].astype(np.int32))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from PIL import Image

    from ltx_pipelines.media.exr import write_exr

    d = tmp_path_factory.mktemp("hdr_media")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(d / "still.png")
    write_exr(d / "still.exr", torch.full((8, 8, 3), 0.18), HDRColorSpace.SRGB_LINEAR)
    (d / "frames").mkdir()
    write_exr(d / "frames" / "f0.exr", torch.full((8, 8, 3), 0.5), HDRColorSpace.ACESCCT)
    return {"png": d / "still.png", "exr": d / "still.exr", "frames": d / "frames"}


def _argv(folder: Path, out: Path, **extra: object) -> list[str]:
    return flags(
        distilled_checkpoint_path=folder / "distilled.safetensors",
        gemma_root=folder / "gemma",
        spatial_upsampler_path=folder / "spatial_upsampler_x2.safetensors",
        prompt="a fox",
        height=64,
        width=64,
        num_frames=9,
        output_path=out,
        quiet=True,
        **extra,
    )


def test_one_line_errors(
    tiny_sets: dict[str, Path], media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = tiny_sets["ltx23"], tmp_path / "out.mp4"
    line = _one_line("distilled", _argv(folder, out, hdr="rec2020"))
    assert "'rec2020' is not one of SRGB_LINEAR, ACESCG, ACESCCT (any case)" in line
    line = _one_line("distilled", _argv(folder, out, image=(media["exr"], 0, 1.0)))
    assert f"EXR input '{media['exr']}' needs --hdr (SRGB_LINEAR, ACESCG or ACESCCT" in line
    mixed = [*_argv(folder, out, hdr="acescg", image=(media["exr"], 0, 1.0)), "--image", str(media["png"]), "8", "1"]
    assert "mix EXR" in _one_line("distilled", mixed)
    dubit = [
        *flags(distilled_checkpoint_path=folder / "distilled.safetensors", gemma_root=folder / "gemma", prompt="a"),
        *flags(reference_video=media["png"], output_path=out, hdr="acescg"),
    ]
    line = _one_line("dubit", dubit)
    assert "--hdr is not an option of this pipeline: native HDR is available in distilled, " in line
    assert "retake (Dub-It has none, as in the official)" in line
    retake = [
        *flags(distilled_checkpoint_path=folder / "distilled.safetensors", gemma_root=folder / "gemma", prompt="a"),
        *flags(video_path=media["frames"], start_time=0, end_time=0.1, output_path=out),
    ]
    line = _one_line("retake", [*retake, *flags(frame_rate=24)])
    assert f"EXR input '{media['frames']}' needs --hdr" in line
    line = _one_line("retake", [*retake, *flags(hdr="acescct")])
    assert "--video-path frames is a folder of EXR frames, which has no frame rate: give --frame-rate" in line
    ic_lora = [
        *flags(distilled_checkpoint_path=folder / "distilled.safetensors", gemma_root=folder / "gemma"),
        *flags(spatial_upsampler_path=folder / "spatial_upsampler_x2.safetensors", prompt="a fox", output_path=out),
        *flags(lora=folder / "ic_lora.safetensors", num_frames=9, height=64, width=64, quiet=True),
    ]
    line = _one_line("ic_lora", [*ic_lora, *flags(video_conditioning=(media["frames"], 1.0))])
    assert f"EXR input '{media['frames']}' needs --hdr" in line
    short = [*ic_lora, *flags(video_conditioning=(media["frames"], 1.0), hdr="acescct")]
    line = _one_line("ic_lora", [*short, "--image", str(media["png"]), "0", "1"])
    assert "mix EXR" in line
    monkeypatch.setitem(sys.modules, "OpenEXR", None)  # the optional extra not installed
    line = _one_line("distilled", _argv(folder, out, hdr="acescg"))
    assert "HDR / EXR support needs the optional extra: pip install 'ltx-pipelines[hdr]'" in line
    assert not out.exists()


def test_retake_writes_the_hdr_master_and_exr_frames_of_an_exr_folder(
    tiny_sets: dict[str, Path], tmp_path: Path
) -> None:
    """A folder of ACEScct frames as --video-path with --frame-rate: the output keeps the folder's size, frame count and
    the given rate, as EXR frames (ACEScct codes, the decoded ones) and the HLG master, with a generated soundtrack."""
    import av

    from ltx_pipelines.media.exr import read_exr, write_exr

    folder, plates = tiny_sets["ltx23"], tmp_path / "plates"
    plates.mkdir()
    codes = torch.rand(9, 64, 96, 3, generator=torch.Generator().manual_seed(2)).mul(0.6).add(0.2)
    for k, frame in enumerate(codes):
        write_exr(plates / f"shot_{k:03d}.exr", frame, HDRColorSpace.ACESCCT)
    out = tmp_path / "retake.mp4"
    argv = flags(
        distilled_checkpoint_path=folder / "distilled.safetensors",
        gemma_root=folder / "gemma",
        prompt="a fox",
        video_path=plates,
        start_time=0.1,
        end_time=0.3,
        frame_rate=25,
        hdr="ACESCCT",
        output_path=out,
    )
    result = CliRunner().invoke(build_app("retake"), argv)
    assert result.exit_code == 0, result.output
    assert "ACESCCT: HLG master (BT.2020, 10-bit HEVC)" in result.output
    files = sorted((tmp_path / "retake_exr").iterdir())
    assert [f.name for f in files] == [f"frame_{k:05d}.exr" for k in range(9)]
    decoded = torch.stack([torch.from_numpy(read_exr(f)) for f in files])
    assert decoded.shape == (9, 64, 96, 3) and decoded.min().item() >= 0 and decoded.max().item() <= 1
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        context = video.codec_context
        assert (context.pix_fmt, context.color_trc, float(video.average_rate)) == ("yuv420p10le", 18, 25.0)
        assert (context.height, context.width, len(container.streams.audio)) == (64, 96, 1)
        assert sum(1 for _ in container.decode(video=0)) == 9
