"""scripts/gpu_check.sh is run once, with little device time, on a lent GPU machine or a GPU runner with its own
Python, no uv and no network: a step that hits its limit must still leave what it printed in its log, and be
interrupted so that Python unwinds (pytest's summary, temporary checkpoints deleted); the steps come in order of
value, the headline numbers first, each well inside one ~8-minute call; the Python is chosen by what is there (uv
only where it builds its environment offline) and gets the packages' sources on its path; carried wheels are
installed only for what that Python lacks; a step that needs an uncarried compiled module (PyAV) is skipped; env.log
records the toolchain. Checked here with stand-ins for Python and uv."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
SOURCES = "packages/ltx-core/src:packages/ltx-pipelines/src"

FAKE_PYTHON = """
import os, sys, time
if "-c" in sys.argv:  # an environment probe, or a step's `import MODULE` check: show what it would run
    code = sys.argv[sys.argv.index("-c") + 1]
    if code.startswith("import ") and code.split()[1] in os.environ.get("FAKE_MISSING", "").split():
        sys.exit(1)
    print("probe:", code)
    sys.exit(0)
if sys.argv[1].endswith("runner_env.py"):  # the dependency report of env.log
    print("runner_env", " ".join(sys.argv[2:]))
    sys.exit(0)
print("partial output of " + " ".join(sys.argv[1:]))
try:
    time.sleep(60)
finally:
    print("unwound")
"""

# A Python whose installer runs for real (the real interpreter) and whose steps report what they can import.
IMPORTING_PYTHON = """
import os, sys
if sys.argv[1] in ("-m",) or sys.argv[1].endswith("runner_env.py"):
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
if "-c" in sys.argv:
    print("probe:", sys.argv[sys.argv.index("-c") + 1])
    sys.exit(0)
import ltx_carried_probe, ltx_core, ltx_pipelines
print("step", sys.argv[1], "imports the carried wheel:", ltx_carried_probe.VALUE, "and the sources:",
      ltx_core.__file__.startswith(os.getcwd()), ltx_pipelines.__file__.startswith(os.getcwd()))
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WHEELS": str(tmp_path / "no_wheels"), **extra}
    for name in ("PYTHONUNBUFFERED", "PYTHONPATH", "STEPS", "DRY_RUN"):
        if name not in extra:
            env.pop(name, None)
    if "PY" not in extra:
        env.pop("PY", None)
    return env


def _run(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal, not a background job
    )


def _dry(done: subprocess.CompletedProcess[str]) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """The `# ` setup lines and each step's (limit, command) of a dry run."""
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    setup = [line[2:] for line in lines if line.startswith("# ")]
    steps = [line.split(" ", 2) for line in lines if not line.startswith(("# ", "logs in"))]
    return setup, {name: (int(limit), cmd) for name, limit, cmd in steps}


def _fake_uv(tmp_path: Path, rc: int) -> str:
    uv = tmp_path / f"exit{rc}" / "uv"
    uv.parent.mkdir()
    uv.write_text(f"#!/bin/sh\nexit {rc}\n")
    uv.chmod(0o755)
    return str(uv)


def _wheel(folder: Path, name: str, version: str = "1.0") -> Path:
    """A minimal pure-Python wheel holding the module `name` (VALUE = 42)."""
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", "VALUE = 42\n")
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


needs_bash = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash")


@needs_bash
def test_a_step_past_its_limit_keeps_its_output_and_unwinds(tmp_path: Path) -> None:
    fake = tmp_path / "fake_python.py"
    fake.write_text(FAKE_PYTHON)
    env = _env(tmp_path, PY=f"{sys.executable} {fake}", STEPS="bench_vae", LIMIT_bench_vae="2")
    done = _run(env)
    out = tmp_path / "out"
    assert done.returncode == 1, done.stdout + done.stderr
    assert "== bench_vae (limit 2s)" in done.stdout
    log = (out / "bench_vae.log").read_text()
    assert "partial output of scripts/bench_vae.py" in log
    assert "unwound" in log  # SIGINT, not SIGTERM: finally blocks and context managers run
    assert not (out / "gpu_tests.log").exists()  # only the selected step ran
    env_log = (out / "env.log").read_text()  # the Python and why, driver, CUDA, torch, floors, gcc, toolchain, Triton
    assert f"python: {sys.executable} {fake} (PY was given)" in env_log
    assert "gcc" in env_log and "torch.version.cuda" in env_log and "toolchain.triton_missing" in env_log
    assert "runner_env report" in env_log  # each declared dependency against its floor
    assert "@triton.jit" in env_log and "add_one[(1,)]" in env_log


