"""Checks on file headers and small files that every pipeline CLI runs before any model is built.

A failure is an `LTXError` with a one-line message; the CLI runtime prints it and exits with 2. Only headers are
read (no tensor), so a wrong file is reported in a fraction of a second instead of minutes into a run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ltx_core.errors import CheckpointError, InputError, LoraError
from ltx_core.loader import LoraSpec, SafetensorsFile, open_checkpoint
from ltx_core.loader.lora import check_lora_pairs, lora_pair_keys, weight_shapes
from ltx_core.loader.model_paths import SLOT_FLAGS, SLOT_NAMES, ModelPaths
from ltx_core.model.transformer import ModelType
from ltx_core.model.transformer.loading import (
    TRANSFORMER_KEY_MAP,
    check_transformer_streams,
    transformer_config,
    transformer_key_map,
)
from ltx_core.model.upsampler.loading import check_is_upsampler
from ltx_core.offload.policy import check_offload_options, parse_offload
from ltx_core.quantization import Quantization, check_fp8_cast_device, parse_quantization, quantization_for
from ltx_core.text_encoders.gemma import check_gemma_fits
from ltx_core.text_encoders.gemma.encoders import open_text_encoder
from ltx_core.text_encoders.gemma.loading import text_path_config
from ltx_core.text_encoders.gemma.root import check_gemma_files
from ltx_core.text_encoders.gemma.version_gate import check_gemma_pairing
from ltx_core.toolchain import compile_toolchain_missing
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.cli.values import ImageConditioningArg

# What each component is called in messages, and the key prefix that shows the checkpoint has it.
COMPONENT_PREFIXES: dict[str, str] = {
    "transformer": "model.diffusion_model.transformer_blocks.",
    "audio transformer": "model.diffusion_model.audio_patchify_proj.",
    "text projection": "text_embedding_projection.",
    "video VAE encoder": "vae.encoder.",
    "video VAE decoder": "vae.decoder.",
    "video latent statistics": "vae.per_channel_statistics.",
    "audio VAE encoder": "audio_vae.encoder.",
    "audio VAE decoder": "audio_vae.decoder.",
    "vocoder": "vocoder.",
}
# What a text/image-to-video run with sound reads (the pipelines add the encoders they use).
GENERATION = (
    "transformer",
    "text projection",
    "video VAE decoder",
    "video latent statistics",
    "audio VAE decoder",
    "vocoder",
)


# The split-file slot (delta E.2) each component is read from.
COMPONENT_SLOTS: dict[str, str] = {
    "transformer": "transformer",
    "audio transformer": "transformer",
    "text projection": "text_encoder",
    "video VAE encoder": "video_vae",
    "video VAE decoder": "video_vae",
    "video latent statistics": "video_vae",
    "audio VAE encoder": "audio_vae",
    "audio VAE decoder": "audio_vae",
    "vocoder": "audio_vae",
}
# What marks a file as holding a slot's model (the video VAE: prefixed or bare keys).
SLOT_MARKERS: dict[str, tuple[str, ...]] = {
    "transformer": ("model.diffusion_model.transformer_blocks.",),
    "text_encoder": ("tokenizer_json",),
    "video_vae": ("vae.encoder.", "vae.decoder.", "encoder.", "decoder."),
    "audio_vae": ("audio_vae.", "vocoder."),
    "duration_head": ("duration_head.",),
}
_KINDS = (  # (what a file holds, its marker keys), for the message on a file given in the wrong slot
    ("a transformer (model.diffusion_model.*)", SLOT_MARKERS["transformer"]),
    ("a video VAE (vae.* / encoder.* / decoder.*)", SLOT_MARKERS["video_vae"]),
    ("an audio VAE (audio_vae.* / vocoder.*)", SLOT_MARKERS["audio_vae"]),
    ("a duration head (duration_head.*)", SLOT_MARKERS["duration_head"]),
    ("a packed text encoder (tokenizer_json)", SLOT_MARKERS["text_encoder"]),
    ("a latent upsampler", ("initial_conv.weight",)),
)


def file_holds(keys: Sequence[str]) -> str:
    """What a file's keys say it holds, in words (for the one-line message on a file in the wrong slot)."""
    if any(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys):
        return "a LoRA"
    found = [what for what, markers in _KINDS if any(k.startswith(markers) for k in keys)]
    return " and ".join(found) if found else "no LTX weights"


