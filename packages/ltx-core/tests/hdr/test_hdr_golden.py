"""The HDR colour math vs the official 1.2.0 (golden `cases/hdr_120`, README_120_pipelines §3): transfer curves,
primaries matrices, the VAE working space and the HLG master's planes. float32: 1e-5 relative (max |err| / max
|expected|); the 10-bit planes exact but for ±1 code where a value lands on a rounding boundary (README §8)."""

from __future__ import annotations

import pytest
import torch

from ltx_core.hdr import hlg, spaces
from ltx_core.hdr import primaries as P
from ltx_core.hdr.primaries import Primaries
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.hdr.transfer import ACESCCT, LOGC3
from ltx_core.testing.golden import GoldenCase, golden_dir, load_case, pipeline_cases_120, report

TOL = 1e-5
TRANSFERS = {"acescct": ACESCCT, "logc3": LOGC3}


def _case(name: str) -> GoldenCase:
    found = pipeline_cases_120(name)
    if not found:
        pytest.skip(f"no golden case cases/hdr_120/{name} under {golden_dir()} (MANIFEST_120_pipelines.json)")
    return load_case(found[0])


def test_transfer_curves() -> None:
    case = _case("transfer_curves")
    linear, codes = case.inputs["linear"], case.inputs["codes"]
    for name, t in TRANSFERS.items():
        out = {
            "compress": t.compress(linear),
            "decompress": t.decompress(codes),
            "compress_of_decompress": t.compress(t.decompress(codes)),
            "compress_ldr": t.compress_ldr(codes),
        }
        for what, got in out.items():
            report(f"{name}_{what}", got, case.outputs[f"{name}_{what}"], TOL)


def test_primaries() -> None:
    case = _case("primaries")
    o, video, image = case.outputs, case.inputs["video"], case.inputs["image"]
    report("matrix_acescg_to_srgb", P.matrix(P.ACESCG_TO_REC709), o["matrix_acescg_to_srgb"], TOL)
    report("matrix_srgb_to_acescg", P.rec709_to_acescg(), o["matrix_srgb_to_acescg"], TOL)
    for p in Primaries:
        report(f"matrix_{p.value}_to_2020", P.to_rec2020_matrix(p), o[f"matrix_{p.value}_to_2020"], TOL)
        got = P.apply(P.to_rec2020_matrix(p), video, 1)
        report(f"video_{p.value}_to_rec2020", got, o[f"video_{p.value}_to_rec2020"], TOL)
    for src, dst in ((Primaries.REC709, Primaries.ACESCG), (Primaries.ACESCG, Primaries.REC709)):
        m = P.conversion(src, dst)
        assert m is not None
        report(f"video_{src.value}_to_{dst.value}", P.apply(m, video, 1), o[f"video_{src.value}_to_{dst.value}"], TOL)
        report(f"image_{src.value}_to_{dst.value}", P.apply(m, image, -3), o[f"image_{src.value}_to_{dst.value}"], TOL)


def test_working_space() -> None:
    case = _case("working_space")
    i, o = case.inputs, case.outputs
    for name, t in TRANSFERS.items():
        for p in Primaries:
            working = spaces.to_working_space(i["linear_video"], t, p)
            report(f"{name}_to_working_from_{p.value}", working, o[f"{name}_to_working_from_{p.value}"], TOL)
            linear = spaces.to_linear(o[f"{name}_to_working_from_{p.value}"], t, p)
            report(f"{name}_to_linear_{p.value}", linear, o[f"{name}_to_linear_{p.value}"], TOL)
    report("to_vae_range", spaces.to_vae_range(o["acescct_to_working_from_rec709"]), o["to_vae_range"], TOL)
    report("from_vae_range", spaces.from_vae_range(i["vae_output"]), o["from_vae_range"], TOL)
    for p in Primaries:
        decoded = spaces.decode_hdr_video(i["decoded_frames"], HDRColorSpace.ACESCCT, p)
        report(f"decode_hdr_video_{p.value}", decoded, o[f"decode_hdr_video_{p.value}"], TOL)


def test_working_space_table_matches_the_official() -> None:
    """Each `--hdr` value's source primaries, log working flag and EXR tags, as the case's table records them."""
    table = _case("working_space").params["hdr_color_spaces"]
    assert set(table) == {c.name for c in HDRColorSpace}
    for space in HDRColorSpace:
        row = table[space.name]
        assert space.source_primaries.value == row["source_primaries"]
        assert space.is_log_working == row["is_log_working"]
        assert space.transfer.name.value == row["transfer"]
        assert [space.source_primaries.value, space.exr_color_space] == row["exr_output_tags"]


def test_to_vae_range_refuses_codes_outside_0_1() -> None:
    with pytest.raises(ValueError, match=r"span \[-0.5, 1\]"):
        spaces.to_vae_range(torch.tensor([-0.5, 1.0]))


def test_hlg_signal_and_planes() -> None:
    case = _case("hlg_yuv")
    i, o = case.inputs, case.outputs
    frames = i["frames_linear_rec709_fhwc"]
    for p in Primaries:
        assert case.params["converter"][p.value] == {"roll_k": hlg.ROLL_K, "white_x": hlg.WHITE_X}
        report(f"hlg_signal_{p.value}", hlg.hlg_signal(frames.permute(0, 3, 1, 2), p), o[f"hlg_signal_{p.value}"], TOL)
        for plane, got in zip("yuv", hlg.hlg_planes(frames, p), strict=True):
            _codes(f"hlg_{plane}_{p.value}", got, o[f"hlg_{plane}_{p.value}"])
    rgb = i["rgb01_fchw"]
    report("yuv_bt2020ncl_full", hlg.rgb_to_yuv(rgb, hlg.BT2020_NCL), o["yuv_bt2020ncl_full"], TOL)
    for plane, got in zip("yuv", hlg.rgb_to_yuv420p10(rgb), strict=True):
        _codes(f"yuv420p10_{plane}", got, o[f"yuv420p10_{plane}"])
    y, uv = hlg.rgb_to_yuv420(rgb, hlg.BT709, hlg.LIMITED_8)
    report("yuv420_bt709_y", y, o["yuv420_bt709_y"], TOL)
    report("yuv420_bt709_uv", uv, o["yuv420_bt709_uv"], TOL)


def _codes(label: str, got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.dtype == torch.uint16 and got.shape == expected.shape, label
    worst = (got.int() - expected.int()).abs().max().item()
    print(f"[parity] {label}: max code difference {worst}")
    assert worst <= 1, f"{label}: codes differ by up to {worst}"
