"""The shared checks, for each of the ten pipelines, from in-memory components (the tester: `conftest.py`).

Every test here takes `pipeline_case` and so runs once per pipeline; the three runs they look at are made once
per pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ltx_core.errors import LTXError

SEED = 5


def _outputs(result: Any) -> tuple[torch.Tensor | None, Any]:
    """(all frames, audio) of one result; the frame iterator is exhausted (the decoder freed). No frames (None) for
    a sound-only result."""
    video = getattr(result, "video", None)
    return (None if video is None else torch.cat(list(video))), result.audio


@pytest.fixture(scope="module")
def runs(pipeline_case: Any, components: Any) -> dict[str, Any]:
    """The pipeline run three times: twice with SEED (the first recorded), once with another seed."""
    pipeline = pipeline_case.build(components)
    recorded: dict[str, torch.Tensor] = {}
    given = {"num_frames": pipeline_case.frames, **pipeline_case.sigmas}
    first = pipeline_case.call(pipeline, components, SEED, record=recorded.__setitem__, **given)
    again = pipeline_case.call(pipeline, components, SEED, **given)
    other = pipeline_case.call(pipeline, components, SEED + 1, **given)
    out = {"recorded": recorded, "first": first}
    out |= {name: _outputs(result) for name, result in (("a", first), ("b", again), ("c", other))}
    pipeline.release()
    return out


def test_runs_with_the_expected_shapes(pipeline_case: Any, runs: dict[str, Any]) -> None:
    case = pipeline_case
    frames, audio = runs["a"]
    assert (frames is None) == case.sound_only
    if frames is not None:
        assert frames.shape == (case.frames, case.height, case.width, 3) and bool(torch.isfinite(frames.float()).all())
    assert bool(torch.isfinite(audio.waveform).all())
    assert runs["first"].frame_rate == case.frame_rate
    assert audio.sampling_rate == case.expected_audio_rate and audio.waveform.shape[0] == 2
    assert abs(audio.waveform.shape[-1] / audio.sampling_rate - case.frames / case.frame_rate) < 0.1  # covers the clip


def test_same_seed_same_output_other_seed_other_output(pipeline_case: Any, runs: dict[str, Any]) -> None:
    (frames_a, audio_a), (frames_b, audio_b), (frames_c, audio_c) = runs["a"], runs["b"], runs["c"]
    assert torch.equal(audio_a.waveform, audio_b.waveform)
    if pipeline_case.sound_only:
        assert not torch.equal(audio_a.waveform, audio_c.waveform)
        return
    assert torch.equal(frames_a, frames_b) and not torch.equal(frames_a, frames_c)


def test_explicit_sigmas_win_over_the_defaults(pipeline_case: Any, runs: dict[str, Any]) -> None:
    for argument, values in pipeline_case.sigmas.items():
        ran = runs["recorded"][pipeline_case.recorded[argument]]
        assert ran.tolist() == pytest.approx(list(values)), argument


def test_bad_input_is_one_line_ltx_error(pipeline_case: Any, bad_input: str, components: Any) -> None:
    overrides, pattern = pipeline_case.bad[bad_input]
    pipeline = pipeline_case.build(components)
    with pytest.raises(LTXError, match=pattern) as info:
        pipeline_case.call(pipeline, components, SEED, **pipeline_case.sigmas, **overrides)
    assert "\n" not in str(info.value)
    assert not any(stage.is_built for stage in pipeline._stages)  # refused before the transformer was built


def test_in_memory_components_name_no_file(components: Any) -> None:
    """The models come from the given modules: the checkpoint names stand for files that do not exist."""
    assert not Path(components.distilled).exists() and not Path(components.dev).exists()


def test_blocks_free_their_copy_never_the_given_modules(components: Any) -> None:
    from ltx_core.loader.sources import CheckpointSource, model_source
    from ltx_pipelines.utils.blocks import ImageConditioner

    assert model_source(components.distilled) is components.distilled
    assert isinstance(model_source(Path("x.safetensors")), CheckpointSource)
    conditioner = ImageConditioner(components.distilled, device="cpu")
    latent = conditioner(lambda encode: encode(torch.zeros(1, 3, 9, 64, 64, dtype=torch.bfloat16)))
    assert latent.shape[2:] == (2, 2, 2)
    built = components.distilled.build("video_encoder", dtype=None, device=torch.device("cpu"))
    assert not any(p.is_meta for p in built.parameters())  # the block freed its own copy only
