"""Jobs files (`--jobs FILE`): many generations in one run, resumable, spread over processes.

A jobs file is JSON Lines: one object per line whose keys are the command's option names (as on the command line,
with `-` or `_`, with or without the leading `--`), overriding the options given on the command line for that job.
Multi-value options (`--image`, `--lora`, ...) take a list of their values, each a list (`["a.png", 0, 1.0]`) or a
string (`"a.png 0 1.0"`). A job names its `output_path`, or `--output-dir` names it from the job's line, seed and
prompt.

Structure is checked here, line by line (a bad line is reported with its number and skipped; the others run);
values are checked by the command's own validators, per job, before any model is built. A results file (JSON Lines,
one entry per finished job) makes a killed batch resumable: a job whose output exists is skipped.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_SUFFIX = ".results.jsonl"
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Job:
    """One line of a jobs file: its 1-based line number, its options (Python names) and where it writes."""

    line: int
    options: dict[str, Any]
    output_path: Path


@dataclass(frozen=True)
class BadJob:
    line: int
    error: str

    def __str__(self) -> str:
        return f"jobs line {self.line}: {self.error}"


def option_name(key: str) -> str:
    """`--num-frames`, `num-frames` and `num_frames` → `num_frames`."""
    return key.lstrip("-").replace("-", "_")


def slug(text: str, limit: int = 40) -> str:
    """A short file-name-safe form of a prompt: lowercase words joined by hyphens."""
    return _SLUG.sub("-", text.lower()).strip("-")[:limit].rstrip("-") or "video"


def job_file_name(index: int, seed: Any, prompt: Any) -> str:
    """`0007-seed42-a-cat-on-a-sofa.mp4`: the job's line, seed and prompt, sortable in file order."""
    return f"{index:04d}-seed{seed}-{slug(str(prompt or ''))}.mp4"


def _multi_values(name: str, value: Any) -> list[list[str]]:
    """A multi-value option's entries as lists of strings (what the command-line parser receives)."""
    if not isinstance(value, list):
        raise ValueError(f'{name} must be a list of entries, e.g. [["a.png", 0, 1.0]]')
    entries = []
    for entry in value:
        if isinstance(entry, str):
            entries.append(entry.split())
        elif isinstance(entry, list) and all(isinstance(v, str | int | float) for v in entry):
            entries.append([str(v) for v in entry])
        else:
            raise ValueError(f"{name} entries must be lists of values or strings, got {entry!r}")
    return entries


# How the processes of a torchrun work together: one setting for the whole batch.
RUN_WIDE = ("cfg_parallel", "shard_weights", "dist_timeout", "processes_per_job")


def _job(
    line: int,
    data: Any,
    defaults: dict[str, Any],
    known: Collection[str],
    multi: Collection[str],
    output_dir: Path | None,
) -> Job:
    if not isinstance(data, dict):
        raise ValueError(f"a job is a JSON object of options, got {type(data).__name__}")
    options: dict[str, Any] = {}
    for key, value in data.items():
        name = option_name(key)
        if name in RUN_WIDE:
            raise ValueError(f"{key!r} is set for the whole run, on the command line, not per job")
        if name != "output_path" and name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean {close[0].replace('_', '-')}?" if close else ""
            raise ValueError(f"unknown option {key!r}{hint}")
        options[name] = _multi_values(key, value) if name in multi else value
    if "output_path" in options:
        output = Path(str(options.pop("output_path")))
    elif output_dir is not None:
        merged = {**defaults, **options}
        output = output_dir / job_file_name(line, merged.get("seed"), merged.get("prompt"))
    else:
        raise ValueError("no output_path, and no --output-dir to name it")
    return Job(line, options, output)


def read_jobs(
    path: Path,
    *,
    known: Collection[str],
    multi: Collection[str] = (),
    defaults: dict[str, Any] | None = None,
    output_dir: Path | None = None,
) -> tuple[list[Job], list[BadJob]]:
    """The jobs of a JSON Lines file (blank lines skipped) and the lines that are not valid jobs.

    `known`: the command's option names (Python form); `multi`: those that take several values; `defaults`: the
    command line's values (for naming outputs). Two jobs writing the same file: the later one is bad.
    """
    jobs: list[Job] = []
    bad: list[BadJob] = []
    seen: dict[Path, int] = {}
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            job = _job(number, json.loads(text), defaults or {}, known, multi, output_dir)
        except json.JSONDecodeError as exc:
            bad.append(BadJob(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValueError as exc:
            bad.append(BadJob(number, str(exc)))
            continue
        target = job.output_path.resolve()
        if target in seen:
            bad.append(BadJob(number, f"writes {job.output_path}, as line {seen[target]} does"))
            continue
        seen[target] = number
        jobs.append(job)
    return jobs, bad


# --- results ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    """One entry of the results file, appended when a job ends."""

    line: int
    status: str  # done | skipped | failed
    output_path: str
    seed: int | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class ResultsLog:
    """The results file beside the outputs (JSON Lines): one line per finished job, flushed to disk at once, so a
    killed batch leaves a true record. Several processes may append (one short write each)."""

    path: Path
    written: list[JobResult] = field(default_factory=list)

    def append(self, result: JobResult) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(result), ensure_ascii=False) + "\n"
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a torn entry from a killed run: start on a line of our own
                    line = "\n" + line
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.written.append(result)

    def read(self) -> list[JobResult]:
        """Every complete entry so far (a torn last line from a crash is ignored)."""
        if not self.path.exists():
            return []
        out = []
        for text in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(JobResult(**json.loads(text)))
            except (json.JSONDecodeError, TypeError):
                continue
        return out


def results_path(jobs_file: Path, output_dir: Path | None) -> Path:
    """`<output dir or the jobs file's folder>/<jobs file stem>.results.jsonl`."""
    return (output_dir or jobs_file.parent) / f"{jobs_file.stem}{RESULTS_SUFFIX}"
