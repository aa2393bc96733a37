"""MTL weighting methods: how one step's per-task losses become the gradients of a population's parameters.

A method is a small object with ``backward(module, losses)``: ``losses`` is ``[R, T]`` (member x task, zero
for slots that no longer train) and the method leaves the gradients in the parameters' ``.grad``, as
``loss.backward()`` would. Members share no parameter, so a method that needs per-task gradients gets each
member's from one backward pass per task over the whole population (``bench.weighting.base``). Chosen with
``weighting=NAME`` (conf/weighting/); each class names its paper and the conventions it picks, and each
gradient weighting is tested against an exact reference (tests/test_weighting_reference.py).

- ``loss_based``: functions of the losses (one backward pass a step).
- ``gradient_based``: a problem on the task gradients, solved to a stated tolerance (``solvers``).
- ``surgery``: per-pair corrections in random orders, sign dropout.
- ``stateful``: learned or tracked weights and running gradients.
"""

from __future__ import annotations

from bench.weighting.base import GradientWeighting, LossWeighting, Weighting
from bench.weighting.gradient_based import IMTL, MGDA, AlignedMTL, CAGrad, FairGrad, NashMTL, UPGrad
from bench.weighting.loss_based import (
    FAMO,
    IMTLL,
    DynamicWeightAverage,
    EqualWeights,
    GeometricMean,
    MeanWeights,
    RandomLossWeighting,
    SmoothTchebycheff,
    StaticWeights,
    UncertaintyWeighting,
)
from bench.weighting.stateful import DBMTL, ExcessMTL, GradNorm, MoCo, MoDo, SDMGrad
from bench.weighting.surgery import GradDrop, GradVac, PCGrad

__all__ = [
    "DBMTL", "FAMO", "IMTL", "IMTLL", "MGDA", "AlignedMTL", "CAGrad", "DynamicWeightAverage", "EqualWeights",
    "ExcessMTL", "FairGrad", "GeometricMean", "GradDrop", "GradNorm", "GradVac", "GradientWeighting",
    "LossWeighting", "MeanWeights", "MoCo", "MoDo", "NashMTL", "PCGrad", "RandomLossWeighting", "SDMGrad",
    "SmoothTchebycheff", "StaticWeights", "UPGrad", "UncertaintyWeighting", "Weighting",
]
