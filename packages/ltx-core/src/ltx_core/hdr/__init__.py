"""Native HDR colour math (spec NP 5): transfer curves (`transfer`: ACEScct, LogC3), primaries matrices
(`primaries`: Rec.709, AP1, Rec.2020), the `--hdr` colour spaces and the VAE working space (`spaces`), and the HLG
master's signal and 10-bit Y'CbCr planes (`hlg`). Pure torch functions: no media library is needed here (the EXR and
HEVC files are `ltx_pipelines.media.exr` / `.hdr_mp4`'s). Import the submodules directly."""
