"""--offload / --max-batch-size / --quantization through a pipeline CLI on the tiny set: streaming the transformer
from disk gives the same video as keeping it resident, the guided stage runs its passes in batches of the size asked
for, and a pre-quantized fp8 checkpoint runs with fp8-scaled-mm whether or not the flag is given (also streamed)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.testing.fp8_checkpoints import write_scaled_fp8_checkpoint
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.utils.blocks import stage as stage_module


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _run(folder: Path, out: Path, *extra: str, checkpoint: Path | None = None) -> None:
    argv = [
        "--checkpoint-path",
        str(checkpoint or folder / "dev.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--prompt",
        "a red fox",
        "--height",
        "64",
        "--width",
        "64",
        "--num-frames",
        "1",
        "--frame-rate",
        "24",
        "--num-inference-steps",
        "2",
        "--video-stg-blocks",
        "1",
        "--audio-stg-blocks",
        "1",
        "--output-path",
        str(out),
        "--quiet",
        *extra,
    ]
    result = CliRunner().invoke(build_app("ti2vid_one_stage"), argv)
    assert result.exit_code == 0, result.output


def test_offload_disk_same_video_and_max_batch_size_honoured(
    tiny_sets: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []

    class Recording(BatchSplitAdapter):
        def __init__(self, model: object, max_batch_size: int = 1) -> None:
            sizes.append(max_batch_size)
            super().__init__(model, max_batch_size)  # type: ignore[arg-type]

    monkeypatch.setattr(stage_module, "BatchSplitAdapter", Recording)
    folder = tiny_sets["ltx2"]
    _run(folder, tmp_path / "resident.mp4", "--offload", "none")
    _run(folder, tmp_path / "disk.mp4", "--offload", "disk", "--max-batch-size", "3")
    assert sizes == [1, 3]
    assert np.array_equal(_frames(tmp_path / "resident.mp4"), _frames(tmp_path / "disk.mp4"))


def test_prequantized_checkpoint_runs_with_or_without_the_flag(tiny_sets: dict[str, Path], tmp_path: Path) -> None:
    folder = tiny_sets["ltx23"]
    scaled = tmp_path / "dev-fp8.safetensors"
    assert write_scaled_fp8_checkpoint(folder / "dev.safetensors", scaled)
    _run(folder, tmp_path / "auto.mp4", checkpoint=scaled)  # detected from the file
    _run(folder, tmp_path / "flag.mp4", "--quantization", "fp8-scaled-mm", checkpoint=scaled)
    _run(folder, tmp_path / "disk.mp4", "--offload", "disk", "--quantization", "fp8-scaled-mm", checkpoint=scaled)
    auto, flag, disk = (_frames(tmp_path / f"{name}.mp4") for name in ("auto", "flag", "disk"))
    assert auto.shape == (1, 64, 64, 3) and np.array_equal(auto, flag) and np.array_equal(auto, disk)
    result = CliRunner().invoke(
        build_app("ti2vid_one_stage"),
        [
            "--checkpoint-path",
            str(scaled),
            "--gemma-root",
            str(folder / "gemma"),
            "--prompt",
            "a fox",
            "--height",
            "64",
            "--width",
            "64",
            "--num-frames",
            "1",
            "--output-path",
            str(tmp_path / "x.mp4"),
            "--quantization",
            "fp8-cast",
            "--quiet",
        ],
    )
    assert result.exit_code == 2 and "needs quantization 'fp8-scaled-mm', not 'fp8-cast'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.mp4").exists()
    result = CliRunner().invoke(
        build_app("ti2vid_one_stage"),
        [
            "--checkpoint-path",
            str(folder / "dev.safetensors"),
            "--gemma-root",
            str(folder / "gemma"),
            "--prompt",
            "a fox",
            "--height",
            "64",
            "--width",
            "64",
            "--num-frames",
            "1",
            "--output-path",
            str(tmp_path / "y.mp4"),
            "--quantization",
            "fp8-scaled-mm",
            "--quiet",
        ],
    )
    assert result.exit_code == 2 and "needs a pre-quantized fp8 checkpoint" in result.output


def test_prequantized_two_stage_with_distilled_lora_streams_bitwise(tiny_sets: dict[str, Path], tmp_path: Path) -> None:
    """Stage 2 fuses the distilled LoRA into the pre-quantized weights (re-quantized with fresh scales): the same
    latents resident and streamed from disk."""
    import torch

    from ltx_core.components.guiders import MultiModalGuiderParams
    from ltx_core.loader import LoraSpec
    from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline
    from ltx_pipelines.utils.blocks import PromptEncoder, TransformerRuntime

    folder = tiny_sets["ltx23"]
    scaled = tmp_path / "dev-fp8.safetensors"
    write_scaled_fp8_checkpoint(folder / "dev.safetensors", scaled)
    positive, negative = PromptEncoder(folder / "dev.safetensors", folder / "gemma", device="cpu")(["a fox", "blur"])
    lora = [LoraSpec(folder / "distilled_lora.safetensors", 0.8)]
    guided = MultiModalGuiderParams(cfg_scale=3.0)
    latents = []
    for runtime in (TransformerRuntime(), TransformerRuntime(offload="disk")):
        pipeline = TI2VidTwoStagesPipeline(
            scaled, lora, folder / "spatial_upsampler_x2.safetensors", None, device="cpu", runtime=runtime
        )
        result = pipeline(
            positive,
            negative,
            seed=2,
            height=64,
            width=128,
            num_frames=9,
            frame_rate=24.0,
            num_inference_steps=2,
            video_guider_params=guided,
            audio_guider_params=guided,
            stage_2_sigmas=(0.909375, 0.0),
        )
        result.video.close()
        assert pipeline.stage_2.provider.quantization.value == "fp8-scaled-mm"  # detected from the file
        latents.append((result.video_latent, result.audio_latent))
    assert torch.isfinite(latents[0][0].float()).all()
    assert all(torch.equal(a, b) for a, b in zip(latents[0], latents[1], strict=True))
