"""MTL weighting methods: how one step's per-task losses become the gradients of a population's parameters.

A method is a small object with ``backward(module, losses)``: ``losses`` is ``[R, T]`` (member x task, zero
for slots that no longer train) and the method leaves the gradients in the parameters' ``.grad``, as
``loss.backward()`` would. Members share no parameter, so a method that needs per-task gradients gets each
member's from one backward pass per task over the whole population (``bench.weighting.base``). Chosen with
``weighting=NAME`` (conf/weighting/); each class names its paper and the conventions it picks.
"""

from __future__ import annotations

from bench.weighting.base import GradientWeighting, LossWeighting, Weighting
from bench.weighting.gradient_based import (
    DBMTL,
    IMTL,
    MGDA,
    AlignedMTL,
    CAGrad,
    GradNorm,
    GradVac,
    NashMTL,
    PCGrad,
    UPGrad,
)
from bench.weighting.loss_based import (
    FAMO,
    IMTLL,
    DynamicWeightAverage,
    EqualWeights,
    GeometricMean,
    MeanWeights,
    RandomLossWeighting,
    StaticWeights,
    UncertaintyWeighting,
)

__all__ = [
    "DBMTL", "FAMO", "IMTL", "IMTLL", "MGDA", "AlignedMTL", "CAGrad", "DynamicWeightAverage", "EqualWeights",
    "GeometricMean", "GradNorm", "GradVac", "GradientWeighting", "LossWeighting", "MeanWeights", "NashMTL",
    "PCGrad", "RandomLossWeighting", "StaticWeights", "UPGrad", "UncertaintyWeighting", "Weighting",
]
