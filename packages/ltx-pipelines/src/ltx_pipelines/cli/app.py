"""Building a pipeline's command: shared options, boundary validation, one-line errors and exit codes.

Exit codes: 0 success, 2 invalid command-line values (Typer's usage errors and our boundary checks), 1 a failure
while running (any `LTXError`: one red line on stderr, no traceback), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM).
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
import typer
from rich.console import Console

from ltx_core.errors import FailedElsewhere, InputError, LostProcessError, LTXError
from ltx_core.geometry import ONE_STAGE_DIVISOR, TWO_STAGE_DIVISOR, check_frame_count, check_multiple
from ltx_core.loader import SafetensorsFile
from ltx_core.model.duration_head import AutoDuration
from ltx_core.numerics import numerics_named
from ltx_core.offload.policy import OffloadMode, check_compile_with_streaming
from ltx_core.parallel.layout import process_device
from ltx_core.parallel.liveness import is_lost_contact, lost_contact
from ltx_pipelines.cli.batch import run_command_line, run_jobs_file
from ltx_pipelines.cli.command import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Arity,
    BoundaryError,
    command_class,
    print_error,
)
from ltx_pipelines.cli.options import OPTIONS, CommonArgs
from ltx_pipelines.cli.values import MultiValue, check_images
from ltx_pipelines.utils.constants import (
    LTX_2_3_PARAMS,
    PipelineParams,
    default_negative_prompt,
    detect_params,
    frames_when_not_given,
)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def create_app(help: str) -> typer.Typer:
    """A single-command Typer app with the project's settings (no shell-completion flags, no locals in tracebacks)."""
    return typer.Typer(help=help, add_completion=False, pretty_exceptions_show_locals=False)


