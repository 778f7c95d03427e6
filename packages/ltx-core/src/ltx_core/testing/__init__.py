"""Helpers shared by tests, scripts and the demo: golden fixtures and the tiny-checkpoint factory."""
