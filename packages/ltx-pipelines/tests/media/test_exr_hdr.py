"""EXR in / out and the HDR master (spec NP 5.2-5.3): the official EXR input path (golden `cases/hdr_120/exr_input`,
float32 1e-5 and its bf16 casts bitwise), EXR round trips, the HLG HEVC master read back (codec, 10-bit, colour tags,
rate, planes), atomic writing, and the one-line errors (the optional extra missing, unreadable EXR, mixed inputs)."""

from __future__ import annotations

import logging
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.hdr.hlg import hlg_planes
from ltx_core.hdr.primaries import Primaries
from ltx_core.hdr.spaces import HDRColorSpace, decode_hdr_video
from ltx_core.testing.golden import golden_dir, load_case, pipeline_cases_120, report

pytest.importorskip("OpenEXR", reason="the HDR extra (ltx-pipelines[hdr]) is not installed")

from ltx_pipelines.media.exr import (
    ResizeMode,
    check_exr_inputs,
    load_exr_frames,
    load_exr_image,
    read_exr,
    write_exr,
)
from ltx_pipelines.media.hdr_mp4 import write_hdr

STILLS = {"srgb_linear": "exr_linear_rec709", "acescg": "exr_linear_rec709", "acescct": "exr_acescct_codes"}


def test_the_official_exr_input_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    found = pipeline_cases_120("exr_input")
    if not found:
        pytest.skip(f"no golden case cases/hdr_120/exr_input under {golden_dir()}")
    case = load_case(found[0])
    i, o, p = case.inputs, case.outputs, case.params
    height, width = p["target_height"], p["target_width"]
    for name, source in STILLS.items():
        space = HDRColorSpace[name.upper()]
        path = write_exr(tmp_path / f"{name}.exr", i[source], space, half=False)
        assert np.array_equal(read_exr(path), i[source].numpy())  # float32 files read back bitwise
        report(
            f"still_{name}", load_exr_image(path, height, width, torch.float32, "cpu", space), o[f"still_{name}"], 1e-5
        )
        bf16 = load_exr_image(path, height, width, torch.bfloat16, "cpu", space)
        assert torch.equal(bf16, o[f"still_{name}_bf16"]), name
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(i["exr_folder_acescg"]):
        write_exr(folder / f"f{k:03d}.exr", frame, HDRColorSpace.ACESCG, half=False)
    expected = o["folder_acescg_reflect_pad"]
    cap = expected.shape[2] + 1  # the case asks for one frame more than the folder has (a warning, not an error)
    with caplog.at_level(logging.WARNING):
        got = load_exr_frames(
            folder,
            height,
            width,
            torch.float32,
            "cpu",
            HDRColorSpace.ACESCG,
            frame_cap=cap,
            resize_mode=ResizeMode.REFLECT_PAD,
        )
    assert "has 2 frames" in caplog.text
    report("folder_acescg_reflect_pad", got, expected, 1e-5)
    half = write_exr(tmp_path / "half.exr", i["exr_linear_rec709"], HDRColorSpace.SRGB_LINEAR)
    assert np.array_equal(read_exr(half), o["read_exr_half_write"].numpy())


def test_exr_channels_and_tags_round_trip(tmp_path: Path) -> None:
    """Half-float frames come back exactly, with the colour space's tags; a one-channel file is replicated."""
    import OpenEXR

    pixels = torch.tensor([[[0.0, 1.0, 65504.0], [2.0**-24, -3.5, 0.1]]], dtype=torch.float16)  # [1, 2, 3]
    path = write_exr(tmp_path / "a.exr", pixels.float(), HDRColorSpace.ACESCCT)
    assert np.array_equal(read_exr(path), pixels.float().numpy())
    with OpenEXR.File(str(path)) as f:
        assert f.header()["colorSpace"] == "ACEScct"
        assert f.header()["chromaticities"] == pytest.approx(HDRColorSpace.ACESCCT.chromaticities, abs=1e-7)
    grey = np.arange(6, dtype=np.float32).reshape(2, 3)
    with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"Y": grey}) as f:
        f.write(str(tmp_path / "grey.exr"))
    assert np.array_equal(read_exr(tmp_path / "grey.exr"), np.stack([grey] * 3, axis=-1))