def check_slot_file(path: Path, slot: str, flag: str) -> None:
    """The file given for `slot` holds that slot's model (header only), else one line saying what it holds."""
    keys = open_checkpoint(path).keys()
    if not any(k.startswith(SLOT_MARKERS[slot]) for k in keys):
        raise CheckpointError(f"{path} given as {flag} holds {file_holds(keys)}, not the {SLOT_NAMES[slot]}")


def check_model_paths(models: ModelPaths, needed: Sequence[tuple[str, str]]) -> None:
    """Split files (or a single file with --video-vae-path): every file given holds its slot's model, each needed
    component's slot is given (only the slots this pipeline reads), and holds that component; in split mode the
    text encoder is the packed file that supplies the text projection (delta E.1)."""
    for slot, flag in SLOT_FLAGS.items():
        given = getattr(models, slot)
        if given is not None and not (slot == "text_encoder" and given.is_dir()):
            check_slot_file(given, slot, flag)
    if models.checkpoint is not None:
        check_checkpoint(models.checkpoint, [(w, p) for w, p in needed if COMPONENT_SLOTS[w] != "video_vae"])
    for what, prefix in needed:
        slot = COMPONENT_SLOTS[what]
        path = models.file(slot)
        if models.checkpoint is not None and slot != "video_vae":
            continue
        if path is None:
            raise InputError(f"{SLOT_FLAGS[slot]} is required with split files: this pipeline needs the {what}")
        if slot == "text_encoder" and path.is_dir():
            raise InputError(
                f"--text-encoder-path {path} is a folder; split files need the packed single-file text encoder "
                "(it supplies the text projection); a Gemma folder goes with a single-file checkpoint (--gemma-root)"
            )
        keys = open_checkpoint(path).keys()
        bare = prefix[len("vae.") :] if slot == "video_vae" and prefix.startswith("vae.") else prefix
        if not any(k.startswith((prefix, bare)) for k in keys):
            raise CheckpointError(
                f"{path} ({SLOT_FLAGS[slot]}) lacks the {what} (no {prefix}* weights), which this pipeline needs"
            )
    if models.transformer is not None:
        transformer = open_checkpoint(models.transformer)
        if "transformer" not in transformer.config:
            raise CheckpointError(f"{models.transformer} has no LTX config metadata (no 'transformer' section)")
        names = [what for what, _ in needed]
        for what, model_type in (("transformer", ModelType.AUDIO_VIDEO), ("audio transformer", ModelType.AUDIO_ONLY)):
            if what in names:  # the streams the pipeline runs
                check_transformer_streams(transformer, model_type)


def components(*names: str) -> tuple[tuple[str, str], ...]:
    """(name, key prefix) pairs for `check_checkpoint`, in the given order without repeats."""
    return tuple((name, COMPONENT_PREFIXES[name]) for name in dict.fromkeys(names))


def check_checkpoint(path: Path, needed: Sequence[tuple[str, str]] = components(*GENERATION)) -> None:
    """The file is a full LTX checkpoint with every component the pipeline reads (header only, no tensor read)."""

    ckpt = open_checkpoint(path)
    keys = ckpt.keys()
    if any(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys):
        raise CheckpointError(f"{path} is a LoRA file, not a model checkpoint; pass it with --lora PATH [STRENGTH]")
    if "initial_conv.weight" in keys and "final_conv.weight" in keys:
        raise CheckpointError(
            f"{path} is a latent upsampler, not a model checkpoint; pass it with --spatial-upsampler-path"
        )
    if "transformer" not in ckpt.config:
        raise CheckpointError(f"{path} has no LTX config metadata (no 'transformer' section); is it an LTX-2 file?")
    names = [what for what, _ in needed]
    for what, model_type in (("transformer", ModelType.AUDIO_VIDEO), ("audio transformer", ModelType.AUDIO_ONLY)):
        if what in names:  # the streams the pipeline runs (an audio-only file has no video stream)
            check_transformer_streams(ckpt, model_type)
    for what, prefix in needed:
        if not any(k.startswith(prefix) for k in keys):
            raise CheckpointError(f"{path} lacks the {what} (no {prefix}* weights), which this pipeline needs")


