"""Adam for a population: every parameter carries a leading copy dimension, members own blocks of copies.

``torch.optim.Adam`` takes one learning rate (a one-element tensor at most) per parameter group, and a
population's parameters mix members. ``PopulationAdam`` applies each member's own learning rate and weight
decay to its block of every parameter, with the arithmetic of ``torch.optim.Adam`` (single-tensor path),
so each member moves exactly as it would under its own ``torch.optim.Adam``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class PopulationAdam(torch.optim.Optimizer):
    """Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient, as ``torch.optim.Adam``.

    ``lrs`` and ``weight_decays`` hold one value per member; a parameter whose leading dimension is
    ``k * len(lrs)`` gives member ``r`` its copies ``r*k .. r*k + k - 1`` (member-major). A parameter group
    may carry its own ``lrs`` and ``weight_decays``, one per member or one per copy (``k = 1``: STL's copies
    tuned per task).
    """

    def __init__(self, params, lrs: Sequence[float], weight_decays: Sequence[float],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if len(lrs) != len(weight_decays) or not lrs:
            raise ValueError(f"PopulationAdam: one lr and one weight decay per member, got {lrs}, {weight_decays}")
        if min(lrs) < 0 or min(weight_decays) < 0:
            raise ValueError(f"PopulationAdam: lrs and weight decays must be >= 0, got {lrs}, {weight_decays}")
        defaults = dict(lrs=torch.tensor(lrs, dtype=torch.float64),
                        weight_decays=torch.tensor(weight_decays, dtype=torch.float64), betas=betas, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                    state["lr"] = _per_copy(group["lrs"], param)  # float64, as torch's Python float
                    state["weight_decay"] = _per_copy(group["weight_decays"], param).to(param.dtype)
                state["step"] += 1
                step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
                grad = param.grad.addcmul(param, state["weight_decay"])
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1, bias_correction2 = 1 - beta1 ** step, 1 - beta2 ** step
                denom = (exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(group["eps"])
                step_size = (state["lr"] / bias_correction1).to(param.dtype)
                param.sub_(step_size * exp_avg / denom)
        return loss


def _per_copy(values: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """One value per member (or per copy), repeated over that member's copies and shaped to broadcast over
    ``param``."""
    copies, members = param.shape[0], len(values)
    if copies % members:
        raise ValueError(f"a parameter of {copies} copies cannot be split between {members} members")
    shape = (copies,) + (1,) * (param.ndim - 1)
    return values.repeat_interleave(copies // members).view(shape).to(param.device)


def population_adam(groups: list[tuple[list[torch.Tensor], Sequence[float], Sequence[float]]]) -> torch.optim.Optimizer:
    """Adam over ``(parameters, lrs, weight decays)`` groups, one value per member or per copy of the group's
    parameters: torch's fused Adam when each group's values are all equal (a population of seeds: the fastest,
    and a one-member population matches a plain run bit for bit), ``PopulationAdam`` when they differ."""
    if all(len(set(lrs)) == 1 and len(set(decays)) == 1 for _, lrs, decays in groups):
        return torch.optim.Adam([{"params": params, "lr": lrs[0], "weight_decay": decays[0]}
                                 for params, lrs, decays in groups], fused=True)
    return PopulationAdam([{"params": params, "lrs": torch.tensor(lrs, dtype=torch.float64),
                            "weight_decays": torch.tensor(decays, dtype=torch.float64)}
                           for params, lrs, decays in groups], groups[0][1], groups[0][2])
