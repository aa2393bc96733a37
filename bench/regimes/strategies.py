"""Adaptation strategies: how a pretrained trunk is adapted to the target task, one small class each.

Every strategy receives the target's ``PopulationModule`` (the pretrained backbone, a fresh head per
member) and the shared ``Training``; it may freeze parameters, add per-member penalties to the loss
(``module.penalties``) or fit the head in closed form, and returns each member's fit and what its record
says about the adaptation. The budget rule is the same for all (``bench/report/protocol.py``): at most one
stage of ``trainer.max_steps`` optimisation steps on the target; a closed-form probe costs no step.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import torch
from torch import nn

from bench.regimes.module import PopulationModule
from bench.regimes.population import MemberFit
from bench.regimes.probe import fit_probe
from bench.regimes.training import Training

Adapted = tuple[list[MemberFit], list[dict[str, Any]]]


class FullFineTune:
    """Fine-tune trunk and head on the target from the pretrained weights (the usual baseline)."""

    name = "full"
    trains_trunk = True

    def prepare(self, module: PopulationModule) -> None:
        """What the strategy changes before the optimiser is built (nothing: train everything)."""

    def adapt(self, module: PopulationModule, training: Training) -> Adapted:
        self.prepare(module)
        fits = training.fit(module)
        return fits, [fit.info() for fit in fits]


class LinearProbe:
    """Frozen trunk, a new linear head fit to convergence on its features (``bench/regimes/probe.py``):
    ridge or logistic regression, its strength chosen on the target's validation split. No SGD step."""

    name = "linear_probe"
    trains_trunk = False

    def adapt(self, module: PopulationModule, training: Training) -> Adapted:
        module.to(training.device)
        start = time.perf_counter()
        chosen = probe_heads(module)
        seconds = round(time.perf_counter() - start, 3)
        fits = [MemberFit(steps=0, selected_steps=[0], error="failed before this stage" if failed else None)
                for failed in module.initially_failed.tolist()]
        return fits, [{"steps": 0, "probe": c, "stage_seconds": seconds, "population_size": module.n_members}
                      for c in chosen]


class LinearProbeThenFineTune(FullFineTune):
    """LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features"): fit the linear probe first,
    then fine-tune everything from the probed head, so that a random head does not distort the features
    early in fine-tuning. The fine-tuning stage gets the whole target budget (the probe costs no step)."""

    name = "lp_ft"

    def prepare(self, module: PopulationModule) -> None:
        # The divergence watch compares every step's loss with the first step's. A probe that interpolates a
        # few target rows starts fine-tuning at a training loss near 0, so that any later loss would read as
        # divergence: compare with the untrained head's training loss instead, the reference of `full`.
        untrained = torch.tensor([sum(losses) for losses in module.losses("train")], device=module.device)
        self.probed = probe_heads(module)
        module.watch.first_loss = untrained

    def adapt(self, module: PopulationModule, training: Training) -> Adapted:
        module.to(training.device)
        fits, infos = super().adapt(module, training)
        return fits, [{**info, "probe": chosen} for info, chosen in zip(infos, self.probed, strict=True)]


class L2SP(FullFineTune):
    """L2-SP (Li, Grandvalet & Davoine 2018, "Explicit Inductive Bias for Transfer Learning"): fine-tune
    everything with ``trunk/2 * ||w - w_pretrained||^2`` on the trunk and ``head/2 * ||w||^2`` on the new head
    added to each member's loss. Defaults are TLlib's (``trade-off-backbone`` = ``trade-off-head`` = 0.01).
    At strength 0 it is full fine-tuning, bit for bit."""

    name = "l2_sp"

    def __init__(self, trunk: float = 0.01, head: float = 0.01) -> None:
        for key, value in (("trunk", trunk), ("head", head)):
            _check_number(key, value, minimum=0.0)
        self.trunk, self.head = float(trunk), float(head)

    def prepare(self, module: PopulationModule) -> None:
        start = [p.detach().clone() for p in module.backbone.parameters()]
        members = module.n_members

        def penalty(module: PopulationModule) -> torch.Tensor:
            trunk = sum(_member_sq(p - p0, members) for p, p0 in zip(module.backbone.parameters(), start, strict=True))
            head = sum(_member_sq(p, members) for p in module.heads.parameters())
            return 0.5 * self.trunk * trunk + 0.5 * self.head * head

        module.penalties.append(penalty)


