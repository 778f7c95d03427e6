"""The Python packages a GPU runner without network lacks, carried as wheels; and what a runner's Python holds.

The GPU runners scripts/gpu_check.sh targets have no network and their own Python (PyTorch + CUDA, transformers,
safetensors, einops, typer, rich, triton; no PyAV, no uv), and receive the checkout as an upload of at most 64 MiB.
What the check needs beyond that comes as wheels in an ignored folder (`.whl/`) that travels with the checkout (the
device tool's `carry`), and gpu_check.sh installs those the runner's Python lacks:

    python3 scripts/runner_env.py fetch            # here, with network and pip: the wheels into .whl/
    python3 scripts/runner_env.py missing .whl/*.whl   # there: the wheels whose distribution is not installed
    python3 scripts/runner_env.py report           # there: each declared dependency, installed version vs floor

The default wheels, at the versions uv.lock pins (the ones the suite runs with):
- accelerate: the Gemma loader builds the model under `accelerate.init_empty_weights` (the gpu tests of the text
  encoder; pure Python);
- psutil: accelerate imports it (a compiled wheel, but abi3: any CPython 3 on manylinux x86_64);
- pytest, pluggy, iniconfig: the `gpu_tests` step (pytest's other needs, packaging and pygments, come with
  transformers and rich).
PyAV (`av`) is compiled and large: it is not carried, and the steps that need it skip.

Only the standard library is used, so `report` and `missing` run on any Python 3.11+.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER_WHEELS = ("accelerate", "psutil", "pytest", "pluggy", "iniconfig")
UPLOAD_LIMIT = 64 * 2**20  # what travels to a runner: the tracked tree plus the carried folders
# pip matches manylinux tags exactly: the ones the carried wheels are published with.
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = ROOT / "uv.lock") -> dict[str, str]:
    """Distribution → version pinned by uv.lock (the first where a package is locked at several versions)."""
    versions: dict[str, str] = {}
    for package in tomllib.loads(lock.read_text())["package"]:
        if "version" in package:
            versions.setdefault(canonical(package["name"]), package["version"])
    return versions


def wheel_distribution(path: str | Path) -> str:
    """The distribution a wheel file installs, from its name (`NAME-VERSION-...whl`)."""
    return canonical(Path(path).name.split("-", 1)[0])


def installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def release(version: str) -> tuple[int, ...]:
    """The numeric release part of a version (`2.11.0+cu130` → (2, 11, 0)), enough to compare with a floor."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def declared_floors() -> list[tuple[str, str | None, str]]:
    """(distribution, floor or None, package) for each runtime dependency the packages declare."""
    out = []
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for requirement in project.get("dependencies", []):
            match = re.match(r"([A-Za-z0-9_.-]+)\s*(?:>=\s*([0-9][^,;\s]*))?", requirement)
            if match and not match.group(1).startswith("ltx-"):
                out.append((canonical(match.group(1)), match.group(2), project["name"]))
    return out


def report() -> list[str]:
    """One line per declared dependency: installed version against its floor. torch below its floor is a test
    concern only (docs/architecture.md, "Dependency floors"): the runtime runs; the golden CPU noise differs."""
    lines = [f"python {sys.version.split()[0]} ({sys.executable})"]
    for name, floor, package in declared_floors():
        version = installed(name)
        if version is None:
            status = "MISSING"
        elif floor and release(version) < release(floor):
            status = "below the floor (runs; golden CPU-noise tests differ)" if name == "torch" else "BELOW THE FLOOR"
        else:
            status = "ok"
        lines.append(f"{name:14s} {version or '-':22s} floor {floor or '-':10s} {status} ({package})")
    return lines


def missing(wheels: list[str]) -> list[str]:
    """The wheels whose distribution this Python does not have (the others are left to the runner's own)."""
    return [w for w in wheels if installed(wheel_distribution(w)) is None]


def upload_bytes() -> int:
    """Bytes of the tracked files (what travels besides the carried folders)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return sum((ROOT / name).stat().st_size for name in listed.decode().split("\0") if (ROOT / name).is_file())


def fetch(dest: Path, names: list[str], python_version: str) -> list[Path]:
    """Download the wheels of `names` at uv.lock's versions for a CPython `python_version` runner on manylinux
    x86_64 (binary wheels only, no dependencies: every need is named) into `dest`, one version of each."""
    versions = locked_versions()
    unknown = [n for n in names if canonical(n) not in versions]
    if unknown:
        raise SystemExit(f"error: not in uv.lock: {', '.join(unknown)} (only locked versions are carried)")
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    command += ["--implementation", "cp", "--python-version", python_version]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    command += [f"{name}=={versions[canonical(name)]}" for name in names]
    subprocess.run(command, check=True)
    wanted = {canonical(n): versions[canonical(n)] for n in names}
    kept = []
    for wheel in sorted(dest.glob("*.whl")):
        name, version = wheel_distribution(wheel), wheel.name.split("-")[1]
        if name in wanted and version != wanted[name]:
            wheel.unlink()  # another version of a carried distribution: two would stop the install
        else:
            kept.append(wheel)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download the runner's missing wheels (needs pip and network)")
    get.add_argument("names", nargs="*", default=list(RUNNER_WHEELS), help=f"default: {' '.join(RUNNER_WHEELS)}")
    get.add_argument("--dest", type=Path, default=ROOT / ".whl", help="default .whl/ (git-ignored)")
    get.add_argument("--python-version", default="3.12", help="the runner's Python (default 3.12)")
    miss = sub.add_parser("missing", help="print the wheels whose distribution this Python lacks")
    miss.add_argument("wheels", nargs="*")
    sub.add_parser("report", help="each declared dependency: installed version vs floor")
    args = parser.parse_args(argv)
    if args.command == "missing":
        for wheel in missing(args.wheels):
            print(wheel)
    elif args.command == "report":
        print("\n".join(report()))
    else:
        wheels = fetch(args.dest, args.names, args.python_version)
        carried = sum(w.stat().st_size for w in wheels)
        tree = upload_bytes()
        for wheel in wheels:
            print(f"{wheel.stat().st_size / 2**20:7.2f} MiB  {wheel.name}")
        total = f"{(carried + tree) / 2**20:.2f} MiB of the {UPLOAD_LIMIT / 2**20:.0f} MiB upload"
        print(f"wheels {carried / 2**20:.2f} MiB + tracked tree {tree / 2**20:.2f} MiB = {total}")
        if carried + tree > UPLOAD_LIMIT:
            print("error: over the upload limit", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
