"""The Typer command class of every pipeline: variable-arity options and one-line usage errors.

Variable arity (`--image PATH FRAME_IDX STRENGTH [CRF]`): before Click parses, the values following such a flag are
joined into one token (see values.SEPARATOR) so that Click sees an ordinary one-value option; the option's
`MultiValue` parser splits them again. Values of the other options are skipped verbatim, so a prompt that happens
to read "--image" is never mistaken for the flag.

Usage errors (a missing option, a bad value, a file not found) print ONE line on stderr, `error: <message>`, and
exit with 2, instead of Typer's multi-line panel with the usage text.

Help: a flag shows no value placeholder (Typer's default is `<bool>`), other values the Click-style name (TEXT,
INTEGER, FLOAT, [a|b]), and a range that is only an implementation limit (`--seed`: a 64-bit integer) is not printed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from ltx_pipelines.cli.values import SEPARATOR

ARGV = "ltx.argv"  # where a command's context keeps its command line (`ctx.meta`)
Arity = tuple[int, int | None, str]  # (min values, max values or None = unbounded, metavar for messages)


# Exit codes: 0 success, 2 invalid command-line values (usage errors and boundary checks), 1 a failure while running,
# 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process killed by it


def print_error(message: str, *, usage: bool = False, final: bool = False) -> None:
    """One red line on stderr (soft-wrapped: a terminal may wrap it visually, but it is one line of text); under
    torchrun with several processes it starts with the process's rank (not rank 0's), a `usage` error (found by
    every process alike) is printed by the first process of each machine only, and a `final` line (the one this
    process exits with) is left in torchrun's error file of the process (see `cli.parallel.record_for_launcher`)."""
    from ltx_pipelines.cli.parallel import rank_prefix, record_for_launcher, repeats_usage_errors

    line = message.strip().splitlines()[0] if message else ""
    if final:
        record_for_launcher(line)  # under torchrun: its closing report shows this line
    if usage and repeats_usage_errors():
        return
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    console.print(Text("error: ", style="bold red") + Text(rank_prefix() + line, "red"))


class BoundaryError(typer.BadParameter):
    """A check of several values at the command-line boundary; its message already names the flag(s)."""

    def format_message(self) -> str:
        return self.message


def usage_message(exc: Exception) -> str:
    """Click's message for a usage error, on one line (`Invalid value for '--height': ...`, `Missing option ...`); for
    a shared option this command does not have, why it does not (`OptionSpec.absent`) where that is not obvious."""
    from ltx_pipelines.cli.options import OPTIONS

    flag = getattr(exc, "option_name", None)
    why = next((spec.absent for spec in OPTIONS.values() if spec.flag == flag and spec.absent), None)
    if why is not None:
        return f"{flag} is not an option of this pipeline: {why}"
    format_message = getattr(exc, "format_message", None)
    return " ".join((format_message() if format_message is not None else str(exc)).split())


class LTXCommand(TyperCommand):
    """Subclass per command with `var_arity` filled (use `command_class`)."""

    var_arity: ClassVar[Mapping[str, Arity]] = {}

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """As Typer's, but a usage error is one `error: ...` line on stderr (exit 2) rather than a panel."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:  # Click's usage errors (Typer vendors Click)
            print_error(usage_message(exc), usage=True, final=True)
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            print_error("aborted", final=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Typer's rich help, with the option names never cut (see `_WholeNamesTable`)."""
        from typer import rich_utils

        table = getattr(rich_utils, "Table", None)
        if table is None:  # another Typer layout: its own help
            return super().format_help(ctx, formatter)
        rich_utils.Table = _WholeNamesTable
        try:
            return super().format_help(ctx, formatter)
        finally:
            rich_utils.Table = table

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            tidy_help(param, ctx)
        return params

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[ARGV] = list(args)  # the base of each job's command line in a --jobs batch
        positional = any(getattr(p, "param_type_name", "") == "argument" for p in self.params)
        return super().parse_args(ctx, regroup(args, self.var_arity, self._value_counts(), positional))

    def _value_counts(self) -> dict[str, int]:
        """How many tokens each known option flag consumes (flags 0, others their nargs)."""
        counts: dict[str, int] = {}
        for param in self.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            takes = 0 if getattr(param, "is_flag", False) or getattr(param, "count", False) else param.nargs
            for opt in [*param.opts, *getattr(param, "secondary_opts", [])]:
                counts[opt] = takes
        return counts


