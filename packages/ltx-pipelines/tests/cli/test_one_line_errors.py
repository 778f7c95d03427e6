"""Every command-line error is ONE line on stderr (`error: ...`) with exit code 2, for Click's usage errors (a bad
value, a missing file or option) as for our boundary checks, in every pipeline CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ltx_pipelines.cli.commands import build_app


def _argv(name: str, folder: Path, out: Path) -> list[str]:
    ckpt = "distilled.safetensors" if name == "distilled" else "dev.safetensors"
    flag = "--distilled-checkpoint-path" if name == "distilled" else "--checkpoint-path"
    argv = [
        flag,
        str(folder / ckpt),
        "--gemma-root",
        str(folder / "gemma"),
        "--prompt",
        "a fox",
        "--output-path",
        str(out),
        "--quiet",
    ]
    if name != "ti2vid_one_stage":
        argv += ["--spatial-upsampler-path", str(folder / "spatial_upsampler_x2.safetensors")]
    if name == "ti2vid_two_stages":
        argv += ["--distilled-lora", str(folder / "distilled_lora.safetensors")]
    return argv


@pytest.mark.parametrize("name", ["distilled", "ti2vid_one_stage", "ti2vid_two_stages"])
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--height", "500"], "nearest valid: 512"),  # 64 for two stages, 32 for one: 512 either way
        (["--num-frames", "10"], "--num-frames 10 must be 8k+1"),
        (["--lora", "missing.safetensors"], "file not found: 'missing.safetensors'"),
        (["--no-such-flag"], "No such option: --no-such-flag"),
        (["--num-generated-keyframes", "1"], "has no keyframe embedding (use_keyframes_abs_pos_embedding)"),
    ],
    ids=["bad_size", "bad_frames", "missing_file", "unknown_flag", "slots_without_keyframe_embedding"],
)
def test_one_line_on_stderr_exit_2(
    name: str, extra: list[str], expected: str, tiny_sets: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(build_app(name), [*_argv(name, tiny_sets["ltx2"], out), *extra])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    if "height" in extra:
        assert "--height 500 must be a positive multiple of" in lines[0]
    assert result.stdout == "" and not out.exists()


# --- every pipeline CLI: bad files and values are refused in one line before any model is built -----------------

CLIS = (
    "distilled",
    "ti2vid_one_stage",
    "ti2vid_two_stages",
    "ti2vid_two_stages_hq",
    "keyframe_interpolation",
    "ic_lora",
    "a2vid_two_stage",
    "retake",
    "dubit",
)
_DISTILLED = ("distilled", "ic_lora", "dubit", "retake")
_FLOAT_FLAG = {"retake": "--start-time", "dubit": "--reference-strength"}  # the others: --frame-rate


def _cli_argv(name: str, folder: Path, media: Path, out: Path, lora: Path | None = None) -> list[str]:
    """A command line for pipeline `name` that passes parsing; `media` stands in for every video/audio input (the
    errors tested here come before any media file is read). `lora` replaces the IC-LoRA or is added with --lora."""
    flag, ckpt = ("--distilled-checkpoint-path", "distilled") if name in _DISTILLED else ("--checkpoint-path", "dev")
    argv = [
        flag,
        str(folder / f"{ckpt}.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--prompt",
        "a fox",
        "--output-path",
        str(out),
        "--quiet",
    ]
    if name not in ("ti2vid_one_stage", "retake"):
        argv += ["--spatial-upsampler-path", str(folder / "spatial_upsampler_x2.safetensors")]
    if name in ("ti2vid_two_stages", "ti2vid_two_stages_hq", "keyframe_interpolation", "a2vid_two_stage"):
        argv += ["--distilled-lora", str(folder / "distilled_lora.safetensors")]
    if name in ("ic_lora", "dubit"):
        argv += ["--lora", str(lora or folder / "ic_lora.safetensors")]
    elif lora is not None:
        argv += ["--lora", str(lora)]
    argv += {
        "ic_lora": ["--video-conditioning", str(media), "1.0"],
        "a2vid_two_stage": ["--audio-path", str(media)],
        "retake": ["--video-path", str(media), "--start-time", "0", "--end-time", "0.1"],
        "dubit": ["--reference-video", str(media)],
    }.get(name, ["--height", "64", "--width", "64", "--num-frames", "9"])
    return argv


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    i = argv.index(flag)
    return [*argv[: i + 1], value, *argv[i + 2 :]]


def _bad_lora(folder: Path, path: Path) -> Path:
    """A LoRA whose one pair names a real transformer weight but has the wrong input width (as one made for the
    other model version would)."""
    from safetensors.torch import save_file

    from ltx_core.loader import open_checkpoint

    ckpt = open_checkpoint(folder / "distilled.safetensors")
    key = next(
        k
        for k in ckpt.keys()
        if k.startswith("model.diffusion_model.transformer_blocks.")
        and k.endswith(".weight")
        and len(ckpt.info(k).shape) == 2
    )
    out_features, in_features = ckpt.info(key).shape
    stem = "diffusion_model." + key[len("model.diffusion_model.") : -len(".weight")]
    save_file(
        {
            f"{stem}.lora_A.weight": torch.zeros(2, in_features + 1),
            f"{stem}.lora_B.weight": torch.zeros(out_features, 2),
        },
        str(path),
    )
    return path


@pytest.fixture(scope="module")
def bad_files(tiny_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tiny_sets["ltx23"]
    d = tmp_path_factory.mktemp("bad_files")
    (d / "media.mp4").write_bytes(b"")
    (d / "text.safetensors").write_text("not a checkpoint\n" * 8)
    torch.save({"state_dict": {"w": torch.zeros(2)}}, d / "model.ckpt")  # written, never loaded
    gemma = d / "gemma_one_shard"
    shutil.copytree(folder / "gemma", gemma)
    missing = sorted(gemma.glob("model-*.safetensors"))[-1]
    missing.unlink()
    (d / "a_file").write_text("")
    lora = _bad_lora(folder, d / "bad_lora.safetensors")
    return {
        "media": d / "media.mp4",
        "text": d / "text.safetensors",
        "pickle": d / "model.ckpt",
        "gemma": gemma,
        "missing_shard": missing,
        "file": d / "a_file",
        "lora": lora,
    }


def _one_line(name: str, argv: list[str], out: Path, code: int = 2) -> str:
    result = CliRunner().invoke(build_app(name), argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not out.exists() and not list(out.parent.glob(f".{out.stem}.*"))
    return lines[0]


@pytest.mark.parametrize("name", CLIS)
@pytest.mark.parametrize(
    "case",
    [
        "not_mp4",
        "parent_is_file",
        "nan",
        "lora_nan",
        "text_checkpoint",
        "pickle_checkpoint",
        "gemma_missing_shard",
        "lora_wrong_shapes",
        "single_and_split_files",
    ],
)
def test_bad_input_is_one_line_exit_2_in_every_cli(
    name: str, case: str, tiny_sets: dict[str, Path], bad_files: dict[str, Path], tmp_path: Path
) -> None:
    folder = tiny_sets["ltx23"]
    out = tmp_path / "out.mp4"
    argv = _cli_argv(name, folder, bad_files["media"], out)
    ckpt_flag = "--distilled-checkpoint-path" if name in _DISTILLED else "--checkpoint-path"
    if case == "not_mp4":
        line = _one_line(name, _replace(argv, "--output-path", str(tmp_path / "out.avi")), out)
        assert "out.avi' does not end in .mp4" in line and not (tmp_path / "out.avi").exists()
    elif case == "parent_is_file":
        line = _one_line(name, _replace(argv, "--output-path", str(bad_files["file"] / "sub" / "out.mp4")), out)
        assert f"'{bad_files['file']}' is a file" in line
    elif case == "nan":
        flag = _FLOAT_FLAG.get(name, "--frame-rate")
        line = _one_line(name, [*argv, flag, "nan"], out)
        assert f"{flag} nan is not a finite number" in line
    elif case == "lora_nan":
        if "--lora" in argv:  # the IC-LoRA pipelines: a strength for their LoRA
            i = argv.index("--lora") + 2
            argv = [*argv[:i], "nan", *argv[i:]]
        else:
            argv = [*argv, "--lora", str(folder / "distilled_lora.safetensors"), "nan"]
        line = _one_line(name, argv, out)
        assert "'--lora'" in line and "STRENGTH 'nan' is not a finite number" in line
    elif case == "text_checkpoint":
        line = _one_line(name, _replace(argv, ckpt_flag, str(bad_files["text"])), out)
        assert "not a valid safetensors file" in line
    elif case == "pickle_checkpoint":
        line = _one_line(name, _replace(argv, ckpt_flag, str(bad_files["pickle"])), out)
        assert "pickle" in line and "never loaded" in line
    elif case == "gemma_missing_shard":
        line = _one_line(name, _replace(argv, "--gemma-root", str(bad_files["gemma"])), out)
        assert "Gemma is incomplete" in line and f"missing: {bad_files['missing_shard'].name}" in line
    elif case == "single_and_split_files":  # delta E.1: the single file XOR split files
        line = _one_line(name, [*argv, "--transformer-path", str(folder / "distilled.safetensors")], out)
        assert f"{ckpt_flag}, --gemma-root and --transformer-path were both given" in line and "not both" in line
    elif case == "lora_wrong_shapes":
        line = _one_line(name, _cli_argv(name, folder, bad_files["media"], out, lora=bad_files["lora"]), out)
        assert "bad_lora.safetensors: LoRA pair" in line and "does not fit the model's weight" in line


@pytest.mark.parametrize("name", ["ti2vid_one_stage", "ti2vid_two_stages", "retake"])
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--video-stg-blocks", "0", "99"], "--video-stg-blocks 99: distilled.safetensors has transformer blocks 0 to"),
        (["--audio-stg-blocks", "-1"], "--audio-stg-blocks -1: distilled.safetensors has transformer blocks 0 to"),
        # Typer's range check; its wording changes between Typer versions, the flag and the bound do not
        (["--num-inference-steps", "100000000000000000000"], "'--num-inference-steps'|1000"),
        (["--seed", str(2**70)], "'--seed'|18446744073709551615"),
    ],
    ids=["stg_block_outside", "stg_block_negative", "absurd_steps", "seed_overflow"],
)
def test_values_outside_what_the_model_takes_exit_2(
    name: str, extra: list[str], expected: str, tiny_sets: dict[str, Path], bad_files: dict[str, Path], tmp_path: Path
) -> None:
    """Were a traceback (steps, seed) or silently nothing (an STG block the transformer does not have)."""
    out = tmp_path / "out.mp4"
    argv = _cli_argv(name, tiny_sets["ltx23"], bad_files["media"], out)
    if name != "retake":  # the guided pipelines take the full model
        expected = expected.replace("distilled.safetensors", "dev.safetensors")
    line = _one_line(name, [*argv, *extra], out)
    assert all(part in line for part in expected.split("|")), line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--cfg-parallel", "2"], "--cfg-parallel 2 needs several processes; launch with torchrun --nproc-per-node 2"),
        (["--shard-weights", "--offload", "disk"], "--shard-weights cannot be combined with --offload disk"),
        (["--processes-per-job", "2"], "--processes-per-job is for --jobs batches"),
        (["--shard-weights", "--compile"], "--compile cannot be combined with --shard-weights yet"),
    ],
    ids=["cfg_parallel_alone", "shard_with_streaming", "processes_per_job_without_jobs", "shard_with_compile"],
)
def test_several_process_flags_refused_where_they_cannot_work(
    extra: list[str], expected: str, tiny_sets: dict[str, Path], bad_files: dict[str, Path], tmp_path: Path
) -> None:
    """Outside torchrun, or with a flag they contradict: one line, exit 2, before anything is built."""
    out = tmp_path / "out.mp4"
    line = _one_line(
        "ti2vid_two_stages", [*_cli_argv("ti2vid_two_stages", tiny_sets["ltx23"], bad_files["media"], out), *extra], out
    )
    assert expected in line, line


def test_cfg_parallel_on_an_unguided_pipeline_says_why(tiny_sets: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    line = _one_line("distilled", [*_argv("distilled", tiny_sets["ltx23"], out), "--cfg-parallel", "2"], out)
    assert line == (
        "error: --cfg-parallel is not an option of this pipeline: it spreads the guidance passes of guided pipelines "
        "over the processes, and this one is not guided (under torchrun it already splits the video tokens over "
        "every process)"
    )
