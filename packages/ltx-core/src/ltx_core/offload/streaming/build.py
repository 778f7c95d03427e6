"""Building the transformer for inference: resident, or streamed from RAM / disk, optionally with fp8-cast, or a
pre-quantized fp8 checkpoint as stored (fp8-scaled-mm).

All paths share `TensorRecipe.convert` (cast → key-map ops) and `fuse_loras_in_place`, so a given checkpoint,
dtype, LoRA set and quantization produce bitwise the same weights, hence the same outputs, in every mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader.builder import check_fits
from ltx_core.loader.key_map import KeyMap
from ltx_core.loader.lora import LoraSpec, LoraWeights, check_lora_coverage, lora_fuse_device, read_lora, weight_shapes
from ltx_core.loader.safetensors_file import Checkpoint, open_checkpoint
from ltx_core.model.transformer.config import ModelType, TransformerConfig
from ltx_core.model.transformer.loading import load_transformer, transformer_config, transformer_key_map
from ltx_core.model.transformer.model import LTXModel
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.offload.policy import (
    DEFAULT_RAM_RESERVE_BYTES,
    GIB,
    ModelFootprint,
    OffloadMode,
    available_ram_bytes,
    parse_offload,
)
from ltx_core.offload.streaming.device_cache import DeviceBlockCache
from ltx_core.offload.streaming.layout import (
    BLOCKS_PREFIX,
    BlockLayout,
    memory_dtype,
    plan_blocks,
    split_blocks,
    tensor_infos,
)
from ltx_core.offload.streaming.prepare import TensorRecipe, fuse_loras, fuse_loras_in_place
from ltx_core.offload.streaming.providers import BlockProvider, DiskBlockReader, RamBlockStore
from ltx_core.offload.streaming.reader import TensorReader
from ltx_core.offload.streaming.wrapper import BlockStreamingWrapper
from ltx_core.quantization import (
    FP8_CAST_KEY_MAP,
    Quantization,
    check_fp8_cast_checkpoint,
    check_fp8_cast_device,
    check_quantization_fits,
    parse_quantization,
    prepare_fp8_scaled_linears,
    scaled_fp8_stems,
    use_fp8_scaled_linears,
    use_upcast_linears,
)

CheckpointLike = str | Path | Sequence[str | Path] | Checkpoint
_SHOW = 5


def _key_map(cfg: TransformerConfig, quantization: Quantization) -> KeyMap:
    key_map = transformer_key_map(cfg)
    return key_map.chain(FP8_CAST_KEY_MAP) if quantization is Quantization.FP8_CAST else key_map


def _meta_model(
    cfg: TransformerConfig,
    quantization: Quantization,
    scaled_stems: Sequence[str] = (),
    numerics: Numerics = DEFAULT_NUMERICS,
) -> LTXModel:
    with torch.device("meta"):
        model = LTXModel(cfg, numerics)
    if quantization is Quantization.FP8_CAST:
        use_upcast_linears(model)
    if quantization is Quantization.FP8_SCALED_MM:
        use_fp8_scaled_linears(model, scaled_stems)
    return model


def _scaled_stems(ckpt: Checkpoint, key_map: KeyMap, quantization: Quantization) -> list[str]:
    """The pre-quantized Linears fp8-scaled-mm swaps in (none for the other policies); a policy that does not fit
    the checkpoint is a one-line error."""
    stems = scaled_fp8_stems(ckpt, key_map.select(ckpt.keys()))
    check_quantization_fits(quantization, bool(stems), ckpt.path)
    return stems if quantization is Quantization.FP8_SCALED_MM else []


def _select(ckpt: Checkpoint, key_map: KeyMap, model: LTXModel) -> dict[str, str]:
    """Renamed → source keys, strictly matching the model's parameters (as `load_model` checks)."""
    selected = key_map.select(ckpt.keys())
    check_fits(ckpt, selected, model.state_dict(), "transformer")
    return selected


def _read_loras(
    loras: Sequence[LoraSpec], selected: dict[str, str], ckpt: Checkpoint
) -> list[tuple[LoraWeights, float]]:
    weights = [(read_lora(spec.path), spec.strength) for spec in loras if spec.strength != 0.0]
    if weights:
        check_lora_coverage([w for w, _ in weights], weight_shapes(ckpt, selected))
    return weights


def _check_quantization(
    quantization: Quantization, ckpt: Checkpoint, selected: dict[str, str], device: torch.device
) -> None:
    if quantization is Quantization.FP8_CAST:
        check_fp8_cast_device(device)
        check_fp8_cast_checkpoint(ckpt, selected)
    if quantization is Quantization.FP8_SCALED_MM:
        check_fp8_cast_device(device, quantization.value)