class PartialFineTune(FullFineTune):
    """Freeze the first ``frozen_layers`` trunk layers and fine-tune the rest (Yosinski et al. 2014, "How
    transferable are features in deep neural networks?": early layers are the general ones)."""

    name = "partial"

    def __init__(self, frozen_layers: int = 1) -> None:
        if isinstance(frozen_layers, bool) or not isinstance(frozen_layers, int) or frozen_layers < 0:
            raise ValueError(f"regime.frozen_layers={frozen_layers!r} is invalid, expected an integer >= 0")
        self.frozen_layers = frozen_layers

    def prepare(self, module: PopulationModule) -> None:
        layers = module.backbone.trunk_layers()
        if self.frozen_layers > len(layers):
            raise ValueError(f"regime.frozen_layers={self.frozen_layers} is invalid, the backbone has "
                             f"{len(layers)} trunk layers")
        for layer in layers[:self.frozen_layers]:
            layer.requires_grad_(False)


class BatchSpectralShrinkage(FullFineTune):
    """BSS (Chen et al. 2019, "Catastrophic Forgetting Meets Negative Transfer"): fine-tune everything with
    ``strength * sum of the k smallest squared singular values`` of each member's batch feature matrix
    ``[batch, width]`` added to its loss, which shrinks the feature directions that transfer least.
    Defaults are the paper's and TLlib's (``k=1``, ``trade-off`` 0.001)."""

    name = "bss"

    def __init__(self, strength: float = 0.001, k: int = 1) -> None:
        _check_number("strength", strength, minimum=0.0)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"regime.k={k!r} is invalid, expected an integer >= 1")
        self.strength, self.k = float(strength), k

    def prepare(self, module: PopulationModule) -> None:
        inputs: dict[str, tuple] = {}

        def keep_inputs(backbone: nn.Module, args: tuple) -> None:
            if torch.is_grad_enabled():  # the training step's forward, not validation's
                inputs["last"] = args

        def penalty(module: PopulationModule) -> torch.Tensor:
            # The step's loss has already been backpropagated (its graph is freed), so the batch's
            # features are computed again from the same inputs and weights: the same values and gradient.
            features = module.backbone(*inputs.pop("last"))  # [active members, batch, width]
            smallest = torch.linalg.svdvals(features)[:, -self.k:]
            shrink = self.strength * smallest.square().sum(1)
            if module.slots is None:
                return shrink
            return shrink.new_zeros(module.n_members).index_add(0, module.slots.members, shrink)

        module.backbone.register_forward_pre_hook(keep_inputs)
        module.penalties.append(penalty)


STRATEGIES: dict[str, type] = {s.name: s for s in (FullFineTune, LinearProbe, LinearProbeThenFineTune, L2SP,
                                                    PartialFineTune, BatchSpectralShrinkage)}


def make_strategy(name: str, options: dict[str, Any]) -> FullFineTune | LinearProbe:
    """The strategy ``name`` with its hyper-parameters (``regime.<option>``), each checked by name."""
    if name not in STRATEGIES:
        raise ValueError(f"regime.strategy={name!r} is invalid, expected one of {tuple(STRATEGIES)}")
    kind = STRATEGIES[name]
    accepted = set(inspect.signature(kind).parameters)
    for key in options:
        if key not in accepted:
            raise ValueError(f"regime.{key} is not an option of regime.strategy={name!r}, which takes "
                             f"{sorted(accepted) or 'none'}")
    return kind(**options)


@torch.no_grad()
def probe_heads(module: PopulationModule) -> list[dict[str, Any]]:
    """Fit every member's target head as a converged linear probe on its frozen features, in place."""
    head, splits = module.heads[0], [module.split_data(split, 0) for split in ("train", "val")]
    features = [module.backbone(stacked) for stacked, _, _ in splits]
    chosen = []
    for r in range(module.n_members):
        if bool(module.initially_failed[r]):
            chosen.append({})
            continue
        train, val = ((f[r, :sizes[r]], labels[r]) for f, (_, sizes, labels) in zip(features, splits, strict=True))
        weight, bias, strength = fit_probe(module.task_sets[r][0], train, val)
        head.weight[r] = weight.to(head.weight)
        head.bias[r] = bias.to(head.bias)
        chosen.append(strength)
    return chosen


def _member_sq(delta: torch.Tensor, members: int) -> torch.Tensor:
    """Each member's sum of squares of a parameter whose leading copies are member-major: ``[members]``."""
    return delta.square().reshape(members, -1).sum(1)


def _check_number(key: str, value: Any, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ValueError(f"regime.{key}={value!r} is invalid, expected a number >= {minimum:g}")
