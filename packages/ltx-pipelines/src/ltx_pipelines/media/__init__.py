"""Media I/O for the pipelines: images, videos and audio in; H.264/AAC MP4 out (PyAV + Pillow + torch).

Import the submodules directly (`ltx_pipelines.media.image`, `.video`, `.audio`, `.mp4`); this package file stays
empty so that importing one of them does not pull in the others.
"""
