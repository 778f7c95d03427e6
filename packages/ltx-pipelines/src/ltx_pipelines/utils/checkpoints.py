"""What a pipeline checks about the checkpoints it is given before building anything: the distilled LoRA a
two-stage pipeline needs, and the warning for a distilled checkpoint run through a guided (CFG) pipeline."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec, SafetensorsFile

logger = logging.getLogger(__name__)


def require_distilled_lora(distilled_lora: Sequence[LoraSpec] | LoraSpec | None) -> tuple[LoraSpec, ...]:
    """The two-stage pipelines refine with the distilled LoRA; without it stage 2's 3 steps give noise."""
    if isinstance(distilled_lora, LoraSpec):
        distilled_lora = (distilled_lora,)
    loras = tuple(distilled_lora or ())
    if not loras:
        raise InputError(
            "the distilled LoRA is required for stage 2: pass --distilled-lora PATH [STRENGTH] "
            "(Python: distilled_lora=[LoraSpec(path, strength)])"
        )
    return loras


_warned: set[str] = set()


def looks_distilled(checkpoint: str | Path) -> bool:
    """True when the file name, or a metadata entry other than the model `config`, says "distill".

    The released distilled files are named `*-distilled*.safetensors`; the metadata check catches renamed copies whose
    header says so. Unreadable files give False (loading reports them properly later).
    """
    path = Path(checkpoint)
    if "distill" in path.name.lower():
        return True
    try:
        metadata = SafetensorsFile(path).metadata
    except Exception:  # only a hint; the loader reports bad files with a proper error
        return False
    return any("distill" in str(v).lower() for k, v in metadata.items() if k != "config")


def transformer_file(checkpoint: Any) -> Any:
    """The file holding the transformer: a `ModelPaths`' transformer slot (None when not given), else `checkpoint`."""
    from ltx_core.loader.model_paths import ModelPaths

    return checkpoint.file("transformer") if isinstance(checkpoint, ModelPaths) else checkpoint


def warn_if_distilled(checkpoint: Any, pipeline: str) -> bool:
    """Warn once per checkpoint and process when a distilled model is run through a CFG pipeline."""
    checkpoint = transformer_file(checkpoint)
    if checkpoint is None:
        return False
    key = str(Path(checkpoint).expanduser().resolve())
    if key in _warned or not looks_distilled(checkpoint):
        return False
    _warned.add(key)
    logger.warning(
        "%s looks like a DISTILLED checkpoint, but %s runs CFG/STG guidance over many steps, which makes a distilled "
        "model's output grainy and over-saturated. Use the full (dev) checkpoint here, or run this file with "
        "python -m ltx_pipelines.distilled.",
        Path(checkpoint).name,
        pipeline,
    )
    return True


def has_keyframe_embedding(checkpoint: object) -> bool:
    """Whether the transformer of `checkpoint` (a path, several split files, or an in-memory `Checkpoint`) was
    trained with the keyframe embedding (`use_keyframes_abs_pos_embedding`, LTX-2.5): read from its metadata only."""
    from ltx_core.loader import open_checkpoint
    from ltx_core.model.transformer import transformer_config

    checkpoint = transformer_file(checkpoint)  # split files: the transformer's
    if checkpoint is None:
        return False
    ckpt = open_checkpoint(checkpoint)
    return transformer_config(ckpt.config, source=ckpt.path).use_keyframes_abs_pos_embedding


def require_keyframe_embedding(checkpoint: object, what: str) -> None:
    """Refuse `what` (generated keyframe slots, DFR) before any model is built on files without the keyframe
    embedding: only checkpoints trained with it (LTX-2.5) can generate keyframe slots."""
    if not has_keyframe_embedding(checkpoint):
        from ltx_core.loader import open_checkpoint

        raise InputError(
            f"{open_checkpoint(transformer_file(checkpoint)).path}: the transformer has no keyframe embedding "
            f"(use_keyframes_abs_pos_embedding), which {what} needs; use an LTX-2.5 checkpoint"
        )


def check_generated_keyframes(count: int, checkpoint: object, num_frames: object, what: str) -> None:
    """`count` generated keyframe slots (spec new_pipelines §8), refused before any model is built: on files without
    the keyframe embedding (`what` names the request), and when a given frame count (an int; an automatic length is
    checked once known) leaves no room for `count` interior frames."""
    if not count:
        return
    from ltx_core.conditioning.generated_keyframes import evenly_spaced_keyframes

    require_keyframe_embedding(checkpoint, what)
    if isinstance(num_frames, int):
        evenly_spaced_keyframes(count, num_frames)
