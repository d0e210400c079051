"""Evaluation: metric modules of our own (evaluate-compatible, offline) and calibration."""