def test_the_hlg_master_reads_back(tmp_path: Path) -> None:
    """libx265 Main 10 with the BT.2020 / HLG tags, every frame at the fractional rate, EXR frames beside it; the
    decoded planes are the converter's within the CRF 12 loss (a wrong matrix, range or bit depth is off by tens
    to hundreds of codes)."""
    import av

    from ltx_core.types import Audio

    frames = torch.rand(3, 32, 64, 3, generator=torch.Generator().manual_seed(0))
    frames[:, :16] = frames[:, :16].mean(dim=(1, 2), keepdim=True)  # a flat half: what a codec keeps well
    audio = Audio(torch.zeros(2, 4800), 48000)
    master, folder = write_hdr(
        tmp_path / "out" / "clip.mp4", [frames[:2], frames[2:]], 23.976, HDRColorSpace.ACESCG, audio
    )
    assert folder == tmp_path / "out" / "clip_exr"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "clip_exr"]  # no temp left
    assert [p.name for p in sorted(folder.iterdir())] == [f"frame_{k:05d}.exr" for k in range(3)]
    expected_exr = decode_hdr_video(frames, HDRColorSpace.ACESCG, Primaries.ACESCG)  # ACESCG EXR: AP1 light
    assert np.array_equal(read_exr(folder / "frame_00002.exr"), expected_exr[2].half().float().numpy())
    y_expected = hlg_planes(decode_hdr_video(frames, HDRColorSpace.ACESCG, Primaries.REC709), Primaries.REC709)[0]
    with av.open(str(master)) as container:
        video = container.streams.video[0]
        context = video.codec_context
        assert (context.name, context.pix_fmt, video.codec_tag) == ("hevc", "yuv420p10le", "hvc1")
        assert (context.color_primaries, context.color_trc, context.colorspace, context.color_range) == (9, 18, 9, 1)
        assert video.average_rate == Fraction(2997, 125)
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        decoded = list(container.decode(video=0))
    assert len(decoded) == 3
    plane = decoded[0].planes[0]
    y = np.frombuffer(bytes(plane), dtype="<u2").reshape(32, plane.line_size // 2)[:, :64].astype(np.int32)
    flat = np.abs(y[:16] - y_expected[0, :16].int().numpy())
    assert flat.max() <= 4, flat.max()


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def chunks():
        yield torch.rand(1, 32, 32, 3)
        raise RuntimeError("decoder failed")

    with pytest.raises(RuntimeError, match="decoder failed"):
        write_hdr(tmp_path / "clip.mp4", chunks(), 24.0, HDRColorSpace.SRGB_LINEAR)
    assert list(tmp_path.iterdir()) == []


def test_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.exr"
    bad.write_bytes(b"not an exr")
    with pytest.raises(InputError, match=r"^cannot read EXR file '.*bad\.exr': "):
        read_exr(bad)
    with pytest.raises(InputError, match="EXR file not found"):
        read_exr(tmp_path / "missing.exr")
    with pytest.raises(InputError, match=r"mix EXR \(.*a\.exr\) and SDR"):
        check_exr_inputs([tmp_path / "a.exr", tmp_path / "b.png"], HDRColorSpace.ACESCG)
    with pytest.raises(InputError, match=r"EXR input '.*a\.exr' needs --hdr \(SRGB_LINEAR, ACESCG or ACESCCT"):
        check_exr_inputs([tmp_path / "a.exr"], None)
    assert check_exr_inputs([tmp_path / "a.png"], None) is False
    with pytest.raises(InputError, match="HDR colour space 'rec2020' is unknown; valid: SRGB_LINEAR, ACESCG, ACESCCT"):
        HDRColorSpace.named("rec2020")
    assert HDRColorSpace.named("acesCG") is HDRColorSpace.ACESCG
    monkeypatch.setitem(sys.modules, "OpenEXR", None)  # the optional extra not installed
    with pytest.raises(InputError, match=r"needs the optional extra: pip install 'ltx-pipelines\[hdr\]'"):
        read_exr(bad)
    with pytest.raises(InputError, match="needs the optional extra"):
        write_hdr(tmp_path / "clip.mp4", torch.rand(1, 32, 32, 3), 24.0, HDRColorSpace.ACESCG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.exr"]