class Terminated(BaseException):
    """SIGTERM arrived (`kill`, a job scheduler's time limit): raised like Ctrl-C's KeyboardInterrupt, so that the
    same cleanup runs (no half-written MP4 is left behind) instead of the process dying on the spot."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


_HOST_OOM = "DefaultCPUAllocator: can't allocate memory"  # torch's CPU allocator raises a plain RuntimeError
_MPS_OOM = "MPS backend out of memory"


def out_of_memory_message(exc: BaseException) -> str | None:
    """One line for running out of memory, with what to try; None for any other error. Of torch's long message for
    the accelerator only the first three sentences stay: which device, how much was asked for, how much was free."""
    text = str(exc)
    if isinstance(exc, torch.OutOfMemoryError) or _MPS_OOM in text:
        where = " ".join(". ".join(text.split(". ")[:3]).split()).rstrip(".") or "the accelerator ran out of memory"
        if _MPS_OOM in text:  # unified memory: RAM offload saves nothing, and MPS has no float8
            return f"{where}; try --offload disk, a smaller size or fewer frames"
        return f"{where}; try --offload cpu or disk, --quantization fp8-cast, a smaller size or fewer frames"
    if isinstance(exc, MemoryError) or _HOST_OOM in text:
        return "out of host memory (RAM); try --offload disk, a smaller size or fewer frames, or close other programs"
    return None


def missing_mps_op_message(exc: BaseException) -> str | None:
    """One line for an operator without an Apple MPS kernel (torch raises NotImplementedError, a RuntimeError),
    naming the op and the two ways around it; None for any other error."""
    text = str(exc)
    if not isinstance(exc, NotImplementedError) or "for the MPS device" not in text:
        return None
    first = " ".join(text.split(". ")[0].split()).rstrip(".")
    return f"{first}; rerun with PYTORCH_ENABLE_MPS_FALLBACK=1 set (that op then runs on the CPU) or with --device cpu"


def lost_processes_message(exc: BaseException) -> str | None:
    """One line for a collective (or a wait before one) that failed because another process died, was stopped or
    did not answer within --dist-timeout, naming it where its heartbeat tells (`ltx_core.parallel.liveness`), or
    the error another process recorded first; None for any other error."""

    if not is_lost_contact(exc):
        return None
    from ltx_pipelines.cli.parallel import failure_elsewhere

    elsewhere = failure_elsewhere()
    if elsewhere:
        return f"stopped: {elsewhere}"
    return f"{lost_contact(exc)}; stopped, killed or hung, or its machine unreachable (--dist-timeout)"


def run_cli(fn: Callable[[], T]) -> T:
    """Run `fn`; turn an `LTXError`, running out of memory or an op missing on MPS into one red line + exit 1,
    Ctrl-C into "interrupted" + exit 130 and SIGTERM into "terminated" + exit 143 (all after the cleanup of what was
    being written)."""
    from ltx_pipelines.cli.parallel import failure_elsewhere, record_failure

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None

    def failed(message: str, code: int) -> typer.Exit:
        record_failure(message)
        print_error(message, final=True)
        return typer.Exit(code)

    try:
        return fn()
    except FailedElsewhere:  # the process that failed reports it
        raise typer.Exit(EXIT_FAILURE) from None
    except LostProcessError as exc:
        raise failed(lost_processes_message(exc) or str(exc), EXIT_FAILURE) from None
    except LTXError as exc:
        raise failed(str(exc), EXIT_FAILURE) from None
    except (MemoryError, RuntimeError) as exc:  # torch.OutOfMemoryError is a RuntimeError
        message = out_of_memory_message(exc) or missing_mps_op_message(exc) or lost_processes_message(exc)
        if message is None:
            record_failure(" ".join(str(exc).split())[:300] or type(exc).__name__)
            raise
        raise failed(message, EXIT_FAILURE) from None
    except KeyboardInterrupt:
        print_error("interrupted", final=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Terminated:
        elsewhere = failure_elsewhere()
        print_error(f"stopped: {elsewhere}" if elsewhere else "terminated", final=True)
        raise typer.Exit(EXIT_TERMINATED) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def pipeline_command(
    app: typer.Typer,
    options: Sequence[str],
    *,
    params: PipelineParams = LTX_2_3_PARAMS,
    detect: bool = True,
    detect_under_1_1_3: bool = True,
    two_stage: bool = False,
    defaults: Mapping[str, Any] | None = None,
    helps: Mapping[str, str] | None = None,
    parsers: Mapping[str, Callable[[Any], Any]] | None = None,
    output_suffix: str = ".mp4",
    name: str | None = None,
    help: str | None = None,
) -> Callable[[F], F]:
    """Register `fn(args: CommonArgs, **own_options)` as `app`'s command with the shared `options` added: the pure
    parse of the command's values into a `runtime.Generation` (what to build, the call's arguments), which is then
    run (`batch.run_command_line`); with `--jobs`, every job's values go through `fn` (`batch.run_jobs_file`). An
    `fn` that returns None has done its work itself (a command that generates nothing).

    `params` gives the defaults (as the official parsers do); with `detect`, the LTX-2/2.3 dependent ones (steps,
    STG blocks) are taken from the checkpoint's metadata after parsing (under `--numerics 1.1.3` only with
    `detect_under_1_1_3`; else `params`'). `two_stage` switches the default size to the
    stage-2 one and the size check to multiples of 64. `defaults` overrides single defaults by option name, `helps`
    single help texts, `parsers` single value parsers (a sound-only command's `--output-path` takes a .wav),
    `output_suffix` the suffix of the files a `--jobs` batch names, `help` the command's (default: `fn`'s
    docstring). `fn`'s own parameters after the first are ordinary Typer options (multi-value ones via
    `multi_value_option`).
    """
    overrides = dict(defaults or {})
    helps = dict(helps or {})
    parsers = dict(parsers or {})
    unknown = [n for n in (*options, *overrides, *helps, *parsers) if n not in OPTIONS]
    if unknown:
        raise ValueError(f"unknown shared option(s) {unknown}; known: {sorted(OPTIONS)}")
    specs = [OPTIONS[n] for n in dict.fromkeys(options)]

    def register(fn: F) -> F:
        own = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]
        clash = {p.name for p in own} & {s.name for s in specs}
        if clash:
            raise ValueError(f"{fn.__name__} redeclares shared option(s) {sorted(clash)}")
        shared = [
            s.parameter(s.default_for(params, two_stage, detect, overrides), helps.get(s.name), parsers.get(s.name))
            for s in specs
        ]
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        arity = {s.flag: _arity(s.multi_value) for s in specs if s.multi_value is not None}
        arity.update(_own_arity(own))
        names = [s.name for s in specs]

        def parsed(values: Mapping[str, Any]) -> CommonArgs:
            check_finite(values)
            return build_args(
                {n: values[n] for n in names},
                params=params,
                detect=detect,
                two_stage=two_stage,
                detect_under_1_1_3=detect_under_1_1_3,
            )

        def own_values(values: Mapping[str, Any]) -> dict[str, Any]:
            return {n: v for n, v in values.items() if n not in names}

        def plan(values: Mapping[str, Any]) -> Any:
            """A job's parsed values → its generation (checks done, nothing built)."""
            return fn(parsed(values), **own_values(values))

        @functools.wraps(fn)
        def command(**values: Any) -> None:
            from typer.main import get_current_context

            args = parsed(values)
            _configure_logging(args.quiet)
            with torch.inference_mode():
                if args.jobs is not None:
                    ctx = get_current_context()
                    run_cli(lambda: run_jobs_file(args, plan, ctx, output_suffix))
                    return
                generation = run_cli(lambda: fn(args, **own_values(values)))
                if generation is not None:
                    run_cli(lambda: run_command_line(generation.args, generation))

        del command.__wrapped__  # Typer must see the new signature, not fn's
        command.__signature__ = inspect.Signature([*shared, *own])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in [*shared, *own]}
        app.command(name=name, cls=command_class(arity), help=help)(command)
        return fn

    return register


