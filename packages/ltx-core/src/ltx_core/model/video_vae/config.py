"""Video VAE configuration read from the checkpoint's `vae` metadata section.

The official configurators read one `spatial_padding_mode` key for both halves but with different defaults
(encoder `zeros`, decoder `reflect`); `timestep_conditioning` defaults to true. We mirror that exactly, and turn
values the official code would only trip over later (unknown block names, unsupported dims) into one-line
ConfigErrors at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
NORM_LAYERS = ("pixel_norm", "group_norm")
LOG_VAR_MODES = ("per_channel", "uniform", "constant")

ENCODER_BLOCKS = (
    "res_x",
    "res_x_y",
    "compress_time",
    "compress_space",
    "compress_all",
    "compress_all_x_y",
    "compress_all_res",
    "compress_space_res",
    "compress_time_res",
)
DECODER_BLOCKS = ("res_x", "res_x_y", "compress_time", "compress_space", "compress_all")


@dataclass(frozen=True)
class BlockSpec:
    """One `[name, params]` entry of `encoder_blocks` / `decoder_blocks`.

    `multiplier` is None when the entry does not set it: the default depends on the block type and side.
    """

    name: str
    num_layers: int = 1
    multiplier: int | None = None
    residual: bool = False
    inject_noise: bool = False

    def multiplier_or(self, default: int) -> int:
        return default if self.multiplier is None else self.multiplier


def parse_blocks(section: ConfigSection, key: str, allowed: tuple[str, ...]) -> tuple[BlockSpec, ...]:
    raw = section.get(key, [])
    where = f"{section.source}: config value {section.section}.{key}"
    if not isinstance(raw, list):
        raise ConfigError(f"{where} is {raw!r}; expected a list of [name, params] pairs")
    blocks = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[0], str):
            raise ConfigError(f"{where}[{i}] is {entry!r}; expected [name, params]")
        name, params = entry
        if name == "attn_res_x":
            raise ConfigError(f"{where}[{i}] is 'attn_res_x', which is unsupported (the official code fails on it)")
        if name not in allowed:
            raise ConfigError(f"{where}[{i}] has unknown block {name!r}; supported: {', '.join(allowed)}")
        if isinstance(params, int) and not isinstance(params, bool):
            params = {"num_layers": params}
        if not isinstance(params, dict):
            raise ConfigError(f"{where}[{i}] params are {params!r}; expected an int or an object")
        blocks.append(
            BlockSpec(
                name=name,
                num_layers=int(params.get("num_layers", 1)),
                multiplier=None if params.get("multiplier") is None else int(params["multiplier"]),
                residual=bool(params.get("residual", False)),
                inject_noise=bool(params.get("inject_noise", False)),
            )
        )
    return tuple(blocks)


def _common(section: ConfigSection) -> dict[str, Any]:
    dims = section.get("dims", 3)
    if dims != 3:
        raise ConfigError(f"{section.source}: config value {section.section}.dims is {dims!r}; supported: 3")
    patch = section.get("patch_size", 4)
    if not isinstance(patch, int) or patch < 1:
        raise ConfigError(f"{section.source}: config value {section.section}.patch_size is {patch!r}; expected >= 1")
    latent = section.get("latent_channels", 128)
    if not isinstance(latent, int) or latent < 1:
        raise ConfigError(
            f"{section.source}: config value {section.section}.latent_channels is {latent!r}; expected >= 1"
        )
    return {
        "latent_channels": latent,
        "patch_size": patch,
        "norm_layer": section.choice("norm_layer", NORM_LAYERS, "pixel_norm"),
    }


CONV_VAE_CLASS = "CausalVideoAutoencoder"  # `vae._class_name` of the conv VAE (absent means it too)


@dataclass(frozen=True)
class VideoEncoderConfig:
    in_channels: int = 3
    latent_channels: int = 128
    blocks: tuple[BlockSpec, ...] = ()
    patch_size: int = 4
    norm_layer: str = "pixel_norm"
    latent_log_var: str = "uniform"
    spatial_padding_mode: str = "zeros"

    @classmethod
    def from_section(cls, section: ConfigSection, blocks_key: str = "encoder_blocks") -> VideoEncoderConfig:
        return cls(
            in_channels=int(section.get("in_channels", 3)),
            blocks=parse_blocks(section, blocks_key, ENCODER_BLOCKS),
            latent_log_var=section.choice("latent_log_var", LOG_VAR_MODES, "uniform"),
            spatial_padding_mode=section.choice("spatial_padding_mode", PADDING_MODES, "zeros"),
            **_common(section),
        )

    @classmethod
    def from_config(cls, config: dict[str, Any], source: Path | str = "<config>") -> VideoEncoderConfig:
        """From a full checkpoint config (reads its `vae` section). A file whose VAE is the diffusion decoder
        (LTX-2.5: `vae._class_name` other than "CausalVideoAutoencoder") nests its ordinary conv encoder in
        `vae.encoder`, with `blocks` for the block list and `out_channels` for the latent width (spec
        diffusion_video_decoder.md §1.1)."""
        vae = ConfigSection.of(config, "vae", source=source)
        if vae.get("_class_name", CONV_VAE_CLASS) == CONV_VAE_CLASS or not isinstance(vae.get("encoder"), dict):
            return cls.from_section(vae)
        nested = dict(vae.sub("encoder").data)
        nested.setdefault("latent_channels", nested.get("out_channels", vae.get("latent_channels", 128)))
        return cls.from_section(ConfigSection(nested, "vae.encoder", vae.source), blocks_key="blocks")


@dataclass(frozen=True)
class VideoDecoderConfig:
    out_channels: int = 3
    latent_channels: int = 128
    blocks: tuple[BlockSpec, ...] = ()
    patch_size: int = 4
    norm_layer: str = "pixel_norm"
    causal: bool = False
    timestep_conditioning: bool = True
    base_channels: int = 128
    spatial_padding_mode: str = "reflect"

    @classmethod
    def from_section(cls, section: ConfigSection) -> VideoDecoderConfig:
        base = section.get("decoder_base_channels", 128)
        if not isinstance(base, int) or base < 1:
            raise ConfigError(
                f"{section.source}: config value {section.section}.decoder_base_channels is {base!r}; expected >= 1"
            )
        return cls(
            out_channels=int(section.get("out_channels", 3)),
            blocks=parse_blocks(section, "decoder_blocks", DECODER_BLOCKS),
            causal=bool(section.get("causal_decoder", False)),
            timestep_conditioning=bool(section.get("timestep_conditioning", True)),
            base_channels=base,
            spatial_padding_mode=section.choice("spatial_padding_mode", PADDING_MODES, "reflect"),
            **_common(section),
        )

    @classmethod
    def from_config(cls, config: dict[str, Any], source: Path | str = "<config>") -> VideoDecoderConfig:
        """From a full checkpoint config (reads its `vae` section)."""
        return cls.from_section(ConfigSection.of(config, "vae", source=source))
