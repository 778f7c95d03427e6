"""The error conditioning items raise for inputs that do not fit the generated latent."""

from ltx_core.errors import InputError


class ConditioningError(InputError):
    """A conditioning input (image / video / audio latent) does not fit the target latent."""
