"""`--jobs`: a batch through the distilled CLI on the tiny checkpoints. Good jobs write their MP4s (bitwise the
frames of the same job run alone), a bad job is reported by line (exit 1), Gemma and the transformer are built once,
a rerun skips what exists, a deleted output is redone alone, and an interrupted batch leaves no partial file."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

import ltx_core.text_encoders.gemma.prompts as gemma_prompts
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.utils.blocks import DiffusionStage

HEIGHT, WIDTH, FRAMES = 64, 128, 9


def _base(folder: Path) -> list[str]:
    return [
        "--distilled-checkpoint-path",
        str(folder / "distilled.safetensors"),
        "--spatial-upsampler-path",
        str(folder / "spatial_upsampler_x2.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--height",
        str(HEIGHT),
        "--width",
        str(WIDTH),
        "--num-frames",
        str(FRAMES),
        "--quiet",
    ]


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _invoke(argv: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(build_app("distilled"), argv)
    return result.exit_code, result.output


def _jobs(tmp: Path) -> Path:
    lines = [
        {"prompt": "a red fox in the snow", "seed": 1, "output_path": str(tmp / "fox.mp4")},
        {"prompt": "a blue bird", "seed": 2, "--num-frames": 17},
        {"prompt": "too tall", "height": 100},
        {"prompt": "a cat on a sofa", "seed": 3, "width": 192},
    ]
    path = tmp / "jobs.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def _results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_batch_of_jobs(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = {"gemma": 0, "transformer": 0}
    load_encoder, wrap_transformer = gemma_prompts.load_text_encoder, DiffusionStage._wrapped

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            builds[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(gemma_prompts, "load_text_encoder", counting("gemma", load_encoder))
    monkeypatch.setattr(DiffusionStage, "_wrapped", counting("transformer", wrap_transformer))  # once per build
    out = tmp_path / "out"
    jobs = _jobs(tmp_path)
    code, output = _invoke([*_base(tiny), "--jobs", str(jobs), "--output-dir", str(out)])
    assert code == 1, output
    assert "error: jobs line 3: --height 100 must be a positive multiple of 64 for two-stage pipelines" in output
    written = {
        1: tmp_path / "fox.mp4",
        2: out / "0002-seed2-a-blue-bird.mp4",
        4: out / "0004-seed3-a-cat-on-a-sofa.mp4",
    }
    assert all(p.exists() for p in written.values()), output
    assert builds == {"gemma": 1, "transformer": 1}  # the four prompts in one residency; one transformer
    results = _results(out / "jobs.results.jsonl")
    assert [(r["line"], r["status"]) for r in results] == [(1, "done"), (2, "done"), (3, "failed"), (4, "done")]

    shapes = {1: (FRAMES, HEIGHT, WIDTH), 2: (17, HEIGHT, WIDTH), 4: (FRAMES, HEIGHT, 192)}
    alone = {2: ["--prompt", "a blue bird", "--seed", "2", "--num-frames", "17"]}
    for line, path in written.items():
        frames = _frames(path)
        assert frames.shape[:3] == shapes[line]
        with av.open(str(path)) as container:
            assert len(container.streams.audio) == 1
    # one job against its own command line (every job's call is checked bitwise against its lone call in-process by
    # packages/ltx-pipelines/tests/pipelines/test_run_jobs.py; one command line here keeps the suite short)
    single = tmp_path / "alone2.mp4"
    code, output = _invoke([*_base(tiny), *alone[2], "--output-path", str(single)])
    assert code == 0, output
    assert np.array_equal(_frames(single), _frames(written[2])), "job on line 2 differs from its single run"

    # Rerun: nothing generated, outputs untouched; the results file still holds one entry per job (the skipped
    # jobs keep the entries of the run that made them; the bad line's entry is replaced, not repeated).
    stamps = {line: path.stat().st_mtime_ns for line, path in written.items()}
    builds.update(gemma=0, transformer=0)
    code, output = _invoke([*_base(tiny), "--jobs", str(jobs), "--output-dir", str(out)])
    assert code == 1 and builds == {"gemma": 0, "transformer": 0}
    assert {line: path.stat().st_mtime_ns for line, path in written.items()} == stamps
    assert _results(out / "jobs.results.jsonl") == results

    # One output deleted: only it is made again, and only its entry changes.
    written[2].unlink()
    code, _ = _invoke([*_base(tiny), "--jobs", str(jobs), "--output-dir", str(out)])
    assert code == 1 and written[2].exists()
    assert written[1].stat().st_mtime_ns == stamps[1] and written[4].stat().st_mtime_ns == stamps[4]
    rerun = _results(out / "jobs.results.jsonl")
    assert [(r["line"], r["status"]) for r in rerun] == [(1, "done"), (2, "done"), (3, "failed"), (4, "done")]
    assert [r for r in rerun if r["line"] != 2] == [r for r in results if r["line"] != 2]
    assert rerun[1]["seconds"] != results[1]["seconds"]


def test_an_interrupted_batch_leaves_no_partial_file_and_resumes(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps({"prompt": f"prompt {i}", "seed": i}) for i in range(3)) + "\n")
    out = tmp_path / "out"
    call = DistilledPipeline.__call__
    calls = {"n": 0}

    def interrupted_second(self, *args, **kwargs):
        calls["n"] += 1
        result = call(self, *args, **kwargs)
        if calls["n"] == 2:
            chunks = result.video

            def frames():
                yield next(chunks)
                raise KeyboardInterrupt  # Ctrl-C while the second file is being written

            result = type(result)(**{**result.__dict__, "video": _Chunks(chunks, frames())})
        return result

    monkeypatch.setattr(DistilledPipeline, "__call__", interrupted_second)
    code, _ = _invoke([*_base(tiny), "--jobs", str(jobs), "--output-dir", str(out)])
    assert code == 130
    assert sorted(p.name for p in out.iterdir()) == ["0001-seed0-prompt-0.mp4", "jobs.results.jsonl"]
    monkeypatch.setattr(DistilledPipeline, "__call__", call)
    code, _ = _invoke([*_base(tiny), "--jobs", str(jobs), "--output-dir", str(out)])
    assert code == 0
    assert len(list(out.glob("*.mp4"))) == 3


class _Chunks:
    """A `FrameChunks` stand-in whose iteration is replaced (the rest is the real one's)."""

    def __init__(self, real, iterator) -> None:
        self._real, self._iterator = real, iterator

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iterator)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._real.close()