def check_lora_file(path: Path, checkpoint: Path | None = None, model_type: ModelType = ModelType.AUDIO_VIDEO) -> None:
    """The file holds LoRA pairs (`<module>.lora_A.weight`), not a model; with `checkpoint`, its pairs match the
    weights of its transformer as a `model_type` model (text to audio: the audio stream's) and fit their shapes
    (headers only: a LoRA for the other model version, or a video-only LoRA for text to audio, is refused here)."""

    lora = SafetensorsFile(path)
    keys = lora.keys()
    if not any(k.endswith(".lora_A.weight") for k in keys):
        what = "a model checkpoint" if any(k.startswith("model.diffusion_model.") for k in keys) else "not a LoRA"
        raise LoraError(f"{path} is {what}, not a LoRA file (no '<module>.lora_A.weight' tensors)")
    pairs = lora_pair_keys(keys)
    if not pairs:
        raise LoraError(f"{path}: not a LoRA file (no complete '<module>.lora_A.weight' / '.lora_B.weight' pair)")
    if checkpoint is not None:
        ckpt = open_checkpoint(checkpoint)
        shapes = {stem: (lora.tensors[a].shape, lora.tensors[b].shape) for stem, (a, b) in pairs.items()}
        with warnings.catch_warnings():  # a partial match is reported once, when the LoRA is fused
            warnings.simplefilter("ignore")
            key_map = TRANSFORMER_KEY_MAP
            if model_type is not ModelType.AUDIO_VIDEO:
                key_map = transformer_key_map(transformer_config(ckpt.config, model_type, source=ckpt.path))
            check_lora_pairs(path, shapes, weight_shapes(ckpt, key_map.select(ckpt.keys())))


def check_upsampler(path: Path) -> None:
    """The file is a latent upsampler."""

    check_is_upsampler(open_checkpoint(path))


def check_gemma(gemma_root: Path | None, checkpoint: Path | list[Path]) -> None:
    """The text encoder (a Gemma folder or a packed file) is complete (every shard there, with a sound header), is the
    Gemma the checkpoint's metadata expects, and fits the checkpoint's text path (`checkpoint`: the text path's files,
    the transformer then the packed text encoder for split files)."""

    ckpt = open_checkpoint(checkpoint)
    gemma = open_text_encoder(gemma_root)
    check_gemma_files(gemma)
    check_gemma_pairing(ckpt, gemma.config, gemma.root)
    check_gemma_fits(gemma, text_path_config(ckpt), ckpt.path)


def check_enhancer(args: CommonArgs) -> None:
    """With --enhance-prompt, some model can rewrite the prompt: the Gemma 3 text encoder itself, or the separate
    --prompt-enhancer-gemma-root (a Gemma 3 folder or a dense Gemma 4), found and of a type that generates."""
    from ltx_core.text_encoders.gemma.assets import text_encoder_model_type
    from ltx_core.text_encoders.gemma.enhance import generation_settings

    if not args.enhance_prompt:
        return
    root = args.prompt_enhancer_gemma_root
    if root is None:
        encoder = args.gemma_root or args.text_encoder_path  # a single file's, or the split files'
        if encoder is not None and (kind := text_encoder_model_type(encoder)) != "gemma3":
            raise InputError(
                f"--enhance-prompt: the text encoder {encoder} is {kind!r}, which only encodes; pass "
                "--prompt-enhancer-gemma-root (a Gemma 3 folder or a dense Gemma 4 instruct model) or drop "
                "--enhance-prompt"
            )
        return
    generation_settings(text_encoder_model_type(root), f"--prompt-enhancer-gemma-root {root}")


def check_runtime(args: CommonArgs) -> None:
    """--offload / --quantization / --compile name known values and a combination the transformer loader takes."""

    parse_quantization(args.quantization)
    if args.compile and (missing := compile_toolchain_missing(None)) is not None:  # first, in the flags' words
        raise InputError(f"--compile needs {missing}, which this machine lacks; install it or run without --compile")
    check_offload_options(parse_offload(args.offload), compile=args.compile)


