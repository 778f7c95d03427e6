"""Access to golden fixture cases (official outputs on tiny checkpoints) and error reporting for parity tests.

The fixture folder is `$LTX_GOLDEN_DIR` when set, else the shared fixture set beside the checkout
(`../shared/golden`, where CI and the developers' machines have it), else the small subset kept in the repository
(`tests/golden`: the component cases and their checkpoints; the end-to-end tests skip without the full set and say
so). Sizes are never hard-coded in tests: they come from the checkpoint metadata or the case tensors.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import torch

from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.numerics import Numerics, numerics_named
from ltx_core.testing.cpu_parity import e2e_case_names, parity, recording_for

_REPO = Path(__file__).resolve().parents[5]
_REPO_GOLDEN = _REPO / "tests" / "golden"
_SHARED_GOLDEN = _REPO.parent / "shared" / "golden"


def golden_dir() -> Path:
    env = os.environ.get("LTX_GOLDEN_DIR")
    if env:
        return Path(env)
    return _SHARED_GOLDEN if _SHARED_GOLDEN.is_dir() else _REPO_GOLDEN


@dataclass
class GoldenCase:
    path: Path
    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def numerics(self) -> Numerics:
        """The numerics of the official release that recorded the case: param `official_version` (component
        cases), else the release named in param `official` ("ltx-core/ltx-pipelines 1.2.0 (...)", end-to-end
        cases), else 1.1.3 (the 1.1.3 component cases name none)."""
        version = self.params.get("official_version")
        if version is None:
            named = re.search(r"\b(\d+\.\d+\.\d+)\b", str(self.params.get("official", "")))
            version = named.group(1) if named else "1.1.3"
        return numerics_named(version)

    def file(self, reference: str) -> Path:
        """A file the case names in its params (checkpoint, LoRA, upsampler, audio encoder). The 1.1.3 cases name
        them relative to their own folder (`e2e/`), the re-recordings and the 1.2.0 cases relative to the golden
        root (`e2e/ltx23_e2e_tiny.safetensors`); a missing file gives the case folder's path, for the loader's
        one-line "not found"."""
        for base in (self.path.parent, self.path.parent.parent, golden_dir()):
            if (base / reference).is_file():
                return base / reference
        return self.path.parent / reference


@cache
def _listed_113(root: Path) -> tuple[Path, ...]:
    """The files of the 1.1.3 set, as its `MANIFEST.json` lists them (relative to `root`; read once per root)."""
    manifest = root / "MANIFEST.json"
    if not manifest.is_file():
        return ()
    return tuple(Path(name) for name in json.loads(manifest.read_text()).get("files", {}))


def _matching(names: Iterable[Path], pattern: str) -> list[Path]:
    root = golden_dir()
    return sorted(root / n for n in names if fnmatch(n.name, pattern) and (root / n).is_file())


def component_cases(pattern: str) -> list[Path]:
    """The 1.1.3 component cases whose file names match the glob `pattern` (e.g. "transformer_*"), in every variant
    folder, as the fixture set's `MANIFEST.json` lists them: the 1.2.0 and LTX-2.5 cases (README_120) sit beside
    them in folders of their own, with numerics this code does not implement yet."""
    cases = (n for n in _listed_113(golden_dir()) if n.parts[0] == "cases")
    return _matching(cases, f"{pattern}.safetensors")


@cache
def _listed_120_cases(root: Path) -> tuple[Path, ...]:
    """The component cases of the 1.2.0 set, as its `MANIFEST_120.json` lists them (read once per root)."""
    manifest = root / "MANIFEST_120.json"
    if not manifest.is_file():
        return ()
    return tuple(Path(name) for name in json.loads(manifest.read_text()).get("cases", {}))


def component_cases_120(pattern: str) -> list[Path]:
    """The 1.2.0 re-recordings of component cases (`cases/*_120/`, README_120 §5.7) whose file names match the glob
    `pattern`, as `MANIFEST_120.json` lists them; empty where the fixture set has none (the in-repo subset)."""
    cases = (n for n in _listed_120_cases(golden_dir()) if n.parts[1].endswith("_120"))
    return _matching(cases, f"{pattern}.safetensors")


def cases_120(pattern: str) -> list[Path]:
    """Every component case of the 1.2.0 set (the new ones in `cases/common/`, `cases/ltx25*/`, ... and the
    re-recordings) whose file names match the glob `pattern`; empty where the fixture set has none."""
    return _matching(_listed_120_cases(golden_dir()), f"{pattern}.safetensors")


@cache
def _listed_120_pipelines(root: Path) -> tuple[Path, ...]:
    """The cases of the 1.2.0 new-pipelines set (README_120_pipelines: T2A, HDR, DFR, generated keyframes), as its
    `MANIFEST_120_pipelines.json` lists them (read once per root)."""
    manifest = root / "MANIFEST_120_pipelines.json"
    if not manifest.is_file():
        return ()
    return tuple(Path(name) for name in json.loads(manifest.read_text()).get("cases", {}))


def pipeline_cases_120(pattern: str) -> list[Path]:
    """The cases of the 1.2.0 new-pipelines set (README_120_pipelines: text to audio, HDR, DFR, generated keyframe
    slots; component cases such as `cases/hdr_120/*` and end-to-end runs such as `e2e_120/ltx25_distilled_hdr`)
    whose file names match the glob `pattern`; empty where the set has none."""
    return _matching(_listed_120_pipelines(golden_dir()), f"{pattern}.safetensors")


def component_checkpoints() -> list[Path]:
    """The 1.1.3 set's tiny single-file checkpoints (`ltx2_tiny`, `ltx23_tiny`; not the LTX-2.5 ones beside them)."""
    return _matching((n for n in _listed_113(golden_dir()) if len(n.parts) == 1), "ltx*_tiny.safetensors")


