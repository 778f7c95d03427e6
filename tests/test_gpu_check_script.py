"""scripts/gpu_check.sh is run once, with little device time, on a lent GPU machine: a step that hits its limit must
still leave what it printed in its log, and be interrupted so that Python unwinds (pytest's summary, temporary
checkpoints deleted); the steps come in order of value, each well inside a 10-minute call; env.log records the
toolchain. Checked here with a stand-in for Python that prints without flushing and then sleeps."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """
import sys, time
if "-c" in sys.argv:  # an environment probe: show what it would run
    print("probe:", sys.argv[sys.argv.index("-c") + 1])
    sys.exit(0)
print("partial output of " + " ".join(sys.argv[1:]))
try:
    time.sleep(60)
finally:
    print("unwound")
"""


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash and timeout")
def test_a_step_past_its_limit_keeps_its_output_and_unwinds(tmp_path: Path) -> None:
    fake = tmp_path / "fake_python.py"
    fake.write_text(FAKE_PYTHON)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PY": f"{sys.executable} {fake}",
        "OUT": str(out),
        "STEPS": "bench_vae",
        "LIMIT_bench_vae": "2",
    }
    env.pop("PYTHONUNBUFFERED", None)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal, not a background job
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "== bench_vae (limit 2s)" in done.stdout
    log = (out / "bench_vae.log").read_text()
    assert "partial output of scripts/bench_vae.py" in log
    assert "unwound" in log  # SIGINT, not SIGTERM: finally blocks and context managers run
    assert not (out / "gpu_tests.log").exists()  # only the selected step ran
    env_log = (out / "env.log").read_text()  # driver, CUDA, torch, gcc, the toolchain check, a Triton launch
    assert "gcc" in env_log and "torch.version.cuda" in env_log and "toolchain.triton_missing" in env_log
    assert "@triton.jit" in env_log and "add_one[(1,)]" in env_log


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_steps_in_order_of_value_each_inside_a_call(tmp_path: Path) -> None:
    env = {**os.environ, "DRY_RUN": "1", "OUT": str(tmp_path), "PY": "python"}
    env.pop("STEPS", None)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    steps = [line.split(" ", 2) for line in done.stdout.splitlines() if not line.startswith("logs in")]
    names = [name for name, _limit, _cmd in steps]
    assert names[:2] == ["bench_stream", "bench_resident"]  # streaming first: it matters most
    assert set(names) == {"bench_stream", "bench_resident", "gpu_tests", "bench_compile", "bench_vae", "bench_pipeline"}
    assert all(int(limit) <= 480 for _name, limit, _cmd in steps)  # each leaves room in a 600 s call
    commands = {name: cmd for name, _limit, cmd in steps}
    assert "--modes cpu,disk" in commands["bench_stream"]
    assert "--compile" in commands["bench_compile"] and "--clips 768x512x121" in commands["bench_compile"]
    assert "--compile" not in commands["bench_stream"] + commands["bench_resident"]
    assert not list(tmp_path.iterdir())  # a dry run writes nothing, not even env.log
