"""Audio VAE configuration, read from the checkpoint's `audio_vae` section (spec §2.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection

CAUSALITY_AXES = ("height", "width", "width-compatibility", "none")
NORM_TYPES = ("pixel", "group")
ATTN_TYPES = ("vanilla", "none")
# The official code hard-wires the time downsampling of the audio latent.
LATENT_DOWNSAMPLE_FACTOR = 4


@dataclass(frozen=True)
class MelConfig:
    """What the waveform → log-mel front end needs; the same numbers size the encoder input."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 160
    n_mels: int = 64

    @property
    def f_max(self) -> float:
        # The official processor always uses Nyquist; the config's mel_fmax is not read.
        return self.sample_rate / 2

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length


@dataclass(frozen=True)
class AudioVAEConfig:
    """Encoder + decoder architecture (`ddconfig`) and the mel front end sizes they were trained with."""

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (8, 16, 32)
    resolution: int = 256
    z_channels: int = 8
    double_z: bool = True
    in_channels: int = 2
    out_ch: int = 2
    dropout: float = 0.0
    resamp_with_conv: bool = True
    attn_type: str = "vanilla"
    mid_block_add_attention: bool = True
    norm_type: str = "pixel"
    causality_axis: str = "height"
    sample_rate: int = 16000
    mel_hop_length: int = 160
    n_fft: int = 1024
    is_causal: bool = True
    mel_bins: int | None = None

    def __post_init__(self) -> None:
        if self.norm_type not in NORM_TYPES:
            raise ConfigError(f"audio VAE norm_type is {self.norm_type!r}; supported: 'pixel', 'group'")
        if self.causality_axis not in CAUSALITY_AXES:
            raise ConfigError(
                f"audio VAE causality_axis is {self.causality_axis!r}; supported: "
                + ", ".join(repr(a) for a in CAUSALITY_AXES[:-1])
                + ", null"
            )
        if self.attn_type not in ATTN_TYPES:
            raise ConfigError(f"audio VAE attn_type is {self.attn_type!r}; supported: 'vanilla', 'none'")
        if self.norm_type == "group" and self.causality_axis != "none":
            raise ConfigError(
                f"audio VAE norm_type 'group' cannot be combined with causality_axis {self.causality_axis!r} "
                "(only null)"
            )
        if not self.resamp_with_conv and self.causality_axis != "none":
            raise ConfigError(
                "audio VAE resamp_with_conv false (average-pool downsampling) needs causality_axis null, "
                f"got {self.causality_axis!r}"
            )
        if not self.ch_mult or any(m <= 0 for m in self.ch_mult):
            raise ConfigError(f"audio VAE ch_mult is {list(self.ch_mult)!r}; expected a non-empty list of positives")

    @property
    def mel(self) -> MelConfig:
        return MelConfig(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.mel_hop_length,
            n_mels=self.mel_bins if self.mel_bins else 64,
        )

    @property
    def latents_per_second(self) -> float:
        return self.sample_rate / self.mel_hop_length / LATENT_DOWNSAMPLE_FACTOR

    @property
    def latent_channels(self) -> int:
        return self.z_channels

    @classmethod
    def from_section(cls, section: ConfigSection) -> AudioVAEConfig:
        """`section` is the `audio_vae` section of the checkpoint config."""
        params = _optional(_optional(section, "model"), "params")
        dd = _optional(params, "ddconfig")
        pre = _optional(section, "preprocessing")
        stft = _optional(pre, "stft")
        mel = _optional(pre, "mel")
        variables = _optional(section, "variables")
        causality = dd.get("causality_axis", "height")
        mel_bins = dd.get("mel_bins") or mel.get("n_mel_channels") or variables.get("mel_bins") or None
        return cls(
            ch=_int(dd, "ch", 128),
            ch_mult=tuple(_int_list(dd, "ch_mult", (1, 2, 4))),
            num_res_blocks=_int(dd, "num_res_blocks", 2, minimum=0),
            attn_resolutions=tuple(_int_list(dd, "attn_resolutions", (8, 16, 32))),
            resolution=_int(dd, "resolution", 256),
            z_channels=_int(dd, "z_channels", 8),
            double_z=bool(dd.get("double_z", True)),
            in_channels=_int(dd, "in_channels", 2),
            out_ch=_int(dd, "out_ch", 2),
            dropout=float(dd.get("dropout", 0.0)),
            resamp_with_conv=bool(dd.get("resamp_with_conv", True)),
            attn_type=dd.choice("attn_type", ATTN_TYPES, "vanilla"),
            mid_block_add_attention=bool(dd.get("mid_block_add_attention", True)),
            norm_type=dd.choice("norm_type", NORM_TYPES, "pixel"),
            causality_axis="none" if causality is None else dd.choice("causality_axis", CAUSALITY_AXES[:-1], "height"),
            sample_rate=_int(params, "sampling_rate", 16000),
            mel_hop_length=_int(stft, "hop_length", 160),
            n_fft=_int(stft, "filter_length", 1024),
            is_causal=bool(stft.get("causal", True)),
            mel_bins=int(mel_bins) if mel_bins else None,
        )


def _optional(section: ConfigSection, key: str) -> ConfigSection:
    return section.sub(key) if section.has(key) else ConfigSection({}, _qual(section, key), section.source)


def _qual(section: ConfigSection, key: str) -> str:
    return f"{section.section}.{key}" if section.section else key


def _int(section: ConfigSection, key: str, default: int, minimum: int = 1) -> int:
    value: Any = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{section.source}: config value {_qual(section, key)} is {value!r}; expected an integer >= {minimum}"
        )
    return value


def _int_list(section: ConfigSection, key: str, default: tuple[int, ...]) -> list[int]:
    value: Any = section.get(key, list(default))
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{section.source}: config value {_qual(section, key)} is {value!r}; expected a list of ints")
    return list(value)