def _load_tensors(
    reader: TensorReader,
    names: dict[str, str],
    recipe: TensorRecipe,
    loras: Sequence[tuple[LoraWeights, float]],
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Every tensor read in file order, cast / key-map ops applied, moved to `device`, then LoRA-fused in place."""
    order = sorted(names.items(), key=lambda kv: reader.info(kv[1]).start)
    state = {name: recipe.convert(name, reader.read(src)).to(device) for name, src in order}
    fuse_loras_in_place(state, loras, lora_fuse_device(device), numerics=recipe.numerics)
    return state


def _finish(model: LTXModel, state: dict[str, torch.Tensor], ckpt: Checkpoint, skip_prefix: str | None) -> None:
    model.load_state_dict(state, strict=False, assign=True)
    left = [
        n
        for n, t in [*model.named_parameters(), *model.named_buffers()]
        if t.is_meta and not (skip_prefix and n.startswith(skip_prefix))
    ]
    if left:
        raise CheckpointError(f"{ckpt.path}: transformer weights missing after load: {', '.join(left[:_SHOW])}")


def load_resident_transformer(
    checkpoint: CheckpointLike,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    loras: Sequence[LoraSpec] = (),
    quantization: str | Quantization | None = None,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> LTXModel:
    """The whole transformer on `device` (offload "none"); with fp8-cast the block Linears are stored in fp8, with
    fp8-scaled-mm the checkpoint's pre-quantized Linears run as `FP8ScaledLinear`."""
    quant = parse_quantization(quantization)
    if quant is Quantization.NONE:
        return load_transformer(
            checkpoint, dtype=dtype, device=device, loras=loras, model_type=model_type, numerics=numerics
        )
    if quant is Quantization.FP8_CAST:  # tensor by tensor, as the sharded loader places them
        model, tensors = fp8_cast_model_and_state(
            checkpoint, dtype=dtype, device=device, loras=loras, model_type=model_type, numerics=numerics
        )
        _finish(model, dict(tensors), open_checkpoint(checkpoint), None)
        return model.eval()
    ckpt = open_checkpoint(checkpoint)
    dev = torch.device(device)
    cfg = transformer_config(ckpt.config, model_type, source=ckpt.path)
    key_map = _key_map(cfg, quant)
    stems = _scaled_stems(ckpt, key_map, quant)
    model = _meta_model(cfg, quant, stems, numerics)
    selected = _select(ckpt, key_map, model)
    _check_quantization(quant, ckpt, selected, dev)
    prepare_fp8_scaled_linears(model, dev)  # the kernel of each fp8-scaled-mm Linear, decided once
    lora_weights = _read_loras(loras, selected, ckpt)
    reader = TensorReader(ckpt)
    try:
        state = _load_tensors(reader, selected, TensorRecipe(key_map, dtype, numerics), lora_weights, dev)
    finally:
        reader.close()
    _finish(model, state, ckpt, None)
    return model.eval()


def fp8_cast_model_and_state(
    checkpoint: CheckpointLike,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    loras: Sequence[LoraSpec] = (),
    model_type: ModelType = ModelType.AUDIO_VIDEO,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> tuple[LTXModel, Iterator[tuple[str, torch.Tensor]]]:
    """An fp8-cast transformer on meta and its tensors one at a time (model name, tensor on `device`; cast, fp8
    key-map ops, then LoRAs fused in fp8, as the streamed blocks are made): `load_resident_transformer` fills the
    model with them, the sharded loader keeps each rank's rows, so both match bit for bit."""
    quant = Quantization.FP8_CAST
    ckpt = open_checkpoint(checkpoint)
    dev = torch.device(device)
    cfg = transformer_config(ckpt.config, model_type, source=ckpt.path)
    key_map = _key_map(cfg, quant)
    _scaled_stems(ckpt, key_map, quant)  # refuses a pre-quantized file
    model = _meta_model(cfg, quant, numerics=numerics)
    selected = _select(ckpt, key_map, model)
    _check_quantization(quant, ckpt, selected, dev)
    lora_weights = _read_loras(loras, selected, ckpt)
    recipe = TensorRecipe(key_map, dtype, numerics)

    def tensors() -> Iterator[tuple[str, torch.Tensor]]:
        reader = TensorReader(ckpt)
        try:
            for name, src in sorted(selected.items(), key=lambda kv: reader.info(kv[1]).start):
                tensor = recipe.convert(name, reader.read(src)).to(dev)
                fused = fuse_loras(name, tensor, lora_weights, lora_fuse_device(dev), numerics)
                yield name, tensor if fused is None else fused
        finally:
            reader.close()

    return model, tensors()


def build_streaming_transformer(
    checkpoint: CheckpointLike,
    mode: str | OffloadMode,
    device: torch.device | str,
    *,
    dtype: torch.dtype | None = None,
    loras: Sequence[LoraSpec] = (),
    quantization: str | Quantization | None = None,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
    device_slots: int = 2,
    host_slots: int = 2,
    ram_available: int | None = None,
    ram_reserve_bytes: int = DEFAULT_RAM_RESERVE_BYTES,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> BlockStreamingWrapper:
    """The transformer with non-block weights on `device` and blocks streamed from RAM ("cpu") or the file ("disk"),
    at most `device_slots` blocks on the device at a time. Call it like LTXModel; `close()` (or `with`) frees it.

    "cpu" first checks that the prepared blocks fit the available RAM (minus `ram_reserve_bytes`) and refuses with
    a suggestion to use "disk" otherwise. `dtype` None keeps the stored dtypes (as `load_transformer`).
    """
    offload = parse_offload(mode)
    if not offload.streams:
        raise InputError(f"streaming needs offload 'cpu' or 'disk', not {offload.value!r}")
    quant = parse_quantization(quantization)
    ckpt = open_checkpoint(checkpoint)
    dev = torch.device(device)
    cfg = transformer_config(ckpt.config, model_type, source=ckpt.path)
    key_map = _key_map(cfg, quant)
    stems = _scaled_stems(ckpt, key_map, quant)
    model = _meta_model(cfg, quant, stems, numerics).eval()
    selected = _select(ckpt, key_map, model)
    _check_quantization(quant, ckpt, selected, dev)
    prepare_fp8_scaled_linears(model, dev)  # the kernel of each fp8-scaled-mm Linear, decided once
    lora_weights = _read_loras(loras, selected, ckpt)
    recipe = TensorRecipe(key_map, dtype, numerics)
    infos = tensor_infos(ckpt)
    blocks, rest = split_blocks(selected)
    layouts = plan_blocks(blocks, cfg.num_layers, infos, dtype, key_map, source=ckpt.path)
    pin = dev.type == "cuda"
    reader = TensorReader(ckpt)
    provider: BlockProvider | None = None
    try:
        if offload is OffloadMode.CPU:
            _check_ram(layouts, ram_available, ram_reserve_bytes)
            provider = RamBlockStore(
                reader, layouts, recipe, pin=pin, loras=lora_weights, fuse_device=lora_fuse_device(dev)
            )
        else:
            provider = DiskBlockReader(reader, layouts, recipe, pin=pin, slots=host_slots)
            lora_weights = _pinned(lora_weights) if pin else lora_weights
        state = _load_tensors(reader, rest, recipe, lora_weights, dev)
        _finish(model, state, ckpt, BLOCKS_PREFIX + ".")
        cache = DeviceBlockCache(provider, dev, slots=device_slots, loras=lora_weights, numerics=numerics)
    except BaseException:
        if provider is not None:
            provider.close()
        reader.close()
        raise
    return BlockStreamingWrapper(model, cache, provider, reader, offload.value)


def _check_ram(layouts: Sequence[BlockLayout], ram_available: int | None, reserve: int) -> None:
    need = sum(layout.nbytes for layout in layouts)
    have = available_ram_bytes() if ram_available is None else ram_available
    if need + reserve > have:
        raise InputError(
            f"offload 'cpu' needs {need / GIB:.1f} GiB of RAM for the transformer blocks (+{reserve / GIB:.1f} GiB "
            f"reserve) but only {have / GIB:.1f} GiB is available; use offload 'disk'"
        )


def _pinned(loras: list[tuple[LoraWeights, float]]) -> list[tuple[LoraWeights, float]]:
    """LoRA A/B pairs in page-locked memory so per-block fusion on arrival uploads them quickly."""
    out = []
    for lora, strength in loras:
        pairs = {k: (a.pin_memory(), b.pin_memory()) for k, (a, b) in lora.pairs.items()}
        out.append((LoraWeights(lora.path, pairs, lora.metadata, lora.ignored_keys), strength))
    return out


def transformer_footprint(
    checkpoint: CheckpointLike,
    *,
    dtype: torch.dtype | None = None,
    quantization: str | Quantization | None = None,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
) -> ModelFootprint:
    """Bytes the transformer will take once loaded, from the header only (for `choose_offload`)."""
    quant = parse_quantization(quantization)
    ckpt = open_checkpoint(checkpoint)
    cfg = transformer_config(ckpt.config, model_type, source=ckpt.path)
    key_map = _key_map(cfg, quant)
    selected = key_map.select(ckpt.keys())
    infos = tensor_infos(ckpt)
    blocks, rest = split_blocks(selected)
    sizes = [
        sum(
            infos[src].nbytes
            // infos[src].dtype.itemsize
            * memory_dtype(f"{BLOCKS_PREFIX}.{i}.{n}", infos[src].dtype, dtype, key_map).itemsize
            for n, src in params.items()
        )
        for i, params in blocks.items()
    ]
    other = sum(
        infos[src].nbytes // infos[src].dtype.itemsize * memory_dtype(n, infos[src].dtype, dtype, key_map).itemsize
        for n, src in rest.items()
    )
    return ModelFootprint(sum(sizes), max(sizes, default=0), other)
