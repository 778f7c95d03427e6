"""Text encoders: Gemma 3 → LTX cross-attention contexts."""
