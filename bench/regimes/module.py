"""The one LightningModule every regime trains: a population of members, each a backbone read by one
linear head per task, run as one batched model."""

from __future__ import annotations

from collections.abc import Callable

import pytorch_lightning as pl
import torch
from torch import nn

from bench.data.family import Task
from bench.metrics import task_metrics
from bench.models.backbones import CopiedHead
from bench.regimes.losses import member_losses, selection_loss, stacked_class_weights
from bench.regimes.optim import population_adam
from bench.regimes.population import Member, recipe_signature
from bench.weighting import EqualWeights

# A member diverges when its training loss exceeds this many times its first step's loss, or its validation
# loss this many times the untrained model's (or either is NaN or infinite).
DIVERGENCE_FACTOR = 1000.0


class DivergenceWatch:
    """Finds members whose training loss became non-finite or exploded, with one host sync per chunk.

    Each step's ``[R, T]`` losses are kept (views, no copy); after a chunk ``review`` finds each member's
    first bad step. Members share no parameter, so a member that went bad mid-chunk cannot touch the
    others before it is caught; then it stops training (see ``PopulationModule.set_active``).
    """

    def __init__(self) -> None:
        self.first_loss: torch.Tensor | None = None
        self.failures: dict[int, str] = {}
        self.chunk: list[torch.Tensor] = []

    def record(self, losses: torch.Tensor) -> None:
        self.chunk.append(losses.detach())

    def review(self, first_step: int, task_names: list[str]) -> None:
        """Check the chunk whose first step was ``first_step``; a member's first bad step becomes its failure."""
        losses, self.chunk = torch.stack(self.chunk), []
        member = losses.sum(2)
        if self.first_loss is None:
            self.first_loss = member[0]
        bad = ~torch.isfinite(member) | (member > DIVERGENCE_FACTOR * self.first_loss)
        if not bool(bad.any()):
            return
        for r in bad.any(0).nonzero().flatten().tolist():
            if r in self.failures:
                continue
            at = int(bad[:, r].nonzero()[0])
            tasks = [task_names[t] for t in (~torch.isfinite(losses[at, r])).nonzero().flatten().tolist()]
            what = f"non-finite loss on task(s) {tasks}" if tasks else (
                f"loss {float(member[at, r]):.4g}, above {DIVERGENCE_FACTOR:g}x its first step's "
                f"{float(self.first_loss[r]):.4g}")
            self.failures[r] = f"DivergenceError: training diverged at step {first_step + at}: {what}"


class ActiveSlots:
    """The (member, group) slots still training, as the indices the forward pass gathers them with.

    Stopped and failed slots leave the computation: their selected state is already kept, so what they
    would compute is never used (a run alone would have stopped there).
    """

    def __init__(self, active: torch.Tensor, shared: bool, device: torch.device) -> None:
        if shared:  # a member trains while any of its selection groups does
            self.members = active.any(1).nonzero().flatten().to(device)
            return
        tasks = active.shape[1]
        # Task-major, so that each task's copies are one contiguous block of the batched features
        self.task_members = [active[:, t].nonzero().flatten().to(device) for t in range(tasks)]
        self.copies = torch.cat([members * tasks + t for t, members in enumerate(self.task_members)])
        self.task_sizes = [len(members) for members in self.task_members]


