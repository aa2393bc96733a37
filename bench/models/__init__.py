"""Backbones shared by every regime, so that comparisons are between regimes, not architectures."""

from bench.models.backbones import MLPBackbone
from bench.models.cnn import CNNBackbone

__all__ = ["CNNBackbone", "MLPBackbone"]
