"""What generated kernels need on this machine, checked up front instead of at the first kernel launch.

Triton is importable without being usable: it compiles a small C launcher for each kernel with the system C
compiler against Python's headers, so a machine without gcc/clang or without `Python.h` fails only when the first
kernel runs (deep inside a LoRA fusion or a compiled forward). Inductor's CPU kernels need a C++ compiler. These
functions say what is missing, in words, so callers can fall back (stochastic rounding) or refuse in one line
(`--compile`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sysconfig
from typing import Any


def c_compiler() -> str | None:
    """The C compiler Triton would use: $CC, else gcc, else clang (Triton's own order)."""
    return os.environ.get("CC") or shutil.which("gcc") or shutil.which("clang")


def cxx_compiler() -> str | None:
    """The C++ compiler inductor's CPU backend would use: $CXX, else g++, else clang++."""
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")


def python_headers_missing() -> str | None:
    include = sysconfig.get_paths()["include"]
    return None if os.path.isfile(os.path.join(include, "Python.h")) else f"the Python headers ({include}/Python.h)"


def triton_missing() -> str | None:
    """What keeps Triton from launching a kernel here, or None when nothing does."""
    if importlib.util.find_spec("triton") is None:
        return "Triton (pip install triton)"
    if c_compiler() is None:
        return "a C compiler for Triton's kernel launchers (gcc, clang or $CC)"
    return python_headers_missing()


@functools.cache
def triton_usable() -> bool:
    """`triton_missing() is None`, decided once per process (asked for every fused fp8 weight)."""
    return triton_missing() is None


def compile_toolchain_missing(device_type: str | None = None) -> str | None:
    """What `torch.compile` (inductor) lacks to build kernels for `device_type` ("cuda": Triton; "cpu": a C++
    compiler; None: what both need, a C compiler and the Python headers), or None."""
    if device_type == "cuda":
        return triton_missing()
    if device_type == "cpu" and cxx_compiler() is None:
        return "a C++ compiler for inductor's CPU kernels (g++, clang++ or $CXX)"
    if device_type is None and c_compiler() is None:
        return "a C compiler to build its kernels (gcc, clang or $CC)"
    return python_headers_missing()


def check_compile_toolchain(device: Any = None) -> None:
    """Refuse `compile=True` in one line when the kernels it generates cannot be built here (see `ltx_core.toolchain`);
    without a device, what every device needs."""
    import torch

    from ltx_core.errors import InputError

    device_type = torch.device(device).type if device is not None else None
    missing = compile_toolchain_missing(device_type)
    if missing is not None:
        raise InputError(f"compile=True needs {missing}, which this machine lacks; install it or pass compile=False")
