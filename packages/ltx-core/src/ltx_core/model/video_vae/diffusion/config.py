"""LTX-2.5 diffusion video decoder ("CausalDiffusionVAE") configuration, read from the checkpoint's `vae` section.

Spec: `diffusion_video_decoder.md` §1. Hyper-parameters come from `vae.decoder` when present, else from `vae`
itself; `model_output_type` always from `vae`. What the official code only asserts (or trips over later: channel
chains, the hard-coded 8/32 pixel scale) is a one-line ConfigError here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection

CONV_VAE_CLASS = "CausalVideoAutoencoder"
Triple = tuple[int, int, int]

_DEFAULT_CHANNELS = (1024, 512, 256, 256, 128)
_DEFAULT_DEPTHS = (4, 6, 4, 2, 8)
_DEFAULT_KERNELS = ((3, 7, 7), (3, 7, 7), (3, 5, 5), (3, 5, 5), (3, 3, 3))
_DEFAULT_UPSAMPLES = (((1, 2, 2), 2), ((2, 1, 1), 2), ((2, 2, 2), 1), ((2, 2, 2), 2))
# the decoder's fixed latent → pixel scale (frames, height, width): the hops and patch must multiply to it
PIXEL_SCALE = (8, 32, 32)


def is_diffusion_vae(config: dict[str, Any]) -> bool:
    """True when the file's video decoder is the diffusion decoder: `vae._class_name` present and not the conv VAE's
    (the official `is_diffusion_video_vae` test)."""
    vae = config.get("vae")
    if not isinstance(vae, dict):
        return False
    name = vae.get("_class_name")
    return name is not None and name != CONV_VAE_CLASS


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Upsample:
    """One hop between stages: pixel-shuffle stride (t, h, w) and channel reduction."""

    stride: Triple
    reduction: int


@dataclass(frozen=True)
class DiffusionDecoderConfig:
    latent_channels: int = 128
    out_channels: int = 3
    patch_size: int = 4
    head_dim: int = 64
    t_emb_dim: int = 384
    num_steps: int = 2
    timestep_scale_multiplier: float = 1.0
    stage_channels: tuple[int, ...] = _DEFAULT_CHANNELS
    stage_depths: tuple[int, ...] = _DEFAULT_DEPTHS
    stage_kernels: tuple[Triple, ...] = _DEFAULT_KERNELS
    upsamples: tuple[Upsample, ...] = tuple(Upsample(s, r) for s, r in _DEFAULT_UPSAMPLES)
    stage5_kernel: Triple = (3, 7, 7)
    stage5_channels: int | None = None
    model_output_type: str = "v"

    # --- derived sizes ----------------------------------------------------------------------------------------

    @property
    def context_channels(self) -> int:
        """Width of the stage-4 context (the last `stage_channels` entry)."""
        return self.stage_channels[-1]

    @property
    def diffusion_channels(self) -> int:
        return self.stage5_channels if self.stage5_channels is not None else self.context_channels

    @property
    def diffusion_depth(self) -> int:
        return self.stage_depths[-1]

    @property
    def ghost_frames(self) -> int:
        """Extra copies of the last latent frame kept away from the temporal border through stages 1–4 (§4.3)."""
        return (self.stage_kernels[0][0] // 2) * 2

    def cumulative_strides(self) -> list[Triple]:
        """S_i: the stride product of hops 0..i−1, i = 0..4."""
        out = [(1, 1, 1)]
        for up in self.upsamples:
            prev = out[-1]
            out.append((prev[0] * up.stride[0], prev[1] * up.stride[1], prev[2] * up.stride[2]))
        return out

    def min_latent_shape(self) -> Triple:
        """The stage floors in latent units (§4.2): every stage grid at least as large as its kernel."""
        strides = self.cumulative_strides()
        mins = []
        for a in range(3):
            need = max(ceil_div(self.stage_kernels[i][a], strides[i][a]) for i in range(4))
            mins.append(max(need, ceil_div(self.stage5_kernel[a], strides[4][a])))
        return (mins[0], mins[1], mins[2])

    @property
    def s4_to_pixel(self) -> Triple:
        """Pixels per stage-4 cell (frames, height, width): hop 3's stride, times the patch in H/W."""
        s = self.upsamples[3].stride
        return (s[0], s[1] * self.patch_size, s[2] * self.patch_size)

    def tile_floor(self) -> Triple:
        """Smallest tile on the stage-4 grid (§6.2): the stage-4 kernel and the stage-5 kernel seen from stage 4."""
        s3 = self.upsamples[3].stride
        k4, k5 = self.stage_kernels[3], self.stage5_kernel
        return tuple(max(k4[a], ceil_div(k5[a], s3[a])) for a in range(3))  # type: ignore[return-value]

    def tile_halos(self) -> tuple[Triple, Triple]:
        """(stage-4 halo, stage-5 halo) in stage-4 cells (§6.2): how far a tile border reaches into the result."""
        s3 = self.upsamples[3].stride
        k4, k5 = self.stage_kernels[3], self.stage5_kernel
        d4, d5 = self.stage_depths[3], self.diffusion_depth
        h4 = tuple(d4 * (k4[a] // 2) for a in range(3))
        h5 = tuple(ceil_div(d5 * (k5[a] // 2), s3[a]) for a in range(3))
        return h4, h5  # type: ignore[return-value]

    def min_overlaps(self) -> tuple[int, int]:
        """Smallest tile overlaps (frames, pixels) an explicit tiling may ask for (§6.2)."""
        h4, h5 = self.tile_halos()
        st, sh, sw = self.s4_to_pixel
        frames = _round_up(max(h4[0], h5[0]) * st, 8)
        px = _round_up(max(max(h4[1], h5[1]) * sh, max(h4[2], h5[2]) * sw), 32)
        return frames, px

    # --- parsing ----------------------------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: dict[str, Any], source: Path | str = "<config>") -> DiffusionDecoderConfig:
        vae = ConfigSection.of(config, "vae", source=source)
        section = vae.sub("decoder") if vae.has("decoder") else vae
        where = f"{source}: config value {section.section}"

        def integer(key: str, default: int, least: int = 1) -> int:
            value = section.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigError(f"{where}.{key} is {value!r}; expected an integer >= {least}")
            return value

        def triple(value: Any, name: str) -> Triple:
            if (
                not isinstance(value, (list, tuple))
                or len(value) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
            ):
                raise ConfigError(f"{where}.{name} is {value!r}; expected three positive integers")
            return (value[0], value[1], value[2])

        def int_list(key: str, default: tuple[int, ...]) -> tuple[int, ...]:
            value = section.get(key, list(default))
            if not isinstance(value, list) or not all(isinstance(v, int) and v >= 1 for v in value):
                raise ConfigError(f"{where}.{key} is {value!r}; expected a list of positive integers")
            return tuple(value)

        kernels_raw = section.get("stage_kernels", [list(k) for k in _DEFAULT_KERNELS])
        if not isinstance(kernels_raw, list):
            raise ConfigError(f"{where}.stage_kernels is {kernels_raw!r}; expected a list of [t, h, w] kernels")
        ups_raw = section.get("upsamples", [[list(s), r] for s, r in _DEFAULT_UPSAMPLES])
        if not isinstance(ups_raw, list):
            raise ConfigError(f"{where}.upsamples is {ups_raw!r}; expected a list of [[t, h, w], reduction]")
        ups = []
        for i, entry in enumerate(ups_raw):
            if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[1], int):
                raise ConfigError(f"{where}.upsamples[{i}] is {entry!r}; expected [[t, h, w], reduction]")
            ups.append(Upsample(triple(entry[0], f"upsamples[{i}][0]"), entry[1]))
        head_dim = section.get("head_dim", section.get("na_head_dim", 64))
        stage5 = section.get("stage5_channels")
        latent = section.get("in_channels", vae.get("latent_channels", 128))
        mult = section.get("timestep_scale_multiplier", 1.0)
        if not isinstance(mult, (int, float)) or isinstance(mult, bool):
            raise ConfigError(f"{where}.timestep_scale_multiplier is {mult!r}; expected a number")
        output_type = vae.get("model_output_type", "v")
        if output_type not in ("v", "x0"):
            raise ConfigError(f"{source}: config value vae.model_output_type is {output_type!r}; supported: 'v', 'x0'")
        if not isinstance(head_dim, int) or head_dim < 1:
            raise ConfigError(f"{where}.head_dim is {head_dim!r}; expected a positive integer")
        if stage5 is not None and (not isinstance(stage5, int) or stage5 < 1):
            raise ConfigError(f"{where}.stage5_channels is {stage5!r}; expected a positive integer")
        if not isinstance(latent, int) or latent < 1:
            raise ConfigError(f"{where}.in_channels is {latent!r}; expected a positive integer")
        cfg = cls(
            latent_channels=latent,
            out_channels=integer("out_channels", 3),
            patch_size=integer("patch_size", 4),
            head_dim=head_dim,
            t_emb_dim=integer("t_emb_dim", 384),
            num_steps=integer("default_num_inference_steps", 2),
            timestep_scale_multiplier=float(mult),
            stage_channels=int_list("stage_channels", _DEFAULT_CHANNELS),
            stage_depths=int_list("stage_depths", _DEFAULT_DEPTHS),
            stage_kernels=tuple(triple(k, f"stage_kernels[{i}]") for i, k in enumerate(kernels_raw)),
            upsamples=tuple(ups),
            stage5_kernel=triple(section.get("stage5_kernel", [3, 7, 7]), "stage5_kernel"),
            stage5_channels=stage5,
            model_output_type=output_type,
        )
        cfg.check(where)
        return cfg

    def check(self, where: str = "diffusion decoder config") -> None:
        """The official construction asserts plus the implicit rules that would otherwise fail as shape errors."""
        n = len(self.stage_channels)
        if n != 5 or len(self.stage_depths) != 5 or len(self.stage_kernels) != 5 or len(self.upsamples) != 4:
            raise ConfigError(
                f"{where}: stage_channels / stage_depths / stage_kernels have {n} / {len(self.stage_depths)} / "
                f"{len(self.stage_kernels)} entries and upsamples {len(self.upsamples)}; expected 5, 5, 5 and 4"
            )
        hd = self.head_dim
        widths = [*self.stage_channels[:4], self.diffusion_channels]
        if any(c % hd for c in widths):
            raise ConfigError(f"{where}: stage widths {widths} must all be multiples of head_dim {hd}")
        if hd % 8 or rope_split(hd)[0] <= 0:
            raise ConfigError(f"{where}.head_dim is {hd}; expected a multiple of 8 of at least 16")
        for i, up in enumerate(self.upsamples):
            c = self.stage_channels[i]
            if c % up.reduction or c // up.reduction != self.stage_channels[i + 1]:
                raise ConfigError(
                    f"{where}.upsamples[{i}] maps {c} channels by reduction {up.reduction}, but the next stage has "
                    f"{self.stage_channels[i + 1]}"
                )
            if up.stride[0] not in (1, 2):
                raise ConfigError(f"{where}.upsamples[{i}] temporal stride {up.stride[0]} is unsupported; use 1 or 2")
        frames = 1
        for up in self.upsamples:
            frames *= up.stride[0]
        space = [self.patch_size * math.prod(up.stride[a] for up in self.upsamples) for a in (1, 2)]
        if (frames, *space) != PIXEL_SCALE:
            raise ConfigError(
                f"{where}: upsamples and patch_size give a latent → pixel scale of {(frames, *space)}; the decoder "
                f"needs {PIXEL_SCALE}"
            )


def rope_split(head_dim: int) -> Triple:
    """Channels per axis (t, h, w) of the 3-D RoPE in one head (§3.5)."""
    d_t = (head_dim // 4) // 2 * 2
    d_hw = (head_dim - d_t) // 2
    if d_hw % 2:
        d_t -= 2
        d_hw = (head_dim - d_t) // 2
    return d_t, d_hw, d_hw


def _round_up(x: int, m: int) -> int:
    return ceil_div(x, m) * m