@needs_bash
def test_steps_in_order_of_value_each_inside_a_call(tmp_path: Path) -> None:
    setup, steps = _dry(_run(_env(tmp_path, DRY_RUN="1", PY="python")))
    assert setup[0] == "python: python (PY was given)"
    assert list(steps)[:3] == ["headline", "bench_stream", "bench_resident"]  # the headline numbers first
    every = {"headline", "bench_stream", "bench_resident", "gpu_tests", "bench_compile", "bench_vae", "bench_dvae"}
    every.add("demo")
    assert set(steps) == every
    # no step over 7 minutes: with the environment probes (seconds; at most ~2 minutes) inside an ~8-minute call
    assert all(limit <= 420 for limit, _cmd in steps.values())
    assert steps["headline"][1] == "python scripts/bench_pipeline.py"  # GPU defaults: 768x512x121, 48 blocks
    assert "--modes cpu,disk" in steps["bench_stream"][1]
    assert "--compile" in steps["bench_compile"][1] and "--clips 768x512x121" in steps["bench_compile"][1]
    assert "--compile" not in steps["bench_stream"][1] + steps["bench_resident"][1]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # a dry run writes nothing


@needs_bash
@pytest.mark.parametrize(
    ("uv", "python", "why"),
    [
        ("absent", "python3", "uv not found"),
        ("offline fails", "python3", "uv cannot build its environment offline (no network and nothing cached)"),
        ("offline works", "UV run --frozen --offline python", "uv's environment builds offline"),
    ],
)
def test_the_python_is_chosen_by_what_is_there(tmp_path: Path, uv: str, python: str, why: str) -> None:
    command = {"absent": str(tmp_path / "no" / "uv"), "offline fails": _fake_uv(tmp_path, 1)}
    command["offline works"] = _fake_uv(tmp_path, 0)
    setup, steps = _dry(_run(_env(tmp_path, DRY_RUN="1", UV=command[uv], STEPS="headline")))
    python = python.replace("UV", command[uv])
    assert setup[0] == f"python: {python} ({why})"
    assert steps == {"headline": (420, f"{python} scripts/bench_pipeline.py")}
    if python == "python3":  # a Python of its own: the packages' sources on its path, nothing installed
        assert f"PYTHONPATH={SOURCES}" in setup
    else:
        assert not any(line.startswith("PYTHONPATH=") for line in setup)


@needs_bash
def test_only_the_wheels_the_python_lacks_are_installed(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _wheel(wheels, "ltx_carried_probe")
    (wheels / "pytest-0.0-py3-none-any.whl").write_bytes(b"")  # the Python has pytest: left to its own
    site = tmp_path / "site"
    env = _env(tmp_path, PY=sys.executable, WHEELS=str(wheels), SITE=str(site), DRY_RUN="1", STEPS="headline")
    setup, _steps = _dry(_run(env))
    assert f"wheels: would install into {site}: ltx_carried_probe-1.0-py3-none-any.whl" in setup
    assert not site.exists()  # a dry run installs nothing


@needs_bash
def test_carried_wheels_and_sources_reach_every_step(tmp_path: Path) -> None:
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    _wheel(wheels, "ltx_carried_probe")
    python = tmp_path / "python.py"
    python.write_text(IMPORTING_PYTHON)
    env = _env(tmp_path, PY=f"{sys.executable} {python}", WHEELS=str(wheels), SITE=str(site), STEPS="bench_vae")
    done = _run(env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "ltx_carried_probe" / "__init__.py").is_file()
    log = (tmp_path / "out" / "bench_vae.log").read_text()
    assert "step scripts/bench_vae.py imports the carried wheel: 42 and the sources: True True" in log
    env_log = (tmp_path / "out" / "env.log").read_text()
    assert f"wheels: installed into {site}" in env_log and "ltx_carried_probe-1.0-py3-none-any.whl" in env_log
    assert f"PYTHONPATH={site}:{SOURCES}" in env_log


@needs_bash
def test_a_step_needing_an_uncarried_compiled_module_is_skipped(tmp_path: Path) -> None:
    fake = tmp_path / "fake_python.py"
    fake.write_text(FAKE_PYTHON)
    done = _run(_env(tmp_path, PY=f"{sys.executable} {fake}", STEPS="demo", FAKE_MISSING="av"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "== demo skipped: needs the Python module 'av'" in done.stdout
    assert not (tmp_path / "out" / "demo.log").exists()
