"""Plots (plotly), the interactive-view machinery, token and attention views."""
