"""Backbones shared by every regime, so that comparisons are between regimes, not architectures: hard
sharing (MLP, CNN) and soft sharing (MMoE, cross-stitch), each with its single-task counterpart."""

from bench.models.backbones import MLPBackbone
from bench.models.cnn import CNNBackbone
from bench.models.cross_stitch import CrossStitch
from bench.models.mmoe import MMoE

__all__ = ["CNNBackbone", "CrossStitch", "MLPBackbone", "MMoE"]
