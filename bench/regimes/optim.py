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
    ``k * len(lrs)`` gives member ``r`` its copies ``r*k .. r*k + k - 1`` (member-major).
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
            members = len(group["lrs"])
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                    state["lr"] = _per_copy(group["lrs"], param, members)  # float64, as torch's Python float
                    state["weight_decay"] = _per_copy(group["weight_decays"], param, members).to(param.dtype)
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


def _per_copy(values: torch.Tensor, param: torch.Tensor, members: int) -> torch.Tensor:
    """One value per member, repeated over that member's copies and shaped to broadcast over ``param``."""
    copies = param.shape[0]
    if copies % members:
        raise ValueError(f"a parameter of {copies} copies cannot be split between {members} members")
    shape = (copies,) + (1,) * (param.ndim - 1)
    return values.repeat_interleave(copies // members).view(shape).to(param.device)


def population_adam(groups: list[tuple[list[torch.Tensor], float]], lrs: Sequence[float],
                    weight_decays: Sequence[float]) -> torch.optim.Optimizer:
    """Adam over ``(parameters, lr multiplier)`` groups: torch's fused Adam when every member has the same
    settings (a population of seeds: the fastest, and a one-member population matches a plain run bit for
    bit), ``PopulationAdam`` when they differ."""
    if len(set(lrs)) == 1 and len(set(weight_decays)) == 1:
        return torch.optim.Adam([{"params": params, "lr": lrs[0] * scale} for params, scale in groups],
                                lr=lrs[0], weight_decay=weight_decays[0], fused=True)
    return PopulationAdam([{"params": params, "lrs": torch.tensor(lrs, dtype=torch.float64) * scale}
                           for params, scale in groups], lrs, weight_decays)
