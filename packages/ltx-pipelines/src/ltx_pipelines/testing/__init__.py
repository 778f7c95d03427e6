"""Helpers for the golden end-to-end parity tests of the pipelines (no import-time work, no test framework needed)."""
