"""Latent upsampler configuration: flat keys at the top level of the upsampler file's `config` metadata."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection

# spatial_scale → (shuffle factor n, blur-downsample stride d) of the rational resampler
RATIONAL_SCALES: dict[float, tuple[int, int]] = {0.75: (3, 4), 1.5: (3, 2), 2.0: (2, 1), 4.0: (4, 1)}


@dataclass(frozen=True)
class UpsamplerConfig:
    in_channels: int = 128
    mid_channels: int = 512
    num_blocks_per_stage: int = 4
    dims: int = 3
    spatial_upsample: bool = True
    temporal_upsample: bool = False
    spatial_scale: float = 2.0
    rational_resampler: bool = False

    @property
    def variant(self) -> str:
        """Which upsampling module is built (official priority order)."""
        if self.spatial_upsample and self.temporal_upsample:
            return "spatiotemporal"
        if self.spatial_upsample:
            return "rational" if self.rational_resampler else "spatial"
        return "temporal"

    @classmethod
    def from_section(cls, section: ConfigSection) -> UpsamplerConfig:
        def _int(key: str, default: int) -> int:
            value = section.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{section.source}: upsampler config value {key} is {value!r}; expected an int >= 1")
            return value

        cfg = cls(
            in_channels=_int("in_channels", 128),
            mid_channels=_int("mid_channels", 512),
            num_blocks_per_stage=_int("num_blocks_per_stage", 4),
            dims=section.choice("dims", (2, 3), 3),
            spatial_upsample=bool(section.get("spatial_upsample", True)),
            temporal_upsample=bool(section.get("temporal_upsample", False)),
            spatial_scale=float(section.get("spatial_scale", 2.0)),
            rational_resampler=bool(section.get("rational_resampler", False)),
        )
        where = f"{section.source}: upsampler config"
        if not (cfg.spatial_upsample or cfg.temporal_upsample):
            raise ConfigError(f"{where} has spatial_upsample and temporal_upsample both false; one must be true")
        if cfg.variant == "rational" and cfg.spatial_scale not in RATIONAL_SCALES:
            raise ConfigError(
                f"{where} spatial_scale {cfg.spatial_scale} is unsupported by the rational resampler; supported: "
                + ", ".join(str(s) for s in RATIONAL_SCALES)
            )
        if cfg.mid_channels % 32:
            raise ConfigError(f"{where} mid_channels {cfg.mid_channels} must be a multiple of 32 (GroupNorm groups)")
        if cfg.dims == 2 and cfg.variant != "spatial":
            raise ConfigError(f"{where} dims 2 only works with the plain spatial x2 upsampler, not {cfg.variant}")
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any], source: Path | str = "<config>") -> UpsamplerConfig:
        return cls.from_section(ConfigSection.of(config, None, source=source))

    def to_metadata(self) -> dict[str, str]:
        """Safetensors metadata for an upsampler file (flat `config` JSON, with the class name real files carry)."""
        return {"config": json.dumps({**asdict(self), "_class_name": "LatentUpsampler"})}
