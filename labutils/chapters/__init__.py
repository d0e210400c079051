"""Helpers that belong to one lesson each (the module docstring names the notebook)."""
