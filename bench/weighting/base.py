"""The two shapes of a weighting method, and what they share.

A **loss weighting** maps the ``[R, T]`` per-task losses (and its own state) to the objective each member
minimises; one ``backward`` gives every parameter its gradient, so it costs what the plain sum costs.

A **gradient weighting** needs each member's per-task gradients of the shared parameters: one backward
pass per task over the whole population gives every member's ``T x P`` matrix ``J`` (members share no
parameter). Per member, the method returns the update of the shared parameters and the weights it used,
usually ``w = f(J Jᵀ)`` and the update ``wᵀ J`` (torchjd's ``GramianWeightedAggregator``). Heads are
task-specific: each gets the gradient of its own task's loss, as in LibMTL's gradient-surgery methods and
torchjd's ``mtl_backward``. (LibMTL's Nash-MTL, FairGrad and ExcessMTL back-propagate the weighted loss, so
their heads' gradients carry the task's weight; Adam normalises each parameter's step, so such a factor
changes a head's step only as far as it varies between steps or meets Adam's epsilon.)

A method that solves a problem each step (``solves = True``) counts, per member, the steps whose solver
missed its stated tolerance; the run's record carries the count (``fit.unconverged_steps``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Weighting(nn.Module):
    """A method: ``backward(module, losses)`` leaves in ``.grad`` what ``loss.backward()`` would.

    An ``nn.Module``, so that a method with learnable parameters (uncertainty weighting's log-variances,
    leading dimension R) becomes part of the population module and is optimised, selected and cleared
    with its member. ``setup`` is called once per population, before training.
    """

    name = "weighting"

    def __init__(self) -> None:  # explicit, so that a misspelt ``+weighting.key`` is rejected by name
        super().__init__()

    def setup(self, members: list, tasks: int) -> None:
        """Allocate per-member state for ``members`` (their seeds make random methods reproducible)."""
        self.n_members, self.n_tasks = len(members), tasks
        self.seeds = [member.seed for member in members]

    def backward(self, module, losses: torch.Tensor) -> None:
        raise NotImplementedError

    def fit_info(self, member: int) -> dict:
        """What the run's record keeps of this method's fit (``fit``): nothing, unless it solves a problem."""
        return {}


class LossWeighting(Weighting):
    """A method that needs only the losses: ``combine`` returns terms whose sum is the objective."""

    def backward(self, module, losses: torch.Tensor) -> None:
        self.combine(losses, active_members(module, losses)).sum().backward()

    def combine(self, losses: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class GradientWeighting(Weighting):
    """A method on each member's per-task gradients of the shared parameters (``aggregate``)."""

    solves = False  # whether each step solves a problem to a tolerance (then misses are counted)

    def setup(self, members: list, tasks: int) -> None:
        super().setup(members, tasks)
        self.weights = torch.zeros(len(members), tasks)  # the weights of the last step, per member
        self.unconverged = [0] * len(members)

    def fit_info(self, member: int) -> dict:
        return {"unconverged_steps": self.unconverged[member]} if self.solves else {}

    def solved(self, member: int, solution) -> np.ndarray:
        """A solver's weights, counting the step as unconverged when it missed its tolerance."""
        self.unconverged[member] += not solution.converged
        return solution.weights

    def objective(self, losses: torch.Tensor) -> torch.Tensor:
        """The per-task objectives that are differentiated (the losses; DB-MTL takes their logarithm)."""
        return losses

    def backward(self, module, losses: torch.Tensor) -> None:
        objectives = self.objective(losses)
        shared = [p for p in module.backbone.parameters() if p.requires_grad]
        jacobians = task_jacobians(objectives, shared)
        updates = torch.zeros_like(jacobians[:, 0])
        detached = losses.detach()
        for r in active_members(module, losses).nonzero().flatten().tolist():
            updates[r], weights = self.aggregate(r, jacobians[r], detached[r])
            self.weights[r] = weights.to(self.weights)
        write_gradients(shared, updates)
        others = [p for name, p in module.named_parameters() if p.requires_grad and not name.startswith("backbone.")]
        objectives.sum().backward(inputs=others)

    def aggregate(self, member: int, jacobian: torch.Tensor, losses: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Member ``member``'s update ``[P]`` of the shared parameters from its ``[T, P]`` task gradients,
        and the ``[T]`` weights it used: by default ``w = self.weigh(member, J Jᵀ, losses)``, ``wᵀ J``."""
        exact = jacobian.double()
        gramian = (exact @ exact.T).cpu().numpy()  # T x T in float64: solvers (quadprog, scipy) run on the CPU
        # Every task gradient zero, or one not finite (the member is diverging: its loss says so at the next
        # check, and a solver would fail the whole population on it): no direction to weigh.
        if not (np.isfinite(gramian).all() and np.trace(gramian) > 0):
            return torch.zeros_like(jacobian[0]), torch.zeros(len(gramian), dtype=torch.float64)
        weights = torch.from_numpy(np.asarray(self.weigh(member, gramian, losses.double().cpu().numpy())))
        return weights.to(jacobian) @ jacobian, weights

    def weigh(self, member: int, gramian: np.ndarray, losses: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def active_members(module, losses: torch.Tensor) -> torch.Tensor:
    """``[R]`` bool: members still training (stopped and failed ones have zero losses and must stay out)."""
    slots = getattr(module, "slots", None)
    if slots is None:
        return torch.ones(losses.shape[0], dtype=torch.bool, device=losses.device)
    active = torch.zeros(losses.shape[0], dtype=torch.bool, device=losses.device)
    active[slots.members] = True
    return active


def task_jacobians(objectives: torch.Tensor, shared: list[torch.Tensor]) -> torch.Tensor:
    """``[R, T, P]``: every member's per-task gradients of the shared parameters (leading dim R each), one
    backward pass per task over the whole population."""
    rows = []
    for t in range(objectives.shape[1]):
        grads = torch.autograd.grad(objectives[:, t].sum(), shared, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).flatten(1)
                               for g, p in zip(grads, shared, strict=True)], dim=1))
    return torch.stack(rows, dim=1)


def write_gradients(shared: list[torch.Tensor], updates: torch.Tensor) -> None:
    """Store ``[R, P]`` updates in the ``.grad`` of the shared parameters, as a backward pass would."""
    offset = 0
    for param in shared:
        size = param[0].numel()
        # contiguous: torch's fused Adam reads a strided gradient as if it were dense (members past the first
        # would get other members' columns)
        grad = updates[:, offset:offset + size].reshape(param.shape).contiguous()
        param.grad = grad if param.grad is None else param.grad + grad
        offset += size


def member_generator(seed: int, salt: int) -> torch.Generator:
    """A CPU generator for a member's random draws: from its seed alone, so it is the same in any population."""
    return torch.Generator().manual_seed(seed * 1_000_003 + salt)
