"""Multi-task learning (MTL): one trunk, one head per task; hard sharing, or soft sharing (``model=mmoe``,
``model=cross_stitch``) where each task reads its own part of the trunk."""

from __future__ import annotations

from collections.abc import Callable

from bench.data.family import TaskFamily
from bench.models.soft_sharing import for_tasks
from bench.regimes.joint import BackboneFactory, Outcome, build_module, init_backbone, outcomes
from bench.regimes.population import Member
from bench.regimes.task_sampling import make_sampling
from bench.regimes.training import Training
from bench.regimes.transfer import changed
from bench.weighting import EqualWeights, MeanWeights, StaticWeights, Weighting

SELECTIONS = ("shared", "per_task")
# The weightings that read a task left out of a step as absent: linear in the losses, with no state.
SAMPLED_WEIGHTINGS = (EqualWeights, MeanWeights, StaticWeights)


class MultiTask:
    """Every step sees a batch from every task (by default); a weighting method (bench/weighting) combines the task
    losses, the unweighted sum by default.

    ``weighting`` builds a fresh method per population (``conf/weighting/*.yaml`` are partials), since
    methods keep per-member state. Records name the method (``weighting``); a method that solves a problem
    each step adds, per member, the steps its solver missed its tolerance (``fit.unconverged_steps``).

    ``selection="shared"`` (the default) selects and stops on the mean validation loss over tasks: one
    model, one selected state. ``"per_task"`` keeps each task's trunk and head at that task's own best
    validation step and trains until every task has stopped, the rule STL's copies follow, so that MTL is
    not handicapped when single tasks are compared (issue 9).

    ``sampling`` other than ``"all"`` trains one task per step, drawn per member with ``p_t ∝
    n_t^(1/temperature)`` (``bench/regimes/task_sampling.py``). The tasks not drawn contribute no loss: the
    weighting sees their losses as zeros, which only a weighting linear in the losses and without state
    reads as "absent" (sum, mean, static); the others would take the zeros for real losses (FAMO's and GM's
    logarithms, DWA's and UW's running statistics) or a zero gradient for a real one (MGDA's min-norm point
    would be 0), so they are refused with sampling. A record names the sampling off its default
    (``variant``), so each sampling is an arm of its own.
    """

    name = "mtl"
    strategy = None

    def __init__(self, weighting: Callable[[], Weighting] = EqualWeights, selection: str = "shared",
                 sampling: str = "all", temperature: float = 2.0) -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"regime.selection={selection!r} is invalid, expected one of {SELECTIONS}")
        self.weighting, self.selection = weighting, selection
        method = weighting()  # built once now: a bad hyper-parameter stops before training
        self.weighting_name = method.name
        self.sampling = make_sampling(sampling, temperature)
        if self.sampling is not None and not isinstance(method, SAMPLED_WEIGHTINGS):
            raise ValueError(f"regime.sampling={sampling} trains one task a step, which weighting={method.name} "
                             "cannot weigh (it reads every task's loss each step): use weighting=sum, mean or "
                             "static, or regime.sampling=all")
        self.variant = changed(MultiTask, {"sampling": sampling,
                                           **({"temperature": temperature} if sampling == "temperature" else {})})

    def run(self, families: list[TaskFamily], backbone: BackboneFactory, training: Training,
            members: list[Member]) -> list[Outcome]:
        task_sets = [f.tasks for f in families]
        weighting = self.weighting()
        weighting.setup(members, len(task_sets[0]))
        trunk = init_backbone(for_tasks(backbone, len(task_sets[0])), task_sets[0][0].input_shape, members, 1)
        module = build_module(task_sets, trunk, members, shared=True, weighting=weighting,
                              per_task_selection=self.selection == "per_task")
        module.task_sampling = self.sampling
        fits = training.fit(module)
        # a solver's misses ride in the record's fit (fit.unconverged_steps), never silently
        return outcomes(module, fits, lambda r: {**fits[r].info(), **weighting.fit_info(r)})
