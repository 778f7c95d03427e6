"""Writing a sound-only result: a 16-bit PCM stereo WAV, atomically.

WAV rather than a compressed container: it is what the official text-to-audio pipeline writes (spec new_pipelines
§3 step 9), it keeps every sample the vocoder made (an AAC .m4a would re-encode them lossily, so a LoRA's effect
could not be compared sample for sample), and every audio tool reads it. The samples are converted as the MP4's
audio track is (clipped to [-1, 1], ×32767, truncated to int16: the official conversion); the file appears under
its final name only when complete (temp file + rename).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import av

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.media._errors import first_line
from ltx_pipelines.media.mp4 import _stereo_int16, _umask_mode


def write_wav(output_path: str | Path, audio: Audio) -> Path:
    """`audio` as a 16-bit PCM stereo WAV at its own sampling rate (a mono waveform is duplicated to both channels).
    Any exception, Ctrl-C included, leaves no file behind; the parent folder is created when missing. Returns the
    final path."""
    stereo = _stereo_int16(audio.waveform)
    final = Path(output_path).expanduser().resolve()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".partial.wav", dir=final.parent)
    except OSError as exc:
        raise InputError(f"cannot write {str(final)!r}: {exc.strerror or first_line(exc)}") from exc
    os.close(fd)
    temp = Path(temp_name)
    try:
        with av.open(str(temp), "w", format="wav") as container:
            stream = container.add_stream("pcm_s16le", rate=audio.sampling_rate, layout="stereo")
            frame = av.AudioFrame.from_ndarray(stereo.reshape(1, -1), format="s16", layout="stereo")
            frame.sample_rate = audio.sampling_rate
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
        os.chmod(temp, _umask_mode())  # mkstemp makes the file 0600; a finished file follows the umask
        os.replace(temp, final)
    except OSError as exc:  # disk full, folder removed or made read-only meanwhile (PyAV's errors are OSErrors)
        temp.unlink(missing_ok=True)
        raise InputError(f"cannot write {str(final)!r}: {first_line(exc)}") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final
