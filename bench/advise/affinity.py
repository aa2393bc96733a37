"""One short run of a small shared MLP: the tasks' gradient affinity and a transfer proxy from its trunk.

The trunk (the suite's default MLP shape: two ReLU layers of 64) learns from the sources only; every task has
its own linear head, the target's trained on the trunk's features without moving it. Along the run, at a few
checkpoints, each task's gradient of its loss with respect to the trunk is taken and the cosines between tasks
are averaged: the gradient-affinity idea of Yu et al. 2020 (PCGrad) and Fifty et al. 2021 (TAG), at a
fraction of a training run's cost. At the end, LogME (bench/advise/logme.py) of the trained trunk's features
on the target, minus that of the trunk at its initialisation, says whether what the sources taught it helps
a linear model of the target: the proxy of pretraining's value.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from bench.advise.logme import logme
from bench.advise.rows import TrainingRows

STEPS = 100
CHECKPOINTS = (0, 25, 50, 75, 99)
WIDTH = 64
BATCH = 32
LR = 3e-3


def _loss(task: TrainingRows, output: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    if task.kind == "classification":
        return F.cross_entropy(output, torch.as_tensor(task.labels[rows]))
    return F.mse_loss(output, torch.as_tensor(task.y[rows], dtype=torch.float32))


def _cosines(gradients: torch.Tensor) -> np.ndarray:
    unit = gradients / gradients.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (unit @ unit.T).numpy()


def short_run(tasks: list[TrainingRows], seed: int) -> dict[str, float]:
    """``grad_cosine`` (mean over task pairs), ``grad_cosine_target`` (target against each source), ``logme_gain``
    (target, trained trunk minus initial trunk) and ``step_ms`` (one step over every task, in milliseconds)."""
    torch.manual_seed(seed)
    generator = np.random.default_rng([seed, 17])
    inputs = [torch.as_tensor(task.x, dtype=torch.float32) for task in tasks]
    trunk = nn.Sequential(nn.Linear(tasks[0].x.shape[1], WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU())
    initial = copy.deepcopy(trunk)
    heads = nn.ModuleList(nn.Linear(WIDTH, task.n_outputs) for task in tasks)
    optimiser = torch.optim.Adam([*trunk.parameters(), *heads.parameters()], lr=LR)
    cosines = []
    for step in range(STEPS):
        if step == 1:  # the first step pays torch's lazy imports once per process: not a step's cost
            started = time.perf_counter()
        batches = [generator.integers(0, len(task), size=min(BATCH, len(task))) for task in tasks]
        features = [trunk(x[rows]) for x, rows in zip(inputs, batches, strict=True)]
        if step in CHECKPOINTS:
            gradients = [torch.cat([g.flatten() for g in torch.autograd.grad(
                _loss(task, head(feature), rows), list(trunk.parameters()), retain_graph=True)])
                for task, head, feature, rows in zip(tasks, heads, features, batches, strict=True)]
            cosines.append(_cosines(torch.stack(gradients)))
        target_loss = _loss(tasks[0], heads[0](features[0].detach()), batches[0])
        source_loss = sum(_loss(task, head(feature), rows) for task, head, feature, rows
                          in zip(tasks[1:], heads[1:], features[1:], batches[1:], strict=True))
        optimiser.zero_grad()
        (target_loss + source_loss).backward()
        optimiser.step()
    step_ms = 1000 * (time.perf_counter() - started) / (STEPS - 1)
    cosine = np.mean(cosines, axis=0)
    pairs = cosine[np.triu_indices(len(tasks), k=1)]
    with torch.no_grad():
        trained, untrained = (net(inputs[0]).double().numpy() for net in (trunk, initial))
    return {"grad_cosine": float(pairs.mean()), "grad_cosine_target": float(cosine[0, 1:].mean()),
            "logme_gain": logme(trained, tasks[0].y) - logme(untrained, tasks[0].y), "step_ms": step_ms}
