"""The one LightningModule every regime trains: a backbone read by one linear head per task."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn

from bench.data.family import Task
from bench.metrics import task_loss, task_metrics


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss."""


class FamilyModule(pl.LightningModule):
    """Heads over a backbone that is either shared by all tasks or holds one copy per task.

    ``shared=True`` is hard parameter sharing (multi-task, transfer); ``shared=False`` needs a backbone
    with one copy per task and trains T independent models at once (single-task). The loss is the
    unweighted sum of per-task losses, so each independent copy gets exactly its own task's gradient.
    """

    def __init__(
        self,
        tasks: tuple[Task, ...],
        backbone: nn.Module,
        shared: bool,
        lr: float,
        weight_decay: float = 0.0,
        train_backbone: bool = True,
    ) -> None:
        super().__init__()
        expected_copies = 1 if shared else len(tasks)
        if backbone.copies != expected_copies:
            raise ValueError(f"backbone has {backbone.copies} copies, {expected_copies} needed for {len(tasks)} tasks")
        self.tasks, self.shared = tasks, shared
        self.lr, self.weight_decay = lr, weight_decay
        self.backbone = backbone
        self.backbone.requires_grad_(train_backbone)
        self.heads = nn.ModuleList(nn.Linear(backbone.width, task.n_outputs) for task in tasks)
        self.automatic_optimization = False

    def forward(self, xs: torch.Tensor) -> list[torch.Tensor]:
        """``xs``: one batch per task stacked as ``[T, B, *input]``; returns T outputs ``[B, n_outputs]``."""
        if self.shared:
            features = self.backbone(xs.flatten(0, 1), copy=0).unflatten(0, xs.shape[:2])
        else:
            features = self.backbone(xs)
        return [head(features[t]) for t, head in enumerate(self.heads)]

    def predict_task(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return self.heads[index](self.backbone(x, copy=0 if self.shared else index))

    def training_step(self, batch: tuple[torch.Tensor, list[torch.Tensor]], batch_idx: int) -> torch.Tensor:
        """Optimisation steps over a chunk of ``[steps, T, B, ...]`` batches, each on the summed task losses.

        One Lightning batch carries several steps, and the step is written out here (manual optimisation):
        at this model size Lightning's per-batch hooks and closure-based loop cost more than a step.
        """
        optimizer = self.optimizers()
        chunk_x, chunk_y = batch
        for step in range(chunk_x.shape[0]):
            outputs = self(chunk_x[step])
            losses = [task_loss(t.kind, out, y[step]) for t, out, y in zip(self.tasks, outputs, chunk_y, strict=True)]
            total = torch.stack(losses).sum()
            if not torch.isfinite(total):  # one check per step; a non-finite task loss makes the sum non-finite
                bad = [t.name for t, loss in zip(self.tasks, losses, strict=True) if not torch.isfinite(loss)]
                raise DivergenceError(f"training diverged: non-finite loss at step {self.global_step} on task(s) {bad}")
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(total)
            optimizer.step()
        return total.detach()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam; its fused kernel updates all parameters in one call, the default loop costs as much as a step."""
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay, fused=True)

    @torch.no_grad()
    def evaluate(self, split: str) -> list[dict[str, float]]:
        """Metrics of every task on a whole split (in memory, no loader)."""
        was_training = self.training
        self.eval()
        results = []
        for index, task in enumerate(self.tasks):
            data = task.split(split)
            results.append(task_metrics(task, self.predict_task(index, data.x), data.y))
        self.train(was_training)
        return results

    # Model selection: each group of tasks keeps its own best state (one group per task when unshared).
    def selection_groups(self) -> list[list[int]]:
        return [list(range(len(self.tasks)))] if self.shared else [[t] for t in range(len(self.tasks))]

    def load_group_state(self, group: list[int], state: dict[str, torch.Tensor]) -> None:
        if self.shared:
            self.load_state_dict(state)
            return
        (task,) = group
        own = self.state_dict(keep_vars=True)
        with torch.no_grad():
            for name, tensor in own.items():
                if name.startswith("backbone."):
                    tensor[task].copy_(state[name][task])
                elif name.startswith(f"heads.{task}."):
                    tensor.copy_(state[name])