class _WholeNamesTable(Table):
    """The table of an options panel in --help with every column but the last two (value names, help text) kept
    whole: when the terminal is narrow, Rich shrinks the widest wrappable columns together, and at 80 columns that cut
    the longest flags (`--distilled-checkpoint…`); the help text wraps instead, a word longer than its column (a
    flag named in it) folded rather than cut."""

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*renderables, **kwargs)
        for column in self.columns[:-2]:
            column.no_wrap = True
        help_cell = renderables[-1] if renderables else None
        for part in getattr(help_cell, "renderables", [help_cell]):  # Typer's help cell: Columns of Text
            if isinstance(part, Text) and part.overflow is None:
                part.overflow = "fold"


SHOWN_RANGE_LIMIT = 2**31  # ranges with a bound beyond this are machine limits, not advice: not shown in --help


def tidy_help(param: Any, ctx: Any) -> None:
    """How an option reads in --help: flags without a placeholder, values named Click-style, no 20-digit ranges."""
    if getattr(param, "param_type_name", "") != "option":
        return
    if param.metavar is None:
        param.metavar = "" if param.is_flag or param.count else _value_name(param.display_type(ctx).strip("<>"))
    bounds = [b for b in (param.min, param.max) if b is not None]
    if any(abs(b) > SHOWN_RANGE_LIMIT for b in bounds):
        param._get_number_range_help_str = lambda: None  # Typer's hook for the range column


_VALUE_NAMES = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT"}


def _value_name(label: str) -> str:
    """Typer's `<int range>` → INTEGER, `<none|cpu>` → [none|cpu]."""
    if "|" in label:
        return f"[{label}]"
    base = label.removesuffix(" range")
    return _VALUE_NAMES.get(base, base.upper())


def command_class(var_arity: Mapping[str, Arity]) -> type[LTXCommand]:
    """An `LTXCommand` subclass that regroups the given flags."""
    return type("LTXCommand", (LTXCommand,), {"var_arity": dict(var_arity)})


def regroup(
    args: list[str], var_arity: Mapping[str, Arity], value_counts: Mapping[str, int], positional: bool = False
) -> list[str]:
    """Join the values after each variable-arity flag into one token; raise `BadParameter` on a wrong count.

    A value list ends at the maximum count, at `--`, or at the next token that is a known option flag (or looks
    like a long option, `--x`). `--flag=first` is accepted as the first value. Without `positional` arguments in
    the command, a value right after a full list can only be one too many, and is reported as such.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out.extend(args[i:])
            break
        flag, eq, inline = token.partition("=")
        if flag in var_arity and token.startswith("--"):
            low, high, metavar = var_arity[flag]
            values = [inline] if eq else []
            i += 1
            while i < len(args) and (high is None or len(values) < high) and not _is_option(args[i], value_counts):
                values.append(args[i])
                i += 1
            extra = not positional and i < len(args) and not _is_option(args[i], value_counts)
            if len(values) < low or extra:
                if extra:
                    values.append(args[i])
                got = f"{len(values)}: {' '.join(values)}" if values else "none"
                raise typer.BadParameter(f"expects {metavar}, got {got}", param_hint=f"'{flag}'")
            out.extend([flag, SEPARATOR.join(values)])
            continue
        out.append(token)
        takes = value_counts.get(token, 0)
        out.extend(args[i + 1 : i + 1 + takes])
        i += 1 + takes
    return out


def _is_option(token: str, value_counts: Mapping[str, int]) -> bool:
    return token == "--" or token.partition("=")[0] in value_counts or (token.startswith("--") and len(token) > 2)
