"""One family's advice: the recommended regime, both probabilities, the descriptors that drove it, and what a
confirming run would cost; as a line-oriented summary, Markdown and JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bench.advise.descriptors import DESCRIPTORS, Description
from bench.advise.model import Advisor, recommend
from bench.advise.outcomes import HEADS, MARGIN

NAMES = {"stl": "STL (single-task)", "mtl": "MTL (multi-task)", "tl": "TL (transfer)"}
ARMS = {"stl": ["stl"], "mtl": ["mtl"], "tl": ["tl_full", "tl_probe"]}  # the conf/regime/ entries of each regime
DRIVERS = 3
NO_DRIVER = "no descriptor: the head learnt none that ranked unseen families; its probability is the corpus's rate"


@dataclass(frozen=True)
class Advice:
    family: str
    tasks: int
    target: str
    regime: str
    probabilities: dict[str, float]
    deciding_head: str  # the head whose descriptors are shown: the recommended regime's, or for STL the runner-up's
    drivers: list[dict]  # the DRIVERS largest pushes on that head's log-odds
    descriptors: dict[str, float]
    contributions: dict[str, float]
    seconds: float
    confirm_arms: list[str]
    confirm_steps: int
    confirm_seeds: int
    confirm_seconds: float
    confirmation: dict = field(default_factory=dict)  # filled by --confirm


def advise(advisor: Advisor, description: Description, family, max_steps: int, confirm: dict) -> Advice:
    x = np.array([description.values[name] for name in DESCRIPTORS])
    probabilities = {head: float(advisor.heads[head].probability(x)[0]) for head in HEADS}
    regime = recommend(probabilities)
    deciding = regime if regime != "stl" else max(probabilities, key=probabilities.get)
    push = advisor.heads[deciding].contributions(x)
    order = [i for i in np.argsort(-np.abs(push))[:DRIVERS] if push[i] != 0]  # none: a constant head
    drivers = [{"descriptor": list(DESCRIPTORS)[i], "value": float(x[i]), "push": float(push[i])} for i in order]
    arms = ["stl", *ARMS[deciding]]
    steps = max(1, math.ceil(confirm["fraction"] * max_steps))
    # every arm's step reads every task once, as the short run's step did; transfer trains two stages; the
    # seeds train as one population (batched), so they are not multiplied in (an upper bound: early stopping)
    stages = sum(2 if arm.startswith("tl") else 1 for arm in arms)
    return Advice(family.name, len(family.tasks), family.target.name, regime, probabilities, deciding, drivers,
                  description.values, dict(zip(DESCRIPTORS, map(float, push), strict=True)), description.seconds,
                  arms, steps, len(confirm["seeds"]),
                  description.step_ms / 1000 * steps * stages)


def _driver(driver: dict) -> str:
    towards = "towards yes" if driver["push"] > 0 else "towards no"
    return f"{driver['descriptor']} = {driver['value']:.3g} ({towards}, {driver['push']:+.2f} log-odds)"


def summary_lines(advice: Advice, command: str) -> list[str]:
    p = advice.probabilities
    lines = [f"advice for {advice.family} ({advice.tasks} tasks, target {advice.target}): {NAMES[advice.regime]}",
             f"  P(MTL beats STL by > {MARGIN:g} Δm% point) = {p['mtl']:.2f}    "
             f"P(TL beats STL by > {MARGIN:g} Δm% point) = {p['tl']:.2f}",
             f"  what drove P({advice.deciding_head.upper()}): "
             + ("; ".join(map(_driver, advice.drivers)) or NO_DRIVER),
             f"  measured in {advice.seconds:.1f}s. A confirming run ({command} --confirm) trains "
             f"{', '.join(advice.confirm_arms)}: {advice.confirm_seeds} seeds x {advice.confirm_steps} steps, "
             f"about {advice.confirm_seconds:.0f}s of training here"]
    if advice.confirmation:
        lines.append("  " + advice.confirmation["sentence"])
    return lines


def markdown(advice: Advice, command: str) -> str:
    rows = "\n".join(f"| {name} | {advice.descriptors[name]:.4g} | {advice.contributions[name]:+.3f} | {reason} |"
                     for name, reason in DESCRIPTORS.items())
    return "\n".join([
        f"# Advice for `{advice.family}`", "", *[line.strip() for line in summary_lines(advice, command)], "",
        f"Command: `{command}`", "",
        "Probabilities come from two heads (MTL, TL) trained on the suite's own outcomes and calibrated on "
        "families they had not seen; see docs/advisor.md for how they were validated and where they are wrong.",
        "", f"## Descriptors (push on the {advice.deciding_head.upper()} head's log-odds)", "",
        "| descriptor | value | push | what it measures |", "|---|---|---|---|", rows, ""])