def load_case(path: str | Path) -> GoldenCase:
    f = SafetensorsFile(path)
    tensors = dict(f.iter_tensors())
    inputs = {k[3:]: v for k, v in tensors.items() if k.startswith("in.")}
    outputs = {k[4:]: v for k, v in tensors.items() if k.startswith("out.")}
    params = json.loads(f.metadata.get("case", "{}"))
    return GoldenCase(Path(path), inputs, outputs, params)


def load_case_params(path: str | Path) -> dict[str, Any]:
    """A case's params alone (its header; no tensor is read)."""
    return json.loads(SafetensorsFile(path).metadata.get("case", "{}"))


def golden_modality(
    inputs: dict[str, torch.Tensor],
    prefix: str,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Any:
    """The transformer `Modality` of a golden case's `<prefix>_*` inputs (latent and context cast to `dtype` when
    given; every tensor moved to `device` when given)."""
    from ltx_core.model.transformer import Modality

    def put(t: torch.Tensor, cast: bool = False) -> torch.Tensor:
        return t.to(device=device, dtype=dtype if cast else None)

    mask = inputs.get("context_mask")
    return Modality(
        latent=put(inputs[f"{prefix}_latent"], cast=True),
        sigma=put(inputs[f"{prefix}_sigma"]),
        timesteps=put(inputs[f"{prefix}_timesteps"]),
        positions=put(inputs[f"{prefix}_positions"]),
        context=put(inputs[f"{prefix}_context"], cast=True),
        context_mask=None if mask is None else put(mask),
    )


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """max |got − expected| / max |expected| (the issue's parity measure), computed in float64."""
    got64, exp64 = got.detach().double().cpu(), expected.detach().double().cpu()
    if got64.shape != exp64.shape:
        raise AssertionError(f"shape {tuple(got64.shape)} != expected {tuple(exp64.shape)}")
    scale = exp64.abs().max().item()
    err = (got64 - exp64).abs().max().item() if exp64.numel() else 0.0
    return err / scale if scale > 0 else err


# README 7.13: the LTX-2.3 vocoder computes in float32, and its waveform moves by up to this much (absolute) with the
# summation order alone (thread count, CPU generation: MKL / oneDNN kernels), every latent before it being identical.
LTX23_WAVEFORM_SPREAD = 0.004


def report(label: str, got: torch.Tensor, expected: torch.Tensor, tol: float) -> float:
    """Print the worst error for the test log and assert it is within `tol`."""
    err = relative_error(got, expected)
    abs_err = (got.detach().double().cpu() - expected.detach().double().cpu()).abs().max().item()
    print(f"[parity] {label}: max rel err {err:.3e} (max abs {abs_err:.3e}, tol {tol:.0e})")
    assert err <= tol, f"{label}: max relative error {err:.3e} > {tol:.0e}"
    return err


E2E_RELEASES = ("1.1.3", "1.2.0")


def e2e_cases(*patterns: str, release: str = "1.1.3") -> list[Path]:
    """The end-to-end cases of official `release` whose file names match one of the glob `patterns`.

    1.1.3: each as the recording to compare with in this process: the one made with this process's CPU kernels
    where the set has it (`e2e_avx2/` under the test suite's AVX2 caps), else the one in `e2e/`
    (`ltx_core.testing.cpu_parity`). 1.2.0: the re-recordings of those cases in `e2e_120/` (README_120 §6.5, the
    ones its `MANIFEST.json` says replay a 1.1.3 case; not the LTX-2.5 cases beside them, whose model this stack
    does not run). Each case runs with its own numerics (`GoldenCase.numerics`)."""
    root = golden_dir()
    if release == "1.2.0":
        return _replays_matching(root, patterns)
    if release != "1.1.3":
        raise ValueError(f"no end-to-end recordings of release {release!r}; there are {E2E_RELEASES}")
    names = [n for n in e2e_case_names(root) if any(fnmatch(n, p) for p in patterns)]
    return [recording_for(root, n) for n in names]


def every_e2e_case(*patterns: str) -> list[Path]:
    """`e2e_cases` of every release: one test reads both sets and checks each case against its own numerics."""
    return [path for release in E2E_RELEASES for path in e2e_cases(*patterns, release=release)]


def e2e_case_id(path: Path) -> str:
    """A test id naming the recording's folder too (the 1.2.0 re-recordings keep the 1.1.3 file names)."""
    return f"{path.parent.name}/{path.stem}"


@cache
def _replays_120(root: Path) -> tuple[Path, ...]:
    """The 1.2.0 re-recordings of 1.1.3 end-to-end cases, as `e2e_120/MANIFEST.json` lists them (relative to
    `root`; read once per root)."""
    manifest = root / "e2e_120" / "MANIFEST.json"
    if not manifest.is_file():
        return ()
    cases = json.loads(manifest.read_text()).get("cases", {})
    return tuple(Path("e2e_120") / n for n, c in sorted(cases.items()) if c.get("params", {}).get("replay_of"))


@cache
def _ltx25_120(root: Path) -> tuple[Path, ...]:
    """The LTX-2.5 end-to-end cases of `e2e_120/` (README_120 §6.3-6.4; the ones that replay no 1.1.3 case)."""
    manifest = root / "e2e_120" / "MANIFEST.json"
    if not manifest.is_file():
        return ()
    cases = json.loads(manifest.read_text()).get("cases", {})
    return tuple(Path("e2e_120") / n for n, c in sorted(cases.items()) if not c.get("params", {}).get("replay_of"))


def ltx25_e2e_cases(*patterns: str) -> list[Path]:
    """The official 1.2.0 end-to-end runs of LTX-2.5 files whose file names match one of the glob `patterns`."""
    root = golden_dir()
    return [root / n for n in _ltx25_120(root) if any(fnmatch(n.name, p) for p in patterns) and (root / n).is_file()]


def _replays_matching(root: Path, patterns: tuple[str, ...]) -> list[Path]:
    return [root / n for n in _replays_120(root) if any(fnmatch(n.name, p) for p in patterns) and (root / n).is_file()]


def suite_parity_line(root: Path, applied: dict[str, str]) -> str:
    """One line for the test log: the mode the end-to-end parity tests run in on this host, and why."""
    names = e2e_case_names(root)
    caps = ", ".join(f"{k}={v}" for k, v in applied.items())
    capped = f"; the suite set {caps}" if caps else ""
    if not names:
        return f"golden parity: no end-to-end recordings under {root} (those tests skip){capped}"
    path = recording_for(root, names[0])
    params = load_case_params(path)
    mode = parity(params.get("cpu_capability"), params.get("isa_caps"))
    return f"golden parity: {mode.describe()} against {path.parent.name}/{capped}"
