"""Reading a component's section of a checkpoint config with one-line errors that name key, value and file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError

_MISSING = object()


@dataclass(frozen=True)
class ConfigSection:
    """A dict view over `config[section]` that knows where it came from, for error messages."""

    data: dict[str, Any]
    section: str
    source: Path | str = "<config>"

    @classmethod
    def of(cls, config: dict[str, Any], section: str | None, source: Path | str = "<config>") -> ConfigSection:
        if section is None:
            return cls(config, "", source)
        data = config.get(section)
        if data is None:
            raise ConfigError(f"{source}: checkpoint config has no '{section}' section (is this the right file?)")
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: config section '{section}' is not a JSON object")
        return cls(data, section, source)

    def _name(self, key: str) -> str:
        return f"{self.section}.{key}" if self.section else key

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.data:
            raise ConfigError(f"{self.source}: config value {self._name(key)} is missing")
        return self.data[key]

    def expect(self, key: str, expected: Any) -> None:
        """The official configurators insist on some fixed values; absence counts as a mismatch."""
        value = self.data.get(key, _MISSING)
        if value is _MISSING and expected is not None:
            raise ConfigError(f"{self.source}: config value {self._name(key)} is missing (expected {expected!r})")
        if value is not _MISSING and value != expected:
            raise ConfigError(
                f"{self.source}: config value {self._name(key)} is {value!r}, expected {expected!r} (unsupported)"
            )

    def choice(self, key: str, allowed: Iterable[Any], default: Any = _MISSING) -> Any:
        allowed = list(allowed)
        if key not in self.data and default is not _MISSING:
            return default
        value = self.require(key)
        if value not in allowed:
            raise ConfigError(
                f"{self.source}: config value {self._name(key)} is {value!r}; supported: "
                + ", ".join(repr(a) for a in allowed)
            )
        return value

    def sub(self, key: str) -> ConfigSection:
        """A nested section (e.g. `audio_vae.model.params.ddconfig` via repeated `sub`)."""
        data = self.require(key)
        if not isinstance(data, dict):
            raise ConfigError(f"{self.source}: config value {self._name(key)} is not a JSON object")
        return ConfigSection(data, self._name(key), self.source)
