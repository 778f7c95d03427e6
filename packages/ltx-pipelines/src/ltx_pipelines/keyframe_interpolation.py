"""Keyframe interpolation (spec 13.5): a video through several given images, with sound.

The two-stage guided flow of `ti2vid_two_stages` with one difference: EVERY image, frame 0 included, is appended
as a guiding keyframe (its own tokens at its own time position, frozen at strength 1) in both stages, and none
replaces grid tokens, so the model interpolates between the keyframes instead of pasting them in.

Run it: `python -m ltx_pipelines.keyframe_interpolation --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import ClassVar

from ltx_pipelines.ti2vid_two_stages import TWO_STAGES, TI2VidTwoStagesPipeline
from ltx_pipelines.utils.helpers import combined_image_conditionings
from ltx_pipelines.utils.two_stage import TwoStageRecipe

KEYFRAMES: TwoStageRecipe = replace(
    TWO_STAGES,
    name="the keyframe interpolation pipeline",
    conditionings=partial(combined_image_conditionings, frame_0_replaces=False),
    stage_1_audio=False,  # the official keyframe interpolation decodes stage 2's audio in 1.2.0 too
)


class KeyframeInterpolationPipeline(TI2VidTwoStagesPipeline):
    """Same constructor and call as `TI2VidTwoStagesPipeline`, running the `KEYFRAMES` recipe: every image is an
    appended guiding keyframe.

    An image's `frame_idx` is a pixel frame in [0, num_frames); its keyframe tokens get the time position of that
    frame, so any frame of the clip is valid (not only multiples of the VAE's temporal factor 8).
    """

    default_recipe: ClassVar[TwoStageRecipe] = KEYFRAMES


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("keyframe_interpolation", argv)


if __name__ == "__main__":
    main()