def check_stg_blocks(args: CommonArgs, checkpoint: Path, model_type: ModelType = ModelType.AUDIO_VIDEO) -> None:
    """STG blocks given on the command line exist in the checkpoint's transformer (a block outside it would be
    silently skipped, i.e. no STG at all). The defaults (28/29) are not checked: tiny test models run without them."""
    from ltx_pipelines.cli.app import given_on_command_line

    given = [
        (f"--{name.replace('_', '-')}", getattr(args, name))
        for name in ("video_stg_blocks", "audio_stg_blocks")
        if given_on_command_line(name)
    ]
    if not any(blocks for _, blocks in given):
        return
    ckpt = open_checkpoint(checkpoint)
    layers = transformer_config(ckpt.config, model_type, source=ckpt.path).num_layers
    for flag, blocks in given:
        outside = [b for b in blocks or () if not 0 <= b < layers]
        if outside:
            raise InputError(
                f"{flag} {' '.join(map(str, outside))}: {ckpt.path.name} has transformer blocks 0 to {layers - 1}"
            )


def check_quantization(checkpoint: Path, quantization: str | None, device: Any = None) -> None:
    """Before any model is built: a pre-quantized fp8 checkpoint runs only with fp8-scaled-mm (chosen for it when
    --quantization is absent), fp8-scaled-mm needs such a checkpoint, and the device must hold float8 (Apple MPS
    cannot): the loader's device check, run now rather than after the prompt encoding, for the automatic choice too."""

    chosen = quantization_for(quantization, open_checkpoint(checkpoint))
    if device is not None and chosen is not Quantization.NONE:
        check_fp8_cast_device(device, chosen.value)


def check_hdr(args: CommonArgs, inputs: Sequence[Path]) -> bool:
    """`--hdr` needs the optional EXR extra; EXR inputs need `--hdr` and may not be mixed with SDR ones (spec NP 5;
    every command that takes images has `--hdr`). Whether the inputs are EXR."""
    from ltx_pipelines.media.exr import check_exr_inputs, openexr

    if args.hdr is not None:
        openexr()
    return check_exr_inputs(inputs, args.hdr)


def preflight(
    args: CommonArgs,
    models: Path | ModelPaths,
    needed: Sequence[tuple[str, str]],
    *,
    upsampler: Path | None = None,
    loras: Iterable[LoraSpec] = (),
    images: Iterable[ImageConditioningArg] = (),
) -> None:
    """The one preflight of every pipeline (each command adds its own checks around it), in one order: runtime
    flags, device, checkpoint or split files (`models`: the transformer's STG blocks and its fit to
    --quantization), upsampler, LoRA files, Gemma, images."""
    from ltx_pipelines.media.exr import read_exr
    from ltx_pipelines.media.image import read_image
    from ltx_pipelines.utils.blocks import resolve_device

    check_runtime(args)
    device = resolve_device(args.device)
    if isinstance(models, ModelPaths):
        check_model_paths(models, needed)
        checkpoint = models.file("transformer")
        text_encoder = models.text_encoder if models.is_split else args.gemma_root
        embeddings: Any = list(models.embeddings())
    else:
        check_checkpoint(models, needed)
        checkpoint, text_encoder, embeddings = models, args.gemma_root, models
    if checkpoint is None:  # split files without a transformer: every pipeline needs one
        raise InputError("--transformer-path is required with split files: this pipeline needs the transformer")
    sound_only = any(what == "audio transformer" for what, _ in needed)  # text to audio: the audio-only model
    model_type = ModelType.AUDIO_ONLY if sound_only else ModelType.AUDIO_VIDEO
    check_stg_blocks(args, checkpoint, model_type)
    check_quantization(checkpoint, args.quantization, device)
    if upsampler is not None:
        check_upsampler(upsampler)
    for lora in loras:
        check_lora_file(lora.path, checkpoint if lora.strength != 0.0 else None, model_type)
    check_gemma(text_encoder, embeddings)
    check_enhancer(args)
    exr = check_hdr(args, [image.path for image in images])
    for image in images:
        if exr:
            read_exr(image.path)
        else:
            read_image(image.path)
