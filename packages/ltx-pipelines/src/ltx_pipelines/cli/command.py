"""A Typer command class that accepts variable-arity options (`--image PATH FRAME_IDX STRENGTH [CRF]`).

Before Click parses, the values following such a flag are joined into one token (see values.SEPARATOR) so that
Click sees an ordinary one-value option; the option's `MultiValue` parser splits them again. Values of the other
options are skipped verbatim, so a prompt that happens to read "--image" is never mistaken for the flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand

from ltx_pipelines.cli.values import SEPARATOR

Arity = tuple[int, int | None, str]  # (min values, max values or None = unbounded, metavar for messages)


class LTXCommand(TyperCommand):
    """Subclass per command with `var_arity` filled (use `command_class`)."""

    var_arity: ClassVar[Mapping[str, Arity]] = {}

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
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
