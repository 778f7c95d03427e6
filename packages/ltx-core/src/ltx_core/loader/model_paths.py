"""Which file each model comes from: one single-file checkpoint, or split files (spec delta E.1-E.2).

A pipeline takes, where its checkpoint goes, a path (the single file, as always), an in-memory source (tests) or a
`ModelPaths`: either `checkpoint` (the single file; `video_vae` may replace its VAE) or the split slots
`transformer`, `text_encoder` (the packed single-file text encoder: in split mode it supplies the text projection),
`video_vae`, `audio_vae`, `duration_head` (never both: a mix is a one-line error). `ModelFiles.of` turns any of
them into what each block reads: every slot a file (or the source), a slot left empty a `MissingFile` that says
which file to give when a block asks for it (unused slots may be left out).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ltx_core.errors import InputError

SLOTS = ("transformer", "text_encoder", "video_vae", "audio_vae", "duration_head")
SLOT_FLAGS = {slot: f"--{slot.replace('_', '-')}-path" for slot in SLOTS}
SLOT_NAMES = {
    "transformer": "transformer",
    "text_encoder": "text encoder",
    "video_vae": "video VAE",
    "audio_vae": "audio VAE",
    "duration_head": "duration head",
}
SPLIT_ONLY = ("transformer", "text_encoder", "audio_vae", "duration_head")  # the "pack" flags: not with a single file


@dataclass(frozen=True)
class ModelPaths:
    """The model files of a pipeline: `checkpoint` (the single file, `video_vae` optionally replacing its VAE) or
    the split files, one per slot (delta E.1). Paths are kept as given (made `Path`s)."""

    checkpoint: Path | None = None
    transformer: Path | None = None
    text_encoder: Path | None = None
    video_vae: Path | None = None
    audio_vae: Path | None = None
    duration_head: Path | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, f.name, Path(value))
        split = [SLOT_FLAGS[s] for s in SPLIT_ONLY if getattr(self, s) is not None]
        if self.checkpoint is not None and split:
            raise InputError(
                f"a single-file checkpoint ({self.checkpoint}) and split files ({', '.join(split)}) were both given; "
                "give one or the other (--video-vae-path alone may replace the single file's VAE)"
            )
        if self.checkpoint is None and not split and self.video_vae is None:
            raise InputError(
                "no model files given: a single-file checkpoint, or split files (--transformer-path and the others)"
            )

    @property
    def is_split(self) -> bool:
        return self.checkpoint is None

    def file(self, slot: str) -> Path | None:
        """The file of `slot` (one of `SLOTS`); None when not given. A single file serves every slot but the text
        encoder (given beside it, `--gemma-root`)."""
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {slot!r}; known: {SLOTS}")
        if self.checkpoint is None or slot == "text_encoder":
            return getattr(self, slot)  # type: ignore[no-any-return]
        if slot == "video_vae" and self.video_vae is not None:
            return self.video_vae
        return self.checkpoint

    @property
    def version_file(self) -> Path | None:
        """The file whose metadata picks the pipeline defaults and the distilled sampler: the transformer's."""
        return self.file("transformer")

    def embeddings(self) -> tuple[Path, ...]:
        """The files the text path (connectors + projection) is read from, merged, metadata from the first
        (delta E.1): the single file, or the transformer then the packed text encoder."""
        if self.checkpoint is not None:
            return (self.checkpoint,)
        return tuple(p for p in (self.transformer, self.text_encoder) if p is not None)


class MissingFile:
    """An empty slot of split files: a `ModelSource` whose every build is a one-line error naming the file to give.
    Its metadata is empty (unversioned) and it has no duration head."""

    def __init__(self, slot: str) -> None:
        self.slot = slot
        self.metadata: dict[str, str] = {}

    @property
    def message(self) -> str:
        return (
            f"this needs the {SLOT_NAMES[self.slot]}, and the split model files give none; "
            f"pass it with {SLOT_FLAGS[self.slot]} (ModelPaths.{self.slot})"
        )

    @property
    def config(self) -> dict[str, Any]:
        raise InputError(self.message)

    def build(self, component: str, **options: Any) -> Any:
        raise InputError(self.message)

    def __repr__(self) -> str:
        return f"<no {SLOT_NAMES[self.slot]} file>"


@dataclass(frozen=True)
class ModelFiles:
    """What each block of a pipeline reads: a file (or the test source, or `MissingFile`) per slot, the text-path
    sources (`embeddings`) and the text encoder (a Gemma folder or packed file; None: only precomputed prompts)."""

    transformer: Any
    video_vae: Any
    audio_vae: Any
    duration_head: Any
    embeddings: Any
    text_encoder: Path | str | None

    @classmethod
    def of(cls, models: Any, text_encoder: str | Path | None = None) -> ModelFiles:
        """`models` as the blocks read it: a `ModelPaths` resolved slot by slot, anything else (a path, shards, an
        open `Checkpoint`, a `ModelSource`) serving every slot, as a single file does. `text_encoder` is the Gemma
        of a single file (`--gemma-root`); split files name theirs in `ModelPaths.text_encoder`."""
        if not isinstance(models, ModelPaths):
            return cls(models, models, models, models, models, text_encoder)
        if models.is_split and text_encoder is not None:
            raise InputError(
                f"split model files take their text encoder as ModelPaths.text_encoder (--text-encoder-path), not "
                f"as the Gemma root {text_encoder}"
            )

        def slot(name: str) -> Any:
            path = models.file(name)
            return MissingFile(name) if path is None else path

        embeddings = models.embeddings()
        return cls(
            transformer=slot("transformer"),
            video_vae=slot("video_vae"),
            audio_vae=slot("audio_vae"),
            duration_head=slot("duration_head"),
            embeddings=(embeddings[0] if len(embeddings) == 1 else list(embeddings))
            if embeddings
            else MissingFile("transformer"),
            text_encoder=models.text_encoder if models.is_split else text_encoder,
        )