@dataclass(frozen=True)
class PipelineCli:
    """One pipeline's command line as data: what it is (`help`), its shared `options`, its defaults (`params`,
    `detect`, `detect_under_1_1_3`, `two_stage`, `defaults`, `helps`, `parsers`, `output_suffix`, as in
    `pipeline_command`) and `plan(args, **own_options)`: its checks (`with runtime.checks():`) and the
    `runtime.Generation` it makes (what to build, the call's arguments). `plan`'s docstring says how it runs; its
    keyword parameters after `args` are the pipeline's own Typer options."""

    help: str
    options: Sequence[str]
    plan: Callable[..., Any]
    params: PipelineParams = LTX_2_3_PARAMS
    detect: bool = True
    detect_under_1_1_3: bool = True
    two_stage: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    helps: Mapping[str, str] = field(default_factory=dict)
    parsers: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    output_suffix: str = ".mp4"

    def app(self, name: str) -> typer.Typer:
        """The single-command Typer app; its --help shows `help`, then `plan`'s docstring."""
        app = create_app(self.help)
        register = pipeline_command(
            app,
            self.options,
            params=self.params,
            detect=self.detect,
            detect_under_1_1_3=self.detect_under_1_1_3,
            two_stage=self.two_stage,
            defaults=self.defaults,
            helps=self.helps,
            parsers=self.parsers,
            output_suffix=self.output_suffix,
            name=name,
            help=f"{self.help}\n\n{inspect.getdoc(self.plan) or ''}".strip(),
        )
        register(self.plan)
        return app


