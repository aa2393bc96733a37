"""Transferability diagnostics: why a pretrained trunk helps or hurts a target (issue 11).

``bench.regimes.transfer.member_diagnostics`` computes them for every transfer record (``fit.diagnostics``).

Three converged linear probes (``bench/regimes/probe.py``, strength chosen on the target's validation split)
score the target's test split on three representations of its images: the **pretrained** trunk's features,
the features of the **random** trunk of the same architecture that STL starts from (the member's seed), and
the **raw** inputs. A source helps the probe when its features beat both; features that fall below the random
trunk's have lost information the target needs. Two statistics of the target's test features say how:
the **effective rank** (RankMe, Garrido et al. 2023, after Roy & Vetterli 2007: the exponential of the
entropy of the normalised singular values of the uncentred feature matrix; ``d`` for ``d`` equal singular
values) and the fraction of **dead units** (zero on every target image). No choice reads these numbers.
"""

from __future__ import annotations

import torch


def effective_rank(features: torch.Tensor) -> float:
    """``exp(-sum p_k log p_k)`` with ``p = s / sum(s)`` over the singular values ``s`` of ``features [n, d]``."""
    singular = torch.linalg.svdvals(features.double())
    if float(singular.sum()) == 0.0:
        return 0.0
    p = singular / singular.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def dead_fraction(features: torch.Tensor) -> float:
    """The fraction of units (columns of ``features [n, d]``) that are zero on every row."""
    return float((features == 0).all(0).double().mean())
