"""The one LightningModule every regime trains: a population of members, each a backbone read by one
linear head per task, run as one batched model."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn

from bench.data.family import Task
from bench.metrics import task_loss, task_metrics
from bench.models.backbones import CopiedHead
from bench.regimes.losses import member_losses
from bench.regimes.optim import population_adam
from bench.regimes.population import Member

# A member diverges when its training loss exceeds this many times its first step's loss, or its validation
# loss this many times the untrained model's (or either is NaN or infinite).
DIVERGENCE_FACTOR = 1000.0


class DivergenceWatch:
    """Marks members whose training loss became non-finite or exploded, without a host sync per step.

    Everything stays on the device: the step and the loss at which each member first went wrong, and
    which of its tasks were non-finite then. ``alive`` is what the training step masks losses with.
    """

    def __init__(self, alive: torch.Tensor) -> None:
        self.alive = alive.clone()
        self.first_loss = torch.full(alive.shape, float("nan"), device=alive.device)
        self.failed_step = torch.full(alive.shape, -1, dtype=torch.long, device=alive.device)
        self.failed_loss = torch.zeros(alive.shape, device=alive.device)
        self.failed_tasks: torch.Tensor | None = None

    def observe(self, losses: torch.Tensor, step: int) -> torch.Tensor:
        """``losses`` ``[R, T]`` of step ``step``; returns the members still alive after it."""
        member_loss = losses.detach().sum(1)
        self.first_loss = torch.where(self.first_loss.isnan(), member_loss, self.first_loss)
        bad = ~torch.isfinite(member_loss) | (member_loss > DIVERGENCE_FACTOR * self.first_loss)
        newly = bad & self.alive
        self.failed_step = torch.where(newly, step, self.failed_step)
        self.failed_loss = torch.where(newly, member_loss, self.failed_loss)
        task_bad = ~torch.isfinite(losses.detach())
        self.failed_tasks = task_bad if self.failed_tasks is None else torch.where(newly[:, None], task_bad,
                                                                                   self.failed_tasks)
        self.alive = self.alive & ~bad
        return self.alive


class PopulationModule(pl.LightningModule):
    """R independent members over one family recipe; member r trains on ``task_sets[r]`` (its own draw).

    ``shared=True`` is hard parameter sharing (multi-task, transfer): one backbone copy per member that all
    its tasks read. ``shared=False`` is single-task learning: one copy per member and task. Copies are
    member-major (member r, group g is copy ``r * groups + g``). The loss is the sum of every member's
    per-task losses, so each copy gets exactly its own tasks' gradient, as in a run of its own.
    """

    def __init__(self, task_sets: list[tuple[Task, ...]], backbone: nn.Module, members: list[Member], shared: bool,
                 train_backbone: bool = True, failed: list[bool] | None = None) -> None:
        super().__init__()
        _check_same_tasks(task_sets)
        self.task_sets, self.tasks, self.members, self.shared = task_sets, task_sets[0], members, shared
        self.n_members, self.groups = len(members), 1 if shared else len(self.tasks)
        if backbone.copies != self.n_members * self.groups:
            raise ValueError(f"backbone has {backbone.copies} copies, {self.n_members * self.groups} needed for "
                             f"{self.n_members} members x {self.groups} groups")
        self.backbone = backbone
        self.backbone.requires_grad_(train_backbone)
        self.heads = nn.ModuleList(CopiedHead(self.n_members, backbone.width, task.n_outputs) for task in self.tasks)
        self.automatic_optimization = False
        self.initially_failed = torch.tensor(failed or [False] * self.n_members)
        self.watch: DivergenceWatch | None = None
        self._split_cache: dict = {}

    # Layout: which copies belong to which member, group and task.
    def task_copies(self, task: int) -> torch.Tensor | None:
        """The backbone copy each member reads for ``task`` (None: all copies, in order)."""
        if self.shared:
            return None
        return torch.arange(self.n_members, device=self.device) * self.groups + task

    def group_of(self, task: int) -> int:
        return 0 if self.shared else task

    def forward(self, xs: torch.Tensor) -> list[torch.Tensor]:
        """``xs``: one batch per member and task ``[R, T, B, *input]``; returns T outputs ``[R, B, n_outputs]``."""
        if self.shared:
            features = self.backbone(xs.flatten(1, 2)).unflatten(1, xs.shape[1:3])
        else:
            features = self.backbone(xs.flatten(0, 1)).unflatten(0, xs.shape[:2])
        return [head(features[:, t]) for t, head in enumerate(self.heads)]

    def on_fit_start(self) -> None:
        self.watch = DivergenceWatch(~self.initially_failed.to(self.device))

    def training_step(self, batch: tuple[torch.Tensor, list[torch.Tensor]], batch_idx: int) -> torch.Tensor:
        """Optimisation steps over a chunk of ``[steps, R, T, B, ...]`` batches, each on the summed task losses.

        One Lightning batch carries several steps, and the step is written out here (manual optimisation):
        at this model size Lightning's per-batch hooks and closure-based loop cost more than a step. A
        member that diverges is masked out of the loss from that step on; members share no parameter, so
        its NaN cannot reach the others.
        """
        optimizer = self.optimizers()
        chunk_x, chunk_y = batch
        for step in range(chunk_x.shape[0]):
            outputs = self(chunk_x[step])
            losses = torch.stack([member_losses(task.kind, out, y[step])
                                  for task, out, y in zip(self.tasks, outputs, chunk_y, strict=True)], dim=1)
            alive = self.watch.observe(losses, self.global_step + 1)
            total = torch.where(alive[:, None], losses, 0.0).sum()
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(total)
            optimizer.step()
        return total.detach()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.parameters() if p.requires_grad]
        return population_adam(params, [m.lr for m in self.members], [m.weight_decay for m in self.members])

    def split_data(self, split: str, task: int) -> tuple[torch.Tensor, list[int], list[torch.Tensor]]:
        """Every member's inputs of ``task`` on ``split`` stacked ``[R, n, ...]`` (padded to the longest), their
        sizes and labels, on the module's device; built once per fit, as validation reads them every period."""
        key = (split, task, self.device)
        if key not in self._split_cache:
            parts = [tasks[task].split(split) for tasks in self.task_sets]
            sizes = [len(part) for part in parts]
            stacked = torch.stack([_pad_rows(part.x, max(sizes)) for part in parts]).to(self.device)
            self._split_cache[key] = stacked, sizes, [part.y.to(self.device) for part in parts]
        return self._split_cache[key]

    @torch.no_grad()
    def predict(self, split: str) -> list[list[torch.Tensor]]:
        """Outputs ``[n, n_outputs]`` of every task (outer list) for every member (inner list) on a whole split."""
        was_training = self.training
        self.eval()
        outputs = []
        for t, head in enumerate(self.heads):
            stacked, sizes, _ = self.split_data(split, t)
            out = head(self.backbone(stacked, self.task_copies(t)))
            outputs.append([out[r, :n] for r, n in enumerate(sizes)])
        self.train(was_training)
        return outputs

    def losses(self, split: str) -> list[list[float]]:
        """The mean loss of every member (outer list) on every task (inner list), as ``task_metrics`` has it."""
        outputs = self.predict(split)
        labels = [self.split_data(split, t)[2] for t in range(len(self.tasks))]
        return [[float(task_loss(task.kind, outputs[t][r], labels[t][r])) for t, task in enumerate(tasks)]
                for r, tasks in enumerate(self.task_sets)]

    def metrics(self, split: str) -> list[list[dict[str, float]]]:
        """Metrics of every member (outer list) on every task (inner list) on a whole split."""
        outputs = self.predict(split)
        labels = [self.split_data(split, t)[2] for t in range(len(self.tasks))]
        return [[task_metrics(task, outputs[t][r], labels[t][r]) for t, task in enumerate(tasks)]
                for r, tasks in enumerate(self.task_sets)]

    # Selection and failure: per (member, group) slices of every parameter.
    def copy_mask(self, name: str, groups: torch.Tensor) -> torch.Tensor:
        """For a ``[R, G]`` mask of (member, group), the mask of parameter ``name``'s leading copies."""
        if name.startswith("backbone."):
            return groups.flatten()
        task = int(name.split(".")[1])
        return groups[:, self.group_of(task)]

    @torch.no_grad()
    def clear_members(self, members: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Zero the parameters and Adam moments of failed members: their outputs stay finite and, with their
        losses masked, their parameters stay put; the other members never read them."""
        mask = members[:, None].expand(self.n_members, self.groups)
        for name, param in self.named_parameters():
            rows = self.copy_mask(name, mask).to(param.device)
            param[rows] = 0
            for moment in optimizer.state.get(param, {}).values():
                if moment.shape == param.shape:
                    moment[rows] = 0


def _pad_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    return x if len(x) == rows else torch.cat([x, x.new_zeros((rows - len(x), *x.shape[1:]))])


def _check_same_tasks(task_sets: list[tuple[Task, ...]]) -> None:
    """Members share the recipe: the same task names, kinds and output sizes, in the same order."""
    def signature(tasks):
        return [(t.name, t.kind, t.n_outputs, t.input_shape) for t in tasks]

    first = signature(task_sets[0])
    for tasks in task_sets[1:]:
        if signature(tasks) != first:
            raise ValueError(f"population members must share their tasks, got {signature(tasks)} and {first}")
