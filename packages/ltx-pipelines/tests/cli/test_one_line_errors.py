"""Every command-line error is ONE line on stderr (`error: ...`) with exit code 2, for Click's usage errors (a bad
value, a missing file or option) as for our boundary checks, in every pipeline CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ltx_pipelines import distilled, ti2vid_one_stage, ti2vid_two_stages


def _argv(module: Any, folder: Path, out: Path) -> list[str]:
    ckpt = "distilled.safetensors" if module is distilled else "dev.safetensors"
    flag = "--distilled-checkpoint-path" if module is distilled else "--checkpoint-path"
    argv = [flag, str(folder / ckpt), "--gemma-root", str(folder / "gemma"), "--prompt", "a fox",
            "--output-path", str(out), "--quiet"]  # fmt: skip
    if module is not ti2vid_one_stage:
        argv += ["--spatial-upsampler-path", str(folder / "spatial_upsampler_x2.safetensors")]
    if module is ti2vid_two_stages:
        argv += ["--distilled-lora", str(folder / "distilled_lora.safetensors")]
    return argv


@pytest.mark.parametrize("module", [distilled, ti2vid_one_stage, ti2vid_two_stages], ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--height", "500"], "nearest valid: 512"),  # 64 for two stages, 32 for one: 512 either way
        (["--num-frames", "10"], "--num-frames 10 must be 8k+1"),
        (["--lora", "missing.safetensors"], "file not found: 'missing.safetensors'"),
        (["--no-such-flag"], "No such option: --no-such-flag"),
    ],
    ids=["bad_size", "bad_frames", "missing_file", "unknown_flag"],
)
def test_one_line_on_stderr_exit_2(
    module: Any, extra: list[str], expected: str, tiny_sets: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(module._app(), [*_argv(module, tiny_sets["ltx2"], out), *extra])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    if "height" in extra:
        assert "--height 500 must be a positive multiple of" in lines[0]
    assert result.stdout == "" and not out.exists()
