"""Hyper-parameter tuning with the same budget for every arm, chosen on validation (bench/tuning/stage.py)."""
