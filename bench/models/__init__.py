"""Backbones shared by every regime, so that comparisons are between regimes, not architectures."""

from bench.models.backbones import MLPBackbone

__all__ = ["MLPBackbone"]
