"""Command lines for tests, written as keyword arguments: `flags(prompt="a fox", height=64)` is
`["--prompt", "a fox", "--height", "64"]` (underscores become hyphens; a tuple or list gives several values after
one flag; True gives the bare flag; None leaves the option out)."""

from __future__ import annotations

from typing import Any


def flags(**options: Any) -> list[str]:
    tokens: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        tokens.append("--" + name.replace("_", "-"))
        if value is True:
            continue
        tokens += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return tokens
