"""The LTX-2 / LTX-2.3 audio-video diffusion transformer."""

from ltx_core.model.transformer.modality import Modality

__all__ = ["Modality"]