def test_torchrun_two_processes_share_the_jobs(tiny: Path, tmp_path: Path) -> None:
    """Under `torchrun --nproc-per-node 2` (gloo): every job is done exactly once, by one process, the files equal
    the single-process batch's, and the results file lists each job once. With 4 processes, `--processes-per-job 2`
    and `--shard-weights`, two groups of two take the jobs, each group making its job together (the tokens and the
    weights split between its two processes): the same files again, each job reported once."""
    import os
    import subprocess
    import sys

    jobs = _jobs(tmp_path)
    alone = tmp_path / "alone"
    code, output = _invoke([*_base(tiny), "--jobs", str(jobs), "--output-dir", str(alone)])
    assert code == 1, output
    (tmp_path / "fox.mp4").rename(alone / "fox.mp4")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for folder, processes, extra in (("shared", 2, []), ("groups", 4, ["--shard-weights", "--processes-per-job", "2"])):
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
        out = tmp_path / folder
        batch = tmp_path / f"{folder}.jsonl"
        batch.write_text(jobs.read_text().replace(str(tmp_path / "fox.mp4"), str(out / "fox.mp4")))
        command = [
            *torchrun,
            "-m",
            "ltx_pipelines.distilled",
            *_base(tiny),
            "--jobs",
            str(batch),
            "--output-dir",
            str(out),
            *extra,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert proc.stderr.count("jobs line 3:") == 1, proc.stderr[-3000:]  # reported once, by rank 0
        results = _results(out / f"{folder}.results.jsonl")
        assert sorted((r["line"], r["status"]) for r in results) == [
            (1, "done"),
            (2, "done"),
            (3, "failed"),
            (4, "done"),
        ]
        for name in ("fox.mp4", "0002-seed2-a-blue-bird.mp4", "0004-seed3-a-cat-on-a-sofa.mp4"):
            # groups: the tokens split over 2 processes (bf16 matmul shapes); measured equal, bound 2 levels
            difference = np.abs(_frames(out / name).astype(np.int16) - _frames(alone / name)).max()
            assert difference <= (2 if extra else 0), (folder, name, difference)
