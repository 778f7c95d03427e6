"""Jobs files (`--jobs FILE`): many generations in one run, resumable, spread over processes.

A jobs file is JSON Lines: one object per line whose keys are the command's option names (as on the command line,
with `-` or `_`, with or without the leading `--`), overriding the options given on the command line for that job.
Multi-value options (`--image`, `--lora`, ...) take a list of their values, each a list (`["a.png", 0, 1.0]`) or a
string (`"a.png 0 1.0"`). A job names its `output_path`, or `--output-dir` names it from the job's line, seed and
prompt.

Structure is checked here, line by line (a bad line is reported with its number and skipped; the others run); a
job's values are parsed as its own command line (`job_argv`: the batch's, minus the batch flags and what the job
sets, plus the job) and checked by the command's own checks, before any model is built. The results file holds one
current entry per job (`ResultsFile`), so that a killed batch is resumed by running it again: a job whose output
exists is skipped.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from collections.abc import Collection, Mapping, Sequence
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


def job_file_name(index: int, seed: Any, prompt: Any, suffix: str = ".mp4") -> str:
    """`0007-seed42-a-cat-on-a-sofa.mp4`: the job's line, seed and prompt, sortable in file order."""
    return f"{index:04d}-seed{seed}-{slug(str(prompt or ''))}{suffix}"


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
    suffix: str = ".mp4",
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
        output = output_dir / job_file_name(line, merged.get("seed"), merged.get("prompt"), suffix)
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
    suffix: str = ".mp4",
) -> tuple[list[Job], list[BadJob]]:
    """The jobs of a JSON Lines file (blank lines skipped) and the lines that are not valid jobs.

    `known`: the command's option names (Python form); `multi`: those that take several values; `defaults`: the
    command line's values (for naming outputs, which end in `suffix`). Two jobs writing the same file: the later one
    is bad.
    """
    jobs: list[Job] = []
    bad: list[BadJob] = []
    seen: dict[Path, int] = {}
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            job = _job(number, json.loads(text), defaults or {}, known, multi, output_dir, suffix)
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


# --- a job's command line ---------------------------------------------------------------------------------------

BATCH_OPTIONS = ("jobs", "output_dir", "overwrite", "processes_per_job")  # the batch's own: not in a job's command line


def job_argv(base: Sequence[str], params: Mapping[str, Any], job: Job) -> list[str]:
    """The job's own command line: the batch's (`base`), minus the batch flags and what the job sets, plus the job
    (`params`: the command's Click parameters by name)."""
    drop = {
        o
        for name in (*BATCH_OPTIONS, "output_path", *job.options)
        if name in params
        for o in (*params[name].opts, *params[name].secondary_opts)
    }
    tokens = _without(base, drop)
    for name, value in job.options.items():
        tokens += _flag_tokens(params[name], value)
    return [*tokens, params["output_path"].opts[0], str(job.output_path)]


def _flag_tokens(param: Any, value: Any) -> list[str]:
    """A job's option value as command-line tokens for Click parameter `param`."""
    flag = param.opts[0]
    if getattr(param, "is_flag", False):
        if value:
            return [flag]
        return [param.secondary_opts[0]] if param.secondary_opts else []
    if param.multiple:
        return [t for entry in value for t in (flag, *map(str, entry))]
    if isinstance(value, list):
        return [flag, *map(str, value)]
    return [flag, str(value)]


def _without(argv: Sequence[str], flags: set[str]) -> list[str]:
    """`argv` without the given flags and their values (the tokens up to the next `--flag`)."""
    out: list[str] = []
    skipping = False
    for token in argv:
        if token.startswith("--"):
            skipping = token.split("=", 1)[0] in flags
        if not skipping:
            out.append(token)
    return out


# --- results ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobResult:
    """One entry of the results file: how a job's latest run ended."""

    line: int
    status: str  # done | skipped | failed
    output_path: str
    seed: int | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class ResultsFile:
    """The results file beside the outputs (JSON Lines, ordered by line): one current entry per job, the last result
    of each jobs-file line, so that a rerun replaces a job's entry instead of adding one. A job skipped because its
    output exists keeps an entry saying it was done (with that output); else it is recorded as skipped.

    Every change rewrites the whole file through a temporary file in the same folder and an atomic rename, so that
    a reader (or a killed batch) never sees a torn entry, on a local disk or a shared network folder alike. One
    process writes it (under torchrun, rank 0, with what the others report; see `cli.batch`)."""

    path: Path
    entries: dict[int, JobResult] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.entries = {result.line: result for result in self.read()}

    def record(self, *results: JobResult) -> None:
        for result in results:
            previous = self.entries.get(result.line)
            kept = previous is not None and previous.status == "done" and previous.output_path == result.output_path
            if result.status == "skipped" and kept:
                continue
            self.entries[result.line] = result
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self.entries.values(), key=lambda r: r.line)
        text = "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in ordered)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(name, 0o644)  # mkstemp makes it 0600; the results file is for everyone who reads the outputs
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def read(self) -> list[JobResult]:
        """Every complete entry of the file (a torn line, from a version that appended, is ignored)."""
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
