"""The LTX-2.5 diffusion video decoder ("CausalDiffusionVAE"): neighbourhood-attention upsampling and a short
diffusion loop over pixels, with the official chunked / combined pathways, tiling and exact attention backends."""
