"""scripts/runner_env.py: the wheels a GPU runner lacks are carried at uv.lock's versions, only the missing ones are
installed there, and the dependency report tells a torch below the test floor (runs) from a missing or too old
package (issue 23 item 9)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("runner_env", ROOT / "scripts" / "runner_env.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_every_carried_wheel_is_pinned_by_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _script(monkeypatch)
    locked = env.locked_versions()
    assert all(env.canonical(name) in locked for name in env.RUNNER_WHEELS)
    with pytest.raises(SystemExit, match=r"not in uv\.lock: no-such-package"):
        env.fetch(ROOT / "unused", ["no-such-package"], "3.12")


def test_only_missing_distributions_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _script(monkeypatch)
    wheels = ["w/pytest-9.2.0-py3-none-any.whl", "w/ltx_not_installed-1.0-py3-none-any.whl"]
    assert env.wheel_distribution("w/Foo_Bar.baz-1.0-py3-none-any.whl") == "foo-bar-baz"
    assert env.missing(wheels) == ["w/ltx_not_installed-1.0-py3-none-any.whl"]


def test_the_report_tells_the_torch_test_floor_from_missing_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _script(monkeypatch)
    floors = {name: floor for name, floor, _package in env.declared_floors()}
    assert floors["torch"] == "2.13" and floors["typer"] == "0.27.2" and floors["av"] == "12"
    versions = {"torch": "2.11.0+cu130", "typer": "0.20.0", "av": None}
    monkeypatch.setattr(env, "installed", lambda name: versions.get(name, "99"))
    lines = {line.split()[0]: line for line in env.report()[1:]}
    assert "below the floor (runs; golden CPU-noise tests differ)" in lines["torch"]
    assert "BELOW THE FLOOR" in lines["typer"] and "MISSING" in lines["av"] and lines["einops"].split()[4] == "ok"
