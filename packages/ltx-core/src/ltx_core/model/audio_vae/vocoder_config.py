"""Vocoder configuration, read from the checkpoint's `vocoder` section (spec §2.2).

A flat section is the LTX-2 HiFi-GAN-style generator; a section with a `bwe` key is LTX-2.3's BigVGAN-v2
generator (`vocoder.vocoder`) plus the bandwidth-extension generator (`vocoder.bwe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection

# The vocoder's conv_pre takes 2 stereo channels x 64 mel bins; the official code hard-wires it.
VOCODER_IN_CHANNELS = 128
STEREO_CHANNELS = 2


@dataclass(frozen=True)
class GeneratorConfig:
    """One HiFi-GAN / BigVGAN generator (the same reader serves all three generators)."""

    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    upsample_rates: tuple[int, ...] = (6, 5, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 15, 8, 4, 4)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    upsample_initial_channel: int = 1024
    resblock: str = "1"
    output_sampling_rate: int = 24000
    activation: str = "snake"
    use_tanh_at_final: bool = True
    apply_final_activation: bool = True
    use_bias_at_final: bool = True

    def __post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ConfigError(
                f"vocoder upsample_rates {list(self.upsample_rates)} and upsample_kernel_sizes "
                f"{list(self.upsample_kernel_sizes)} must have the same length"
            )
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ConfigError(
                f"vocoder resblock_kernel_sizes {list(self.resblock_kernel_sizes)} and resblock_dilation_sizes "
                f"need one entry each (got {len(self.resblock_dilation_sizes)} dilation lists)"
            )
        stages = len(self.upsample_rates)
        if self.stage_channels(stages - 1) < 1:
            raise ConfigError(
                f"vocoder upsample_initial_channel {self.upsample_initial_channel} leaves no channel after "
                f"{stages} upsampling stages (each halves it, floored); use at least {2**stages}"
            )

    def stage_channels(self, stage: int) -> int:
        """Channels after upsampling stage `stage` (0-based): U // 2^(stage+1), floored as the official generator
        does, so U need not be divisible by 2^stages (48 over 5 stages: 24, 12, 6, 3, 1)."""
        return self.upsample_initial_channel // 2 ** (stage + 1)

    @property
    def hop(self) -> int:
        """Output samples per input mel frame."""
        out = 1
        for r in self.upsample_rates:
            out *= r
        return out

    @classmethod
    def from_section(cls, s: ConfigSection, *, resblock: str, **overrides: Any) -> GeneratorConfig:
        s.expect("resblock", resblock)
        s.expect("stereo", True)
        if resblock == "AMP1":
            s.expect("activation", "snakebeta")
        values: dict[str, Any] = {
            "resblock_kernel_sizes": tuple(_ints(s, "resblock_kernel_sizes", cls.resblock_kernel_sizes)),
            "upsample_rates": tuple(_ints(s, "upsample_rates", cls.upsample_rates)),
            "upsample_kernel_sizes": tuple(_ints(s, "upsample_kernel_sizes", cls.upsample_kernel_sizes)),
            "resblock_dilation_sizes": _dilations(s),
            "upsample_initial_channel": _positive(s, "upsample_initial_channel", cls.upsample_initial_channel),
            "resblock": resblock,
            "output_sampling_rate": _positive(s, "output_sampling_rate", cls.output_sampling_rate),
            "activation": s.choice("activation", ("snake", "snakebeta"), "snake"),
            "use_tanh_at_final": bool(s.get("use_tanh_at_final", True)),
            "use_bias_at_final": bool(s.get("use_bias_at_final", True)),
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class BWEConfig:
    """Bandwidth extension: causal mel analysis of the main generator's output, then a second generator."""

    generator: GeneratorConfig
    input_sampling_rate: int = 16000
    output_sampling_rate: int = 48000
    hop_length: int = 80
    n_fft: int = 512
    num_mels: int = 64

    def __post_init__(self) -> None:
        if self.output_sampling_rate % self.input_sampling_rate:
            raise ConfigError(
                f"vocoder.bwe output_sampling_rate {self.output_sampling_rate} must be a multiple of "
                f"input_sampling_rate {self.input_sampling_rate}"
            )

    @property
    def upsample_ratio(self) -> int:
        return self.output_sampling_rate // self.input_sampling_rate


@dataclass(frozen=True)
class VocoderConfig:
    """`bwe` None → LTX-2 flat vocoder; otherwise LTX-2.3 vocoder with bandwidth extension."""

    generator: GeneratorConfig
    bwe: BWEConfig | None = None

    @property
    def output_sampling_rate(self) -> int:
        return self.bwe.output_sampling_rate if self.bwe is not None else self.generator.output_sampling_rate

    @classmethod
    def from_section(cls, section: ConfigSection) -> VocoderConfig:
        """`section` is the checkpoint config's `vocoder` section (an empty dict means official defaults)."""
        if not section.has("bwe"):
            return cls(GeneratorConfig.from_section(section, resblock="1"))
        main_s, bwe_s = section.sub("vocoder"), section.sub("bwe")
        in_rate = _positive(bwe_s, "input_sampling_rate", None)
        out_rate = _positive(bwe_s, "output_sampling_rate", None)
        main = GeneratorConfig.from_section(main_s, resblock="AMP1", output_sampling_rate=in_rate)
        bwe_gen = GeneratorConfig.from_section(
            bwe_s, resblock="AMP1", output_sampling_rate=out_rate, apply_final_activation=False
        )
        bwe = BWEConfig(
            generator=bwe_gen,
            input_sampling_rate=in_rate,
            output_sampling_rate=out_rate,
            hop_length=_positive(bwe_s, "hop_length", None),
            n_fft=_positive(bwe_s, "n_fft", None),
            num_mels=_positive(bwe_s, "num_mels", None),
        )
        return cls(main, bwe)


def _positive(s: ConfigSection, key: str, default: int | None) -> int:
    value = s.require(key) if default is None else s.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{s.source}: config value {s.section}.{key} is {value!r}; expected an integer > 0")
    return value


def _ints(s: ConfigSection, key: str, default: tuple[int, ...]) -> list[int]:
    value = s.get(key, list(default))
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError(f"{s.source}: config value {s.section}.{key} is {value!r}; expected a list of integers > 0")
    return list(value)


def _dilations(s: ConfigSection) -> tuple[tuple[int, ...], ...]:
    value = s.get("resblock_dilation_sizes", [[1, 3, 5]] * 3)
    ok = isinstance(value, (list, tuple)) and all(
        isinstance(d, (list, tuple)) and d and all(isinstance(v, int) and v > 0 for v in d) for d in value
    )
    if not ok:
        raise ConfigError(
            f"{s.source}: config value {s.section}.resblock_dilation_sizes is {value!r}; expected lists of integers"
        )
    return tuple(tuple(d) for d in value)
