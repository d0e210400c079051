"""Core: environment and hardware, run profiles, recorded results, errors, atomic writes. No torch at import time."""
