"""Where model selection stopped: a warning a user can act on when the selected states crowd an end of the budget.

Every neural arm keeps the state with the best validation loss, checked every ``trainer.eval_every`` steps up
to ``trainer.max_steps``. A state selected at the first validation means the validation loss was lowest
before the model had trained much: the validation period (or the learning rate) is too coarse for the data,
and the arm is compared at a state it barely chose. A state selected at the step cap means the model was
still improving when the budget ran out. Either way the comparison may say more about the budget than about
the arm, so where a large share of an arm's selected states sit at either end the report says so, with the
setting to change. A selection state is one (run, selection group): a whole MTL model, one STL copy per task,
each stage of transfer (pretraining, adaptation). Closed-form fits (linear probes, scikit-learn arms) select
no step and are not counted.
"""

from __future__ import annotations

import pandas as pd

from bench.report.aggregate import StudyData

CROWDED = 0.5  # the share of an arm's selected states at one end of the budget that earns a warning
STAGES = ("pretrain", "adapt")  # transfer records keep one fit per stage


def _stages(fit: dict) -> list[tuple[str, dict]]:
    """(stage, fit) of every trained stage of a record's fit: the fit itself, or transfer's stages."""
    staged = [(stage, fit[stage]) for stage in STAGES if isinstance(fit.get(stage), dict)]
    return staged or [("training", fit)]


def selected_states(study: StudyData, records: list[dict]) -> pd.DataFrame:
    """One row per selected state of every ok run that trained: arm, stage, step, and where the budget's
    ends were (first validation, step cap)."""
    arms = dict(zip(study.runs["run_id"], study.runs["arm"], strict=True))
    rows = []
    for record in records:
        trainer = (record.get("config") or {}).get("trainer") or {}
        first, cap = trainer.get("eval_every"), trainer.get("max_steps")
        if record.get("status") != "ok" or record.get("run_id") not in arms or not first or not cap:
            continue
        for stage, fit in _stages(record.get("fit") or {}):
            if not fit.get("steps"):
                continue  # closed form: no step was selected
            rows += [{"arm": arms[record["run_id"]], "stage": stage, "step": step, "first": first, "cap": cap}
                     for step in fit.get("selected_steps") or [] if isinstance(step, int) and step > 0]
    return pd.DataFrame(rows, columns=["arm", "stage", "step", "first", "cap"])


def selection_table(study: StudyData, records: list[dict]) -> pd.DataFrame:
    """Per arm and stage: how many selected states, the shares at the first validation and at the step cap,
    and where those were (``first``: ``trainer.eval_every``; ``cap``: ``trainer.max_steps``)."""
    states = selected_states(study, records)
    states = states.assign(at_first=states["step"] <= states["first"], at_cap=states["step"] >= states["cap"])
    return (states.groupby(["arm", "stage"], sort=True)
            .agg(states=("step", "size"), at_first=("at_first", "mean"), at_cap=("at_cap", "mean"),
                 first=("first", "min"), cap=("cap", "max"))
            .reset_index())


def selection_warnings(table: pd.DataFrame) -> list[str]:
    """One ⚠ line per arm and stage whose selected states crowd the first validation or the step cap."""
    lines = []
    for row in table.itertuples(index=False):
        where = row.arm + (f" ({row.stage})" if row.stage != "training" else "")
        if row.at_first >= CROWDED:
            lines.append(f"⚠ {where}: {row.at_first:.0%} of {row.states} selected states are at the first validation "
                         f"(step {row.first}): the validation loss was lowest before the model trained much, so the "
                         f"arm is compared at a state it barely chose. Validate more often (`trainer.eval_every="
                         f"{max(1, row.first // 5)}`) or lower the learning rate (`trainer.lr`).")
        if row.at_cap >= CROWDED:
            lines.append(f"⚠ {where}: {row.at_cap:.0%} of {row.states} selected states are at the step cap (step "
                         f"{row.cap}): the model was still improving when the budget ran out. Raise "
                         f"`trainer.max_steps` (e.g. `trainer.max_steps={2 * row.cap}`).")
    return lines
