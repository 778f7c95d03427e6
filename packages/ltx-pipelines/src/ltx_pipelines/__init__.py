"""LTX-2 pipelines. Pipeline modules are imported on demand (python -m ltx_pipelines.<name>)."""
