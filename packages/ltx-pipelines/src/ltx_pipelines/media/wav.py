"""Writing a sound-only result: a 16-bit PCM stereo WAV, atomically.

WAV rather than a compressed container: it is what the official text-to-audio pipeline writes (spec new_pipelines
§3 step 9), it keeps every sample the vocoder made (an AAC .m4a would re-encode them lossily, so a LoRA's effect
could not be compared sample for sample), and every audio tool reads it. The samples are converted as the MP4's
audio track is (clipped to [-1, 1], ×32767, truncated to int16: the official conversion); the file appears under
its final name only when complete (temp file + rename).
"""

from __future__ import annotations

from pathlib import Path

import av

from ltx_core.types import Audio
from ltx_pipelines.media.atomic import atomic_output, final_path
from ltx_pipelines.media.mp4 import _stereo_int16


def write_wav(output_path: str | Path, audio: Audio) -> Path:
    """`audio` as a 16-bit PCM stereo WAV at its own sampling rate (a mono waveform is duplicated to both channels).
    Any exception, Ctrl-C included, leaves no file behind; the parent folder is created when missing. Returns the
    final path."""
    stereo = _stereo_int16(audio.waveform)
    with atomic_output(output_path, ".wav") as temp, av.open(str(temp), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=audio.sampling_rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(stereo.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = audio.sampling_rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return final_path(output_path)
