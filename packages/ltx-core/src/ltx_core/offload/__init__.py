"""Where the weights live while a model runs (the `--offload` flag): the automatic choice (`policy`), the
transformer resident or streamed block by block from RAM or disk (`streaming`), and Gemma's decoder layers uploaded
one at a time (`gemma_layers`). Import from the submodules; this file does no work."""