class PopulationModule(pl.LightningModule):
    """R independent members over one family recipe; member r trains on ``task_sets[r]`` (its own draw).

    ``shared=True`` is parameter sharing (multi-task, transfer): one backbone copy per member that all its
    tasks read, each through its own part (gate, column) when the trunk has one per task (soft sharing).
    ``shared=False`` is single-task learning: one copy per member and task. Copies are member-major (member
    r, group g is copy ``r * groups + g``). The loss is the sum of every member's per-task losses, so each
    copy gets exactly its own tasks' gradient, as in a run of its own.
    """

    def __init__(self, task_sets: list[tuple[Task, ...]], backbone: nn.Module, members: list[Member], shared: bool,
                 train_backbone: bool = True, failed: list[bool] | None = None, weighting=None,
                 per_task_selection: bool = False) -> None:
        super().__init__()
        _check_same_tasks(task_sets)
        self.task_sets, self.tasks, self.members, self.shared = task_sets, task_sets[0], members, shared
        if shared and any(member.per_task for member in members):
            raise ValueError("settings per task (Member.per_task) need a copy per task (STL); a shared model "
                             "trains every task at one learning rate and weight decay")
        self.n_members, self.groups = len(members), 1 if shared else len(self.tasks)
        # Selection groups: one per task when unshared, or when a shared model keeps each task's best state
        # (its trunk and head at that task's best step, ``per_task_selection``); else one per member.
        self.per_task_selection = shared and per_task_selection
        self.selection_groups = len(self.tasks) if not shared or per_task_selection else 1
        self.task_trunks: list[tuple[dict[str, torch.Tensor], torch.Tensor]] | None = None
        if backbone.copies != self.n_members * self.groups:
            raise ValueError(f"backbone has {backbone.copies} copies, {self.n_members * self.groups} needed for "
                             f"{self.n_members} members x {self.groups} groups")
        self.backbone = backbone
        self.backbone.requires_grad_(train_backbone)
        # A soft-sharing trunk (bench/models/soft_sharing.py) with a part per task: each task reads its own.
        self.task_parts = getattr(backbone, "tasks", 1) > 1
        if self.task_parts and not (shared and backbone.tasks == len(self.tasks)):
            raise ValueError(f"a trunk with parts for {backbone.tasks} tasks needs a shared model of as many "
                             f"tasks, got {len(self.tasks)} tasks, shared={shared}")
        self.heads = nn.ModuleList(CopiedHead(self.n_members, backbone.width, task.n_outputs) for task in self.tasks)
        self.automatic_optimization = False
        self.initially_failed = torch.tensor(failed or [False] * self.n_members)
        self.watch = DivergenceWatch()
        self.steps_done = 0
        self.slots: ActiveSlots | None = None  # None: every slot trains
        self.class_weights = [stacked_class_weights(task_sets, t) for t in range(len(self.tasks))]
        self._split_cache: dict = {}
        # What a regime or strategy may set: how task losses combine (bench/weighting), penalties added to
        # the loss (each returns one value per member, e.g. L2-SP), and learning-rate multipliers by
        # parameter-name prefix (e.g. {"backbone.": 0.1} for a slower trunk).
        self.weighting = weighting or EqualWeights()
        self.penalties: list[Callable[[PopulationModule], torch.Tensor]] = []
        self.lr_scales: dict[str, float] = {}
        self.task_sampling = None  # which tasks each step trains (bench/regimes/task_sampling.py); None: all

    # Layout: which copies belong to which member, group and task.
    def task_copies(self, task: int) -> torch.Tensor | None:
        """The backbone copy each member reads for ``task`` (None: all copies, in order)."""
        if self.shared:
            return None
        return torch.arange(self.n_members, device=self.device) * self.groups + task

    def group_of(self, task: int) -> int:
        """The selection group of ``task``."""
        return 0 if self.selection_groups == 1 else task

    def set_active(self, active: torch.Tensor) -> None:
        """``active`` ``[R, G]``: the (member, group) slots that keep training from the next step on."""
        self.slots = None if bool(active.all()) else ActiveSlots(active, self.shared, self.device)

    def is_shared_trunk(self, name: str) -> bool:
        """Whether parameter ``name`` is a trunk that several selection groups of a member share."""
        return self.per_task_selection and name.startswith("backbone.")

    def forward(self, xs: torch.Tensor) -> list[torch.Tensor]:
        """``xs``: one batch per member and task ``[R, T, B, *input]``; returns T outputs ``[R, B, n_outputs]``."""
        if self.shared:
            features = self.shared_features(xs, None)
        else:
            features = self.backbone(xs.flatten(0, 1)).unflatten(0, xs.shape[:2])
        # unbind, not features[:, t]: its backward stacks once, where T selects would each fill a full-size zero
        return [head(per_task) for head, per_task in zip(self.heads, features.unbind(1), strict=True)]

    def step_losses(self, xs: torch.Tensor, ys: list[torch.Tensor]) -> torch.Tensor:
        """``[R, T]`` training losses of one step; slots that no longer train are left out (zero)."""
        if self.slots is None:
            outputs = self(xs)
            return torch.stack([self._loss(t, outputs[t], ys[t], None) for t in range(len(self.tasks))], dim=1)
        losses = xs.new_zeros(self.n_members, len(self.tasks))
        if self.shared:
            members = self.slots.members
            x = xs[members]
            features = self.shared_features(x, members).unbind(1)
            losses[members] = torch.stack([self._loss(t, head(features[t], members), ys[t][members], members)
                                           for t, head in enumerate(self.heads)], dim=1)
            return losses
        copies = self.slots.copies
        features = self.backbone(xs.flatten(0, 1)[copies], copies).split(self.slots.task_sizes)
        for t, head in enumerate(self.heads):
            members = self.slots.task_members[t]
            if len(members):
                losses[members, t] = self._loss(t, head(features[t], members), ys[t][members], members)
        return losses

    def shared_features(self, xs: torch.Tensor, select: torch.Tensor | None) -> torch.Tensor:
        """``xs`` ``[k, T, B, ...]`` -> ``[k, T, B, width]``: each task's rows through the shared trunk, or
        through its own part of it (a gate, a column) when the trunk has one per task."""
        if self.task_parts:
            return self.backbone.by_task(xs, select)
        return self.backbone(xs.flatten(1, 2), select).unflatten(1, xs.shape[1:3])

    def task_features(self, x: torch.Tensor, task: int) -> torch.Tensor:
        """Features ``[R, n, width]`` of every member's rows ``x`` ``[R, n, ...]`` of ``task``."""
        if self.task_parts:
            return self.backbone(x, task=task)
        return self.backbone(x, self.task_copies(task))

    def _loss(self, task: int, output: torch.Tensor, y: torch.Tensor, members: torch.Tensor | None) -> torch.Tensor:
        weights = self.class_weights[task]
        if weights is not None:
            weights = weights.to(output.device)
            weights = weights if members is None else weights[members]
        return member_losses(self.tasks[task].kind, output, y, weights)

    def training_step(self, batch: tuple[torch.Tensor, list[torch.Tensor]], batch_idx: int) -> torch.Tensor:
        """Optimisation steps over a chunk of ``[steps, R, T, B, ...]`` batches, each on the summed task losses.

        One Lightning batch carries a whole validation period of steps, and each step is plain PyTorch on
        the optimiser Lightning configured: at this model size Lightning's per-step hooks (manual_backward,
        LightningOptimizer.step) cost about a fifth of a step, and this engine needs none of what they do
        (mixed precision, gradient accumulation across devices). ``steps_done`` counts the steps.
        """
        optimizer = self.optimizers().optimizer
        chunk_x, chunk_y, *sampled = batch  # sampled: [steps, R, T], the tasks each step trains (not all)
        first_step = self.steps_done + 1
        for step in range(chunk_x.shape[0]):
            losses = self.step_losses(chunk_x[step], [y[step] for y in chunk_y])
            if sampled:  # a task not drawn this step contributes no loss (its rows are placeholders)
                losses = losses * sampled[0][step]
            self.watch.record(losses)
            optimizer.zero_grad(set_to_none=True)
            self.weighting.backward(self, losses)
            if self.penalties:
                torch.stack([penalty(self) for penalty in self.penalties]).sum().backward()
            optimizer.step()
        self.steps_done += chunk_x.shape[0]
        self.watch.review(first_step, [task.name for task in self.tasks])
        return losses.detach().sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam at each member's settings; in STL each copy at its own task's (``Member.per_task``)."""
        settings = [member.task_settings([task.name for task in self.tasks]) for member in self.members]
        groups: dict[tuple[float, int | None], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if param.requires_grad:
                scale = next((s for prefix, s in self.lr_scales.items() if name.startswith(prefix)), 1.0)
                task = int(name.split(".")[1]) if name.startswith("heads.") and not self.shared else None
                groups.setdefault((scale, task), []).append(param)
        return population_adam([(params, *_copy_settings(settings, task, scale, self.shared))
                                for (scale, task), params in groups.items()])

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
            if self.task_trunks is not None:
                self._load_trunk(*self.task_trunks[t])
            stacked, sizes, _ = self.split_data(split, t)
            out = head(self.task_features(stacked, t))
            outputs.append([out[r, :n] for r, n in enumerate(sizes)])
        self.train(was_training)
        return outputs

    @torch.no_grad()
    def _load_trunk(self, trunk: dict[str, torch.Tensor], members: torch.Tensor) -> None:
        """The shared trunk of the members in ``members`` (a mask) as one task selected it."""
        for name, param in self.backbone.named_parameters():
            param[members] = trunk[f"backbone.{name}"][members]

    def losses(self, split: str) -> list[list[float]]:
        """The mean loss of every member (outer list) on every task (inner list), as ``task_metrics`` has it."""
        return self._score(split, selection_loss)

    def metrics(self, split: str) -> list[list[dict[str, float]]]:
        """Metrics of every member (outer list) on every task (inner list) on a whole split."""
        return self._score(split, task_metrics)

    def _score(self, split: str, score: Callable) -> list[list]:
        """``score(task, output, labels)`` of every member (outer list) on every task (inner list)."""
        outputs = self.predict(split)
        labels = [self.split_data(split, t)[2] for t in range(len(self.tasks))]
        return [[score(task, outputs[t][r], labels[t][r]) for t, task in enumerate(tasks)]
                for r, tasks in enumerate(self.task_sets)]

    # Selection and failure: per (member, group) slices of every parameter.
    def copy_mask(self, name: str, groups: torch.Tensor) -> torch.Tensor:
        """For a ``[R, G]`` mask of (member, group), the mask of parameter ``name``'s leading copies."""
        if name.startswith(("backbone.", "weighting.")):  # weighting.: a method's per-member parameters
            return groups.any(1) if self.per_task_selection else groups.flatten()
        task = int(name.split(".")[1])
        return groups[:, self.group_of(task)]

    @torch.no_grad()
    def clear_members(self, members: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Zero the parameters and Adam moments of failed members: their outputs stay finite, and as they have
        left the computation (``set_active``) their parameters stay put; the other members never read them."""
        mask = members[:, None].expand(self.n_members, self.selection_groups)
        for name, param in self.named_parameters():
            rows = self.copy_mask(name, mask).to(param.device)
            param[rows] = 0
            for moment in optimizer.state.get(param, {}).values():
                if isinstance(moment, torch.Tensor) and moment.shape == param.shape:
                    moment[rows] = 0


def _copy_settings(settings: list[list[tuple[float, float]]], task: int | None, scale: float,
                   shared: bool) -> tuple[list[float], list[float]]:
    """Learning rates (times ``scale``) and weight decays of every leading copy of a parameter, from each
    member's per-task ``settings``: an unshared head of ``task`` has one copy per member, an unshared trunk one
    per (member, task), member-major, and a shared parameter one per member (its tasks share its settings)."""
    if task is not None:
        cells = [row[task] for row in settings]
    else:
        cells = [row[0] for row in settings] if shared else [cell for row in settings for cell in row]
    return [lr * scale for lr, _ in cells], [decay for _, decay in cells]


def _pad_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    return x if len(x) == rows else torch.cat([x, x.new_zeros((rows - len(x), *x.shape[1:]))])


def _check_same_tasks(task_sets: list[tuple[Task, ...]]) -> None:
    """Members share the recipe: the same task names, kinds, output sizes and input shapes, in order."""
    first = recipe_signature(task_sets[0])
    for tasks in task_sets[1:]:
        if recipe_signature(tasks) != first:
            raise ValueError(f"population members must share their tasks, got {recipe_signature(tasks)} and "
                             f"{first}")
