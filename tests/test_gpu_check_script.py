"""scripts/gpu_check.sh is run once, with little device time, on a lent GPU machine: a step that hits its limit must
still leave what it printed in its log, and be interrupted so that Python unwinds (pytest's summary, temporary
checkpoints deleted). Checked here with a stand-in for Python that prints without flushing and then sleeps."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """
import sys, time
if "-c" in sys.argv:  # the environment probe
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
    start = time.monotonic()
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal, not a background job
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 1, done.stdout + done.stderr
    assert "== bench_vae (limit 2s)" in done.stdout
    log = (out / "bench_vae.log").read_text()
    assert "partial output of scripts/bench_vae.py" in log
    assert "unwound" in log  # SIGINT, not SIGTERM: finally blocks and context managers run
    assert elapsed < 15  # no wait for the SIGKILL fallback
    assert not (out / "gpu_tests.log").exists()  # only the selected step ran
