"""LTX-2 core: models, checkpoint loading and diffusion components."""
