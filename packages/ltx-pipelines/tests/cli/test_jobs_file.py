"""Reading jobs files: option names in any spelling, multi-value options, output naming, bad lines reported with
their numbers (and the rest kept), and the resumable results file."""

from __future__ import annotations

import json
from pathlib import Path

from ltx_pipelines.cli.jobs import (
    JobResult,
    ResultsFile,
    job_file_name,
    option_name,
    read_jobs,
    results_path,
    slug,
)

KNOWN = {"prompt", "seed", "height", "width", "num_frames", "images", "loras"}
MULTI = {"images", "loras"}


def _write(path: Path, *lines: object) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_option_names_and_slugs() -> None:
    assert option_name("--num-frames") == option_name("num-frames") == option_name("num_frames") == "num_frames"
    assert slug("A Cat, on a SOFA!  ") == "a-cat-on-a-sofa"
    assert slug("!!!") == "video"
    assert job_file_name(7, 42, "A cat") == "0007-seed42-a-cat.mp4"


def test_jobs_override_options_and_bad_lines_are_reported(tmp_path: Path) -> None:
    jobs_file = _write(
        tmp_path / "jobs.jsonl",
        {"prompt": "a cat", "--num-frames": 9, "output_path": str(tmp_path / "cat.mp4")},
        "",
        {"prompt": "a dog", "seed": 3, "images": [["dog.png", 0, 1.0], "dog2.png 8 0.5"]},
        "{not json",
        {"prompt": "x", "heigth": 64},
        ["a list"],
        {"prompt": "same file", "output_path": str(tmp_path / "cat.mp4")},
        {"prompt": "bad images", "images": "dog.png"},
        {"prompt": "x", "--shard-weights": True},
    )
    jobs, bad = read_jobs(jobs_file, known=KNOWN, multi=MULTI, defaults={"seed": 10}, output_dir=tmp_path / "out")
    assert [j.line for j in jobs] == [1, 3]
    assert jobs[0].options == {"prompt": "a cat", "num_frames": 9}
    assert jobs[0].output_path == tmp_path / "cat.mp4"
    assert jobs[1].options["images"] == [["dog.png", "0", "1.0"], ["dog2.png", "8", "0.5"]]
    assert jobs[1].output_path == tmp_path / "out" / "0003-seed3-a-dog.mp4"
    messages = {b.line: str(b) for b in bad}
    assert sorted(messages) == [4, 5, 6, 7, 8, 9]
    assert messages[4].startswith("jobs line 4: not valid JSON")
    assert messages[5] == "jobs line 5: unknown option 'heigth'; did you mean height?"
    assert messages[6] == "jobs line 6: a job is a JSON object of options, got list"
    assert messages[7] == f"jobs line 7: writes {tmp_path / 'cat.mp4'}, as line 1 does"
    assert messages[8].startswith("jobs line 8: images must be a list of entries")
    assert messages[9] == "jobs line 9: '--shard-weights' is set for the whole run, on the command line, not per job"


def test_a_job_without_output_needs_an_output_dir(tmp_path: Path) -> None:
    jobs, bad = read_jobs(_write(tmp_path / "j.jsonl", {"prompt": "p"}), known=KNOWN)
    assert not jobs and str(bad[0]) == "jobs line 1: no output_path, and no --output-dir to name it"
    jobs, _ = read_jobs(tmp_path / "j.jsonl", known=KNOWN, defaults={"seed": 5}, output_dir=tmp_path)
    assert jobs[0].output_path == tmp_path / "0001-seed5-p.mp4"


def test_results_file_holds_one_current_entry_per_job(tmp_path: Path) -> None:
    """A rerun replaces a job's entry (no duplicate "failed" line per rerun); a job skipped because its output exists
    keeps the entry saying it was done; the file is replaced whole (no temporary file left), and a torn line left by
    a version that appended is ignored."""
    results = ResultsFile(results_path(tmp_path / "jobs.jsonl", tmp_path / "out"))
    assert results.path == tmp_path / "out" / "jobs.results.jsonl"
    results.record(JobResult(1, "done", "a.mp4", 42, 1.5), JobResult(3, "failed", "b.mp4", 7, 0.2, "out of memory"))
    results.record(JobResult(3, "failed", "b.mp4", 7, 0.3, "out of memory"))  # a rerun fails again
    results.record(JobResult(1, "skipped", "a.mp4", 42), JobResult(2, "skipped", "c.mp4", 1))
    expected = [
        JobResult(1, "done", "a.mp4", 42, 1.5),
        JobResult(2, "skipped", "c.mp4", 1),
        JobResult(3, "failed", "b.mp4", 7, 0.3, "out of memory"),
    ]
    assert ResultsFile(results.path).read() == expected
    assert [p.name for p in results.path.parent.iterdir()] == ["jobs.results.jsonl"]
    with results.path.open("a", encoding="utf-8") as f:
        f.write('{"line": 4, "stat')  # a crash mid-append (an older version)
    again = ResultsFile(results.path)
    assert again.read() == expected
    again.record(JobResult(3, "done", "b.mp4", 7, 2.0))
    assert again.read() == [*expected[:2], JobResult(3, "done", "b.mp4", 7, 2.0)]
