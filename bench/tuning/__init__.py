"""Hyper-parameter tuning: every arm covers one grid, chosen on validation per tuning-seed set (stage.py)."""
