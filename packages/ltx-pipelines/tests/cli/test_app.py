"""The shared CLI layer on a tiny demo command: parsing of every option form, validation, exit codes, help."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import torch
import typer
from typer.testing import CliRunner

from ltx_core.errors import CheckpointError
from ltx_core.loader.lora import LoraSpec
from ltx_pipelines.cli.app import create_app, multi_value_option, pipeline_command
from ltx_pipelines.cli.command import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE
from ltx_pipelines.cli.commands import PIPELINES as COMMAND_LINES
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.cli.options import DISTILLED_TWO_STAGE, HQ_TWO_STAGE, ONE_STAGE, TWO_STAGE, CommonArgs
from ltx_pipelines.cli.values import PATH_STRENGTH, ImageConditioningArg, PathStrengthArg
from ltx_pipelines.utils.constants import DEFAULT_NEGATIVE_PROMPT, LTX_2_3_HQ_PARAMS

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
VIDEO_CONDITIONING = multi_value_option(PATH_STRENGTH, "--video-conditioning", "Reference video and its strength.")
MASK = typer.Option("--mask", help="Mask and strength.", parser=PATH_STRENGTH, metavar=PATH_STRENGTH.metavar)


@pytest.fixture
def files(tmp_path: Path, golden: Path) -> dict[str, Path]:
    gemma = tmp_path / "gemma"
    gemma.mkdir()
    image = tmp_path / "first frame.png"
    image.write_bytes(b"png")
    return {
        "ltx23": golden / "ltx23_tiny.safetensors",
        "ltx2": golden / "ltx2_tiny.safetensors",
        "lora": golden / "lora_ltx23_tiny.safetensors",
        "gemma": gemma,
        "image": image,
        "out": tmp_path / "out" / "video.mp4",
    }


def _two_stage_app(seen: list[dict[str, Any]], error: BaseException | None = None) -> typer.Typer:
    app = create_app("demo")

    @pipeline_command(app, TWO_STAGE, two_stage=True)
    def demo(
        args: CommonArgs,
        video_conditioning: list[str] = VIDEO_CONDITIONING,
        mask: Annotated[str | None, MASK] = None,
        skip_stage_2: Annotated[bool, typer.Option("--skip-stage-2", help="Stop after stage 1.")] = False,
    ) -> None:
        """Demo two-stage pipeline."""
        seen.append(
            {"args": args, "video_conditioning": video_conditioning, "mask": mask, "skip_stage_2": skip_stage_2}
        )
        if error is not None:
            raise error

    return app


def _base(files: dict[str, Path], checkpoint: str = "ltx23") -> list[str]:
    return [
        "--checkpoint-path",
        str(files[checkpoint]),
        "--gemma-root",
        str(files["gemma"]),
        "--prompt",
        "a fox",
        "--output-path",
        str(files["out"]),
        "--distilled-lora",
        str(files["lora"]),
        "0.6",
        "--spatial-upsampler-path",
        str(files[checkpoint]),
    ]


def _invoke(app: typer.Typer, argv: list[str]) -> Any:
    return CliRunner().invoke(app, argv, env=ENV, prog_name="demo")


def test_defaults_paths_and_checkpoint_detection(files: dict[str, Path]) -> None:
    seen: list[dict[str, Any]] = []
    for checkpoint, steps, blocks in (("ltx23", 30, (28,)), ("ltx2", 40, (29,))):
        result = _invoke(_two_stage_app(seen), _base(files, checkpoint))
        assert result.exit_code == 0, result.output
        args: CommonArgs = seen[-1]["args"]
        assert (args.num_inference_steps, args.video_stg_blocks, args.audio_stg_blocks) == (steps, blocks, blocks)
    assert (args.height, args.width, args.num_frames, args.frame_rate, args.seed) == (1024, 1536, 121, 24.0, 10)
    assert args.checkpoint_path == files["ltx2"].resolve() and args.checkpoint_path.is_absolute()
    assert args.output_path == files["out"].resolve()
    assert args.distilled_loras == (LoraSpec(files["lora"].resolve(), 0.6),)
    assert args.loras == () and args.images == () and args.offload == "auto" and not args.quiet
    assert args.negative_prompt == DEFAULT_NEGATIVE_PROMPT
    guider = args.video_guider_params()
    assert (guider.cfg_scale, guider.stg_scale, guider.rescale_scale, guider.modality_scale) == (3.0, 1.0, 0.7, 3.0)
    assert seen[-1]["video_conditioning"] == [] and seen[-1]["skip_stage_2"] is False and seen[-1]["mask"] is None


def test_multi_value_options_in_every_form(files: dict[str, Path]) -> None:
    seen: list[dict[str, Any]] = []
    img, lora = str(files["image"]), str(files["lora"])
    argv = [
        *_base(files),
        "--image",
        img,
        "0",
        "1.0",
        "--lora",
        lora,
        "--image",
        img,
        "120",
        "0.5",
        "20",
        "--lora",
        lora,
        "0.25",
        "--video-stg-blocks",
        "--audio-stg-blocks",
        "3",
        "4",
        "--video-conditioning",
        img,
        "0.8",
        "--skip-stage-2",
        "--num-frames",
        "121",
        "--mask",
        img,
        "0.5",
        "--enhance-prompt",
        "--quiet",
        "--compile",
        "--device",
        "cuda:1",
        "--offload",
        "auto",
    ]
    result = _invoke(_two_stage_app(seen), argv)
    assert result.exit_code == 0, result.output
    args: CommonArgs = seen[-1]["args"]
    image = files["image"].resolve()
    assert args.images == (ImageConditioningArg(image, 0, 1.0, None), ImageConditioningArg(image, 120, 0.5, 20))
    assert args.loras == (LoraSpec(files["lora"].resolve(), 1.0), LoraSpec(files["lora"].resolve(), 0.25))
    assert args.video_stg_blocks == () and args.audio_stg_blocks == (3, 4)
    assert seen[-1]["video_conditioning"] == [PathStrengthArg(image, 0.8)]
    assert seen[-1]["skip_stage_2"] is True
    assert seen[-1]["mask"] == PathStrengthArg(image, 0.5)
    assert args.enhance_prompt and args.quiet and args.compile and args.device == "cuda:1" and args.offload == "auto"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--height", "1000"],
            "--height 1000 must be a positive multiple of 64 for two-stage pipelines; nearest valid: 1024",
        ),
        (["--width", "992"], "nearest valid: 960 or 1024"),
        (["--num-frames", "120"], "--num-frames 120 must be 8k+1"),
        (["--image", "nope.png", "0", "1"], "file not found: 'nope.png'"),
        (["--image", "IMG", "0"], "expects PATH FRAME_IDX STRENGTH [CRF]"),
        (["--image", "IMG", "121", "1"], "FRAME_IDX 121 is outside the clip; valid: 0 to 120"),
        (["--lora", "IMG", "1", "2"], "expects PATH [STRENGTH], got 3:"),
        (["--seed", "ten"], "'--seed'"),
        (["--offload", "gpu"], "'--offload'"),
        (["--offload", "cpu", "--compile"], "--compile cannot be combined with --offload cpu"),
        (["--frame-rate", "0.5"], "--frame-rate 0.5 is too low"),
        (["--device", "gpu0"], "--device 'gpu0' is not a torch device"),
    ],
)
def test_invalid_values_exit_2_with_one_line_message(files: dict[str, Path], extra: list[str], message: str) -> None:
    extra = [str(files["image"]) if e == "IMG" else e for e in extra]
    result = _invoke(_two_stage_app([]), [*_base(files), *extra])
    assert result.exit_code == EXIT_USAGE
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_required_option_and_missing_checkpoint(files: dict[str, Path], tmp_path: Path) -> None:
    argv = _base(files)
    no_prompt = argv[:4] + argv[6:]
    result = _invoke(_two_stage_app([]), no_prompt)
    assert result.exit_code == EXIT_USAGE and "--prompt" in result.output
    no_distilled_lora = argv[:8] + argv[11:]
    result = _invoke(_two_stage_app([]), no_distilled_lora)
    assert result.exit_code == EXIT_USAGE and "Missing option '--distilled-lora'" in result.output
    argv[1] = str(tmp_path / "missing.safetensors")
    result = _invoke(_two_stage_app([]), argv)
    assert result.exit_code == EXIT_USAGE
    assert "file not found" in result.output and "missing.safetensors" in result.output


def test_failures_while_running_print_one_red_line_and_exit_1(files: dict[str, Path]) -> None:
    app = _two_stage_app([], CheckpointError("transformer weights missing in 'x.safetensors': 3 keys"))
    result = _invoke(app, _base(files))
    assert result.exit_code == EXIT_FAILURE
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["error: transformer weights missing in 'x.safetensors': 3 keys"]


def test_interrupt_exits_130_without_traceback(files: dict[str, Path]) -> None:
    result = _invoke(_two_stage_app([], KeyboardInterrupt()), _base(files))
    assert result.exit_code == EXIT_INTERRUPTED
    assert "interrupted" in result.output and "Traceback" not in result.output


def test_sigterm_exits_143_after_removing_the_partial_mp4(files: dict[str, Path]) -> None:
    """`kill` (or a scheduler's time limit) mid-write gets the same cleanup as Ctrl-C: no half-written file."""
    from ltx_pipelines.media.mp4 import write_mp4

    app = create_app("demo")

    @pipeline_command(app, TWO_STAGE, two_stage=True)
    def demo(args: CommonArgs) -> None:
        def frames() -> Iterator[torch.Tensor]:
            yield torch.rand(1, 16, 16, 3)
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises here, in the main thread
            yield torch.rand(1, 16, 16, 3)

        write_mp4(args.output_path, frames(), 24)

    before = signal.getsignal(signal.SIGTERM)
    result = _invoke(app, _base(files))
    assert result.exit_code == EXIT_TERMINATED
    assert result.stderr.splitlines() == ["error: terminated"] and "Traceback" not in result.output
    assert list(files["out"].parent.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before


def test_help_lists_flags_and_defaults(files: dict[str, Path]) -> None:
    result = _invoke(_two_stage_app([]), ["--help"])
    assert result.exit_code == 0
    text = result.output
    for flag in (
        "--checkpoint-path",
        "--gemma-root",
        "--distilled-lora",
        "--spatial-upsampler-path",
        "--lora",
        "--image",
        "--prompt",
        "--negative-prompt",
        "--seed",
        "--height",
        "--width",
        "--num-frames",
        "--frame-rate",
        "--num-inference-steps",
        "--video-cfg-guidance-scale",
        "--a2v-guidance-scale",
        "--v2a-guidance-scale",
        "--audio-stg-blocks",
        "--quantization",
        "--offload",
        "--max-batch-size",
        "--enhance-prompt",
        "--output-path",
        "--device",
        "--quiet",
        "--video-conditioning",
    ):
        assert flag in text
    assert "PATH FRAME_IDX STRENGTH [CRF]" in text and "PATH [STRENGTH]" in text
    assert "[default: 1024]" in text and "[default: 1536]" in text
    assert "30 for LTX-2.3, 40 for LTX-2" in text


def test_out_of_memory_is_told_apart_from_other_errors() -> None:
    from ltx_pipelines.cli.app import out_of_memory_message

    mps = RuntimeError("MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.00 GB). Tried x.")
    assert out_of_memory_message(mps) == (  # no fp8 on MPS, and RAM offload saves nothing on unified memory
        "MPS backend out of memory (MPS allocated: 17.00 GB, other allocations: 1.00 GB). Tried x; "
        "try --offload disk, a smaller size or fewer frames"
    )
    cuda = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has 1.00 GiB free. More.")
    assert out_of_memory_message(cuda) == (
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has 1.00 GiB free; "
        "try --offload cpu or disk, --quantization fp8-cast, a smaller size or fewer frames"
    )
    assert out_of_memory_message(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    assert out_of_memory_message(ValueError("x")) is None


def test_an_op_missing_on_mps_is_one_line_naming_the_fallback() -> None:
    """torch's message for an op without an MPS kernel (its wording since torch 2.0), cut to the first sentence."""
    from ltx_pipelines.cli.app import missing_mps_op_message, run_cli

    exc = NotImplementedError(
        "The operator 'aten::_fft_r2c' is not currently implemented for the MPS device. If you want this op to be "
        "considered for addition please comment on https://github.com/pytorch/pytorch/issues/141287. As a temporary "
        "fix, you can set the environment variable `PYTORCH_ENABLE_MPS_FALLBACK=1` to use the CPU as a fallback for "
        "this op. WARNING: this will be slower than running natively on MPS."
    )
    assert missing_mps_op_message(exc) == (
        "The operator 'aten::_fft_r2c' is not currently implemented for the MPS device; rerun with "
        "PYTORCH_ENABLE_MPS_FALLBACK=1 set (that op then runs on the CPU) or with --device cpu"
    )
    assert missing_mps_op_message(NotImplementedError("abstract method")) is None
    assert missing_mps_op_message(RuntimeError("for the MPS device")) is None

    def fail() -> None:
        raise exc

    with pytest.raises(typer.Exit) as info:
        run_cli(fail)
    assert info.value.exit_code == 1


def test_help_overrides_and_list_defaults_survive_rich_markup() -> None:
    """A pipeline may word a shared option's help its own way; a list default's "[default: none]" must not be eaten
    as rich markup (the HQ CLI's STG blocks come from its parameters, not the checkpoint)."""
    dubit_help = " ".join(_invoke(build_app("dubit"), ["--help"]).output.replace("│", " ").split())
    assert "The Dub-It (lip-dub) IC-LoRA and its strength (default 1.0); exactly one." in dubit_help
    hq_help = " ".join(_invoke(build_app("ti2vid_two_stages_hq"), ["--help"]).output.replace("│", " ").split())
    assert "(the flag alone: none). [default: none]" in hq_help
    app = create_app("unknown help")
    with pytest.raises(ValueError, match="unknown shared option"):
        pipeline_command(app, TWO_STAGE, helps={"no_such_option": "x"})


def test_presets_switch_defaults_and_divisor(files: dict[str, Path]) -> None:
    seen: list[CommonArgs] = []
    one = create_app("one stage")

    @pipeline_command(one, ONE_STAGE)
    def one_stage(args: CommonArgs) -> None:
        seen.append(args)

    argv = [
        "--checkpoint-path",
        str(files["ltx23"]),
        "--gemma-root",
        str(files["gemma"]),
        "--prompt",
        "p",
        "--output-path",
        str(files["out"]),
    ]
    assert _invoke(one, [*argv, "--height", "480"]).exit_code == 0  # 32 is enough for one stage
    assert (seen[-1].height, seen[-1].width) == (480, 768)
    assert "multiple of 32" in _invoke(one, [*argv, "--height", "500"]).output

    hq = create_app("hq")

    @pipeline_command(hq, HQ_TWO_STAGE, params=LTX_2_3_HQ_PARAMS, detect=False, two_stage=True)
    def hq_run(args: CommonArgs) -> None:
        seen.append(args)

    help_text = _invoke(hq, ["--help"]).output
    assert "[default: 1088]" in help_text and "[default: 15]" in help_text
    result = _invoke(hq, _base(files, "ltx2"))
    assert result.exit_code == 0, result.output
    args = seen[-1]
    assert (args.num_inference_steps, args.video_stg_blocks, args.height, args.width) == (15, (), 1088, 1920)
    assert (args.distilled_lora_strength_stage_1, args.distilled_lora_strength_stage_2) == (0.25, 0.5)
    assert args.video_guider_params().rescale_scale == 0.45 and args.audio_guider_params().rescale_scale == 1.0

    distilled = create_app("distilled")

    @pipeline_command(distilled, DISTILLED_TWO_STAGE, two_stage=True)
    def distilled_run(args: CommonArgs) -> None:
        seen.append(args)

    help_text = _invoke(distilled, ["--help"]).output
    assert "--distilled-checkpoint-path" in help_text and "--num-inference-steps" not in help_text
    assert "--negative-prompt" not in help_text


def test_developer_errors_are_caught_at_registration() -> None:
    app = create_app("bad")
    with pytest.raises(ValueError, match="unknown shared option"):
        pipeline_command(app, ["no_such_option"])
    with pytest.raises(ValueError, match="redeclares"):

        @pipeline_command(app, ["prompt"])
        def clash(args: CommonArgs, prompt: str = "") -> None:
            pass


def test_package_import_loads_no_pipeline_module() -> None:
    """`python -m ltx_pipelines.<name>` warns about a double import if the package imports its modules."""
    code = "import sys, ltx_pipelines; print(sorted(m for m in sys.modules if m.startswith('ltx_pipelines.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_given_on_command_line_tells_set_from_default() -> None:
    """Retake notes an ignored --num-inference-steps only when the user set it; the check reads Typer's context."""
    from ltx_pipelines.cli.app import create_app, given_on_command_line, pipeline_command

    seen: list[tuple[bool, bool]] = []
    app = create_app("demo")

    @pipeline_command(app, ("prompt", "seed", "quiet"), detect=False)
    def demo(args: CommonArgs) -> None:
        seen.append((given_on_command_line("seed"), given_on_command_line("quiet")))

    assert _invoke(app, ["--prompt", "x"]).exit_code == 0
    assert _invoke(app, ["--prompt", "x", "--seed", "10", "--quiet"]).exit_code == 0
    assert seen == [(False, False), (True, True)]  # 10 is the default, but it was given
    assert given_on_command_line("seed") is False  # outside a command


# --- the pipelines' command lines live in cli/: one `main(argv=None)` each, clean --help ---------------------------

SRC = Path(__file__).resolve().parents[2] / "src" / "ltx_pipelines"


@pytest.mark.parametrize("pipeline", COMMAND_LINES)
def test_help_reads_cleanly(pipeline: str) -> None:
    """Flags show no `<bool>` placeholder, values Click-style names, and `--seed` no 20-digit range."""
    text = CliRunner().invoke(build_app(pipeline), ["--help"], env={**ENV, "COLUMNS": "120"}).output
    assert "--help" in text and "--output-path" in text
    for noise in ("<bool>", "<int", "<float", "<str>", "18446744073709551615", "9223372036854775808"):
        assert noise not in text, f"{pipeline} --help shows {noise!r}"
    seed_row = next(line for line in text.splitlines() if "--seed " in line)
    assert "INTEGER" in seed_row and "[default: 10]" in seed_row


def test_help_at_80_columns_shows_every_flag_whole() -> None:
    """At 80 columns Rich shrank every column of an options panel alike and cut the longest flags
    (`--distilled-checkpoint…`): the names stay whole, the help text wraps (a long word in it folds)."""
    for pipeline in COMMAND_LINES:
        app = build_app(pipeline)
        text = CliRunner().invoke(app, ["--help"], env={**ENV, "COLUMNS": "80"}).output
        assert "…" not in text, pipeline
        command = typer.main.get_command(app)
        for param in command.params:
            for flag in [*param.opts, *param.secondary_opts]:
                assert flag in text, f"{pipeline} --help at 80 columns cuts {flag}"


def test_an_error_line_is_left_for_torchrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun's closing report reads each failed process's error file: the line the process exits with goes there
    (not a batch's line about one job), so the report's root cause shows it instead of a link to torchrun's
    documentation."""
    import json

    from ltx_pipelines.cli.command import print_error

    error_file = tmp_path / "attempt_0" / "1" / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    print_error("jobs line 3: a line that does not end the process")
    assert not error_file.exists()
    print_error("--cfg-parallel 3 does not divide the 2 processes\nsecond line", final=True)
    print_error("a later consequence", final=True)
    recorded = json.loads(error_file.read_text())["message"]
    assert recorded["message"] == "error: rank 1: --cfg-parallel 3 does not divide the 2 processes"
    assert recorded["extraInfo"]["py_callstack"] == recorded["message"]  # what torchrun's report shows
    assert int(recorded["extraInfo"]["timestamp"]) > 0


def test_every_pipeline_module_has_the_same_main(capsys: pytest.CaptureFixture[str]) -> None:
    """`main(argv=None)` everywhere; it runs the command line as `python -m ltx_pipelines.<name>` would."""
    import importlib
    import inspect

    for pipeline in COMMAND_LINES:
        main = importlib.import_module(f"ltx_pipelines.{pipeline}").main
        (param,) = inspect.signature(main).parameters.values()
        assert (param.name, param.default) == ("argv", None), pipeline
    with pytest.raises(SystemExit) as info:
        importlib.import_module("ltx_pipelines.retake").main(["--help"])
    assert info.value.code == 0
    assert "Usage: python -m ltx_pipelines.retake [OPTIONS]" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(ValueError, match="no command line for 'nope'"):
        build_app("nope")


def test_recipes_do_not_import_the_command_line() -> None:
    """A pipeline class is usable without Typer; nothing under utils/ reaches up into cli/."""
    modules = ", ".join(f"ltx_pipelines.{name}" for name in COMMAND_LINES)
    listed = "m == 'typer' or m.startswith('ltx_pipelines.cli')"
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if {listed}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    imports_cli = re.compile(r"^\s*(from|import) ltx_pipelines\.cli\b", re.MULTILINE)  # function-local ones too
    offenders = [p.name for p in (SRC / "utils").rglob("*.py") if imports_cli.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
