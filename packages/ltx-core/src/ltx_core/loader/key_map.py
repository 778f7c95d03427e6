"""Key maps: which checkpoint tensors belong to a component, and what they are called inside it.

A map keeps a source key when it starts with one of `prefixes` (and ends with one of `suffixes`, if given) and
does not start with one of `exclude` (keys of the same prefix that belong to another component, or rows the
released files carry but no module uses). Kept keys first lose a leading `strip` prefix (exactly once: LTX-2.3
vocoder keys are `vocoder.vocoder.*`), then are renamed by the `replacements`, applied in order, each replacing
every occurrence (the official SDOps semantics). `ops` may then rewrite a (key, tensor) pair, e.g. to
down-cast a weight for fp8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import torch

KeyOp = Callable[[str, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class KeyMap:
    name: str
    prefixes: tuple[str, ...] = ("",)
    suffixes: tuple[str, ...] = ("",)
    exclude: tuple[str, ...] = ()
    strip: str = ""
    replacements: tuple[tuple[str, str], ...] = ()
    # (renamed-key prefix, renamed-key suffix, op): the first matching op is applied to the tensor.
    ops: tuple[tuple[str, str, KeyOp], ...] = field(default=())

    def rename(self, key: str) -> str | None:
        """The component-side name of a checkpoint key, or None when the key is not this component's."""
        if not any(key.startswith(p) for p in self.prefixes):
            return None
        if not any(key.endswith(s) for s in self.suffixes):
            return None
        if any(key.startswith(e) for e in self.exclude):
            return None
        if self.strip and key.startswith(self.strip):
            key = key[len(self.strip) :]
        for old, new in self.replacements:
            if old in key:
                key = key.replace(old, new)
        return key

    def select(self, keys: Iterable[str]) -> dict[str, str]:
        """Map renamed key → source key for every key this map keeps."""
        out: dict[str, str] = {}
        for k in keys:
            r = self.rename(k)
            if r is not None:
                out[r] = k
        return out

    def apply_ops(self, key: str, tensor: torch.Tensor) -> torch.Tensor:
        for prefix, suffix, op in self.ops:
            if key.startswith(prefix) and key.endswith(suffix):
                return op(key, tensor)
        return tensor

    def chain(self, other: KeyMap) -> KeyMap:
        """This map's selection and renaming followed by `other`'s replacements and ops."""
        return replace(
            self,
            name=f"{self.name}+{other.name}",
            replacements=self.replacements + other.replacements,
            ops=self.ops + other.ops,
        )


def strip_prefix_map(name: str, prefix: str, exclude: tuple[str, ...] = ()) -> KeyMap:
    """The common case: keep `prefix*` keys and strip the leading prefix once."""
    return KeyMap(name=name, prefixes=(prefix,), exclude=exclude, strip=prefix)