def build_args(
    values: Mapping[str, Any],
    *,
    params: PipelineParams,
    detect: bool,
    two_stage: bool,
    detect_under_1_1_3: bool = True,
) -> CommonArgs:
    """Parsed option values → `CommonArgs`, the defaults left to the checkpoint and the release filled, boundary
    checks done (exit 2). The release's (`--numerics`): the negative prompt, and whether `detect` applies under 1.1.3
    (`detect_under_1_1_3`; 1.1.3's A2Vid used fixed LTX-2.3 parameters)."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    args = CommonArgs(**fields, declared=frozenset(values))
    try:
        args.check_model_flags()
    except InputError as exc:
        raise BoundaryError(str(exc)) from None
    numerics = numerics_named(args.numerics)
    detect = detect and (detect_under_1_1_3 or numerics.cli_defaults_1_2_0)
    version_file = args.version_file  # the single file, else the transformer (delta E.1)
    if detect and version_file is not None:
        _check_readable(version_file)
    source = detect_params(version_file) if detect and version_file is not None else params
    fill = {
        "num_inference_steps": lambda: source.num_inference_steps,
        "video_stg_blocks": lambda: tuple(source.video_guider_params.stg_blocks or ()),
        "audio_stg_blocks": lambda: tuple(source.audio_guider_params.stg_blocks or ()),
        "negative_prompt": lambda: default_negative_prompt(numerics),
        "num_frames": lambda: _frames_when_not_given(args),
    }
    try:
        fields.update({k: value() for k, value in fill.items() if k in values and values[k] is None})
        args = CommonArgs(**fields, declared=frozenset(values))
        validate(args, two_stage=two_stage)
    except InputError as exc:
        raise BoundaryError(str(exc)) from None

    return replace(args, device=process_device(args.device))  # under torchrun: this process's GPU


def _frames_when_not_given(args: CommonArgs) -> int | AutoDuration:
    """The length of a command line without --num-frames (spec delta C.4): `--auto-duration MIN_S MAX_S` when given
    (one line, exit 2, on files without a duration head), else the files' default (the duration head between 1 and
    20 s, or 121 frames without a head). The head is the single file's, or the split files' --duration-head-path."""
    head_file = args.duration_head_file
    found = frames_when_not_given(head_file)
    if args.auto_duration is None:
        return found
    if not isinstance(found, AutoDuration):
        what = f"{head_file.name} has" if head_file is not None else "the split files (no --duration-head-path) have"
        raise InputError(
            f"{what} no duration head (only LTX-2.5 files have one), so --auto-duration cannot choose the length; "
            "give --num-frames"
        )
    return AutoDuration(*args.auto_duration)


def _check_readable(checkpoint: Path) -> None:
    """The checkpoint's header parses (header only): an unreadable file is refused here, with exit 2, rather than
    detected as "not LTX-2.3" with a warning and refused later."""

    try:
        SafetensorsFile(checkpoint)  # reads and validates the header
    except LTXError as exc:
        raise BoundaryError(str(exc)) from None


def validate(args: CommonArgs, *, two_stage: bool) -> None:
    """Checks that need several values or give a better message than a type error; raises `InputError`."""
    declared = args.declared
    if args.jobs is None:
        for name, flag in (("prompt", "--prompt"), ("output_path", "--output-path")):
            if name in declared and getattr(args, name) is None:
                raise InputError(f"Missing option '{flag}'.")
    divisor, why = (TWO_STAGE_DIVISOR, " for two-stage pipelines") if two_stage else (ONE_STAGE_DIVISOR, "")
    if "height" in declared:
        check_multiple("--height", args.height, divisor, why)
    if "width" in declared:
        check_multiple("--width", args.width, divisor, why)
    automatic = isinstance(args.num_frames, AutoDuration)  # chosen by the duration head after the prompt
    if args.auto_duration is not None and not automatic:
        logging.getLogger(__name__).warning("--num-frames %s given: --auto-duration is not used", args.num_frames)
    if "num_frames" in declared and not automatic:
        check_frame_count("--num-frames", args.num_frames)
    if "frame_rate" in declared and args.frame_rate is not None and not args.frame_rate >= 1:
        raise InputError(f"--frame-rate {args.frame_rate} is too low; valid: 1 or more frames per second")
    if "images" in declared and not automatic:
        check_images(args.images, args.num_frames)
    if args.device is not None:
        try:
            torch.device(args.device)
        except (RuntimeError, ValueError):
            raise InputError(f"--device {args.device!r} is not a torch device; e.g. cpu, cuda, cuda:1") from None
    from ltx_pipelines.cli.parallel import check_parallel_flags

    try:
        check_compile_with_streaming(OffloadMode(args.offload), args.compile)
    except InputError:  # the rule is ltx_core's; its message names the Python parameters
        raise InputError(f"--compile cannot be combined with --offload {args.offload}; drop one of them") from None
    check_parallel_flags(args)


def check_finite(values: Mapping[str, Any]) -> None:
    """Typer's float options (Python's `float()`) take nan and inf: refuse them (exit 2), as no scale, strength, rate
    or time of any pipeline means anything there and they would silently turn the video into noise."""
    from typer.main import get_current_context

    ctx = get_current_context(silent=True)
    flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts} if ctx is not None else {}
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise BoundaryError(f"{flags.get(name, name)} {value} is not a finite number")


def given_on_command_line(name: str) -> bool:
    """Whether the running command's option `name` (its parameter name) was set on the command line (in a batch,
    the job's: the batch's command line with the job's options) rather than left at its default; False outside a
    command."""
    from typer.main import get_current_context  # Typer's own (vendored) Click context, not the `click` package's

    ctx = get_current_context(silent=True)
    if ctx is None:
        return False
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def multi_value_option(parser: MultiValue[Any], flag: str, help: str, *, required: bool = False) -> Any:
    """A repeatable multi-value option for a pipeline's own parameter, annotated `list[str]`; keep it in a module
    constant used as the default (`VIDEO_REF = multi_value_option(...)`, `def run(args, video: list[str] =
    VIDEO_REF)`), as Typer options are."""
    return typer.Option(... if required else [], flag, help=help, parser=parser, metavar=parser.metavar)


def _arity(parser: MultiValue[Any]) -> Arity:
    return parser.min_values, parser.max_values, parser.metavar


def _own_arity(own: Sequence[inspect.Parameter]) -> dict[str, Arity]:
    """Multi-value flags among a pipeline's own options (their `typer.Option` carries a `MultiValue` parser),
    declared as the default (`x: list[str] = OPTION`) or in `Annotated[list[str], OPTION]`."""
    found: dict[str, Arity] = {}
    for param in own:
        for info in (param.default, *getattr(param.annotation, "__metadata__", ())):
            parser = getattr(info, "parser", None)
            if isinstance(parser, MultiValue):
                decls = [getattr(info, "default", None), *(getattr(info, "param_decls", None) or ())]
                found.update({d: _arity(parser) for d in decls if isinstance(d, str) and d.startswith("--")})
    return found


def _configure_logging(quiet: bool) -> None:
    """INFO logging through rich on stderr (WARNING when quiet), unless the application configured logging."""
    if logging.getLogger().handlers:
        return
    from rich.logging import RichHandler

    handler = RichHandler(console=Console(stderr=True), show_path=False, show_time=False)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", handlers=[handler])
