"""Pipeline utilities: constants, denoisers, sampling loops and conditioning helpers."""
