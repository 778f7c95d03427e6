"""Error types with one-line, user-facing messages.

Everything the CLI reports without a traceback derives from `LTXError`: the message alone must tell the user
what was wrong and, where possible, what would be valid.
"""


class LTXError(Exception):
    """Base of all errors that carry a user-facing one-line message."""


class CheckpointError(LTXError, ValueError):
    """A checkpoint (or LoRA / upsampler) file is missing, unreadable, or does not fit the model asked for."""


class ConfigError(CheckpointError):
    """A checkpoint's metadata config lacks a required value or holds one we do not support."""


class LoraError(CheckpointError):
    """A LoRA file does not fit the model it is applied to."""


class InputError(LTXError, ValueError):
    """An invalid user input (size, frame count, media file, option value)."""


class FailedElsewhere(LTXError):
    """Raised on the other processes of a generation when its main process failed at a step it runs alone (the
    text encoder, writing the file): they leave the step in agreement with it instead of waiting in a collective.
    The main process reports its own error; this one needs no second report."""


class LostProcessError(LTXError):
    """Another process of a several-process run stopped answering: stopped (SIGSTOP), killed, hung in an exchange,
    or its machine unreachable. `ranks`: the global ranks found silent (empty when none could be named)."""

    def __init__(self, message: str, ranks: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.ranks = ranks
