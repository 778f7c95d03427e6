"""ltx-core must stay usable without the pipelines' CLI and media dependencies."""

import subprocess
import sys

_PROBE = """
import sys
import ltx_core.loader, ltx_core.model.transformer.loading, ltx_core.model.video_vae, ltx_core.model.audio_vae
import ltx_core.model.upsampler, ltx_core.text_encoders.gemma, ltx_core.components.guiders, ltx_core.types
bad = sorted(m for m in ("typer", "rich", "av", "PIL", "ltx_pipelines") if m in sys.modules)
print(",".join(bad))
"""


def test_ltx_core_imports_without_cli_or_media_modules():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"ltx_core pulled in: {out}"
