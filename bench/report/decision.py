"""The decision: which arm to use, written from the numbers (issue 20).

For each condition of a study (a user's own family has one), every arm is ranked on the one measure every
arm reports, the best is named (neural or classical), and the best's paired difference to every other arm is
taken seed by seed with the intervals of ``paired.py``. The **recommended arm** is the cheapest neural arm
that no other neural arm beats beyond the practical-equivalence margin, STL when nothing beats STL: a gain
must be sure to exceed the margin before it is worth a more complex regime. Cost is the mean number of
optimisation steps per run with transfer's pretraining counted in (``compute.py``): the budget counts steps,
and one step costs STL and MTL alike (a batch of every task). Classical anchors are not candidates (the
question is STL, MTL or TL) but are checked: the decision says when one beats the recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.aggregate import BASELINE, StudyData, oriented, summarize, target_scores, task_scores
from bench.report.claims import MARGINS
from bench.report.compute import compute_table
from bench.report.paired import outcome, summarize_differences, task_differences
from bench.report.stats import bootstrap_ci
from bench.report.study import Section
from bench.report.tables import interval, knob_text, plain_table

MARGIN = MARGINS["target"]  # a score difference smaller than this is no difference in practice
CLASSICAL = "sklearn"  # the regime of the scikit-learn anchors (bench/regimes/classical.py)
FEW_SEEDS = 5  # below this a bootstrap interval is optimistic (see the statistics rules)


@dataclass(frozen=True)
class Decision:
    """What to use in one condition (and metric) of a study, and the evidence."""

    condition: dict  # knob -> value; {"study": name} when nothing varies
    metric: str
    measure: str  # "every task" or "target task"
    ranking: pd.DataFrame  # arm, mean, ci_low, ci_high, n_seeds, score (oriented), classical, steps; best first
    best: str
    versus_best: pd.DataFrame  # best − other per other arm: mean, ci_low, ci_high, n_pairs, outcome
    recommended: str
    versus_stl: pd.Series | None  # recommended − STL (None when the recommendation is STL or STL is absent)
    tasks: dict | None  # recommended vs STL per task: win / tie / loss counts
    challenger: pd.Series | None  # the neural arm closest to beating the recommendation: its difference
    classical: pd.Series | None  # the best classical anchor − recommended, when the study has one
    margin: float = MARGIN

    @property
    def seeds(self) -> int:
        return int(self.ranking["n_seeds"].max())


def decision_scores(study: StudyData) -> tuple[pd.DataFrame, str]:
    """The scores every arm reports: each task's primary metric when every arm reports the same tasks,
    else the target task's (transfer reports its target only)."""
    scores = task_scores(study.tidy)
    tasks = scores.groupby("arm")["task"].agg(lambda t: frozenset(t))
    if tasks.nunique() == 1:
        return scores, "every task"
    return target_scores(study.tidy), "target task"


def _beats(difference: pd.Series, margin: float) -> bool:
    """Sure to be better by more than the margin: the whole 95% CI of the paired difference above it."""
    return bool(difference["ci_low"] > margin)


def _pairs(scores: pd.DataFrame, keys: list[str], arms: list[str]) -> dict[tuple, dict]:
    """``arm − baseline`` for every ordered pair of arms, per condition and metric: ``{(condition..., metric,
    arm, baseline): {mean, ci_low, ci_high, n_pairs, outcome}}``. Per seed, the mean over the tasks both arms
    report of the oriented difference (positive: ``arm`` is better), as ``paired.every_task_differences``
    takes it, and the bootstrap CI of ``paired.summarize_differences`` over seeds. Each unordered pair is
    computed once; its mirror has the same seeds and the mirrored CI."""
    seeds = [*keys, "metric", "seed"]
    wide = oriented(scores).pivot_table(index=[*seeds, "task"], columns="arm", values="value", aggfunc="first")
    found = {}
    for index, arm in enumerate(arms):
        for baseline in arms[index + 1:]:
            per_seed = (wide[arm] - wide[baseline]).groupby(level=seeds).mean().dropna()
            for condition, values in per_seed.groupby(level=[*keys, "metric"]):
                values = values.to_numpy()
                low, high = bootstrap_ci(values)
                row = {"mean": float(values.mean()), "ci_low": low, "ci_high": high, "n_pairs": len(values),
                       "outcome": outcome(low, high)}
                found[(*condition, arm, baseline)] = row
                found[(*condition, baseline, arm)] = _flip(row)
    return found


def _ranking(scores: pd.DataFrame, keys: list[str], steps: pd.DataFrame, classical: set[str]) -> pd.DataFrame:
    """Per condition, metric and arm: ``aggregate.summarize`` over tasks (the mean over seeds of each run's mean
    over its tasks, its CI, the seeds), ``score`` oriented so that higher is better, and the mean steps."""
    ranking = summarize(scores, keys, over_tasks=True)
    better = scores.groupby("metric")["higher_is_better"].first()
    sign = ranking["metric"].map(lambda metric: 1.0 if bool(better.get(metric, True)) else -1.0)
    ranking = ranking.assign(score=ranking["mean"] * sign, classical=ranking["arm"].isin(classical))
    return ranking.merge(steps, on=["arm", *keys], how="left")


def _steps(study: StudyData, records: list[dict]) -> pd.DataFrame:
    table = compute_table(study, records)
    if table.empty:
        return pd.DataFrame(columns=["arm", *study.keys, "steps"])
    table = table.rename(columns={"steps_total": "steps"})[["arm", *study.keys, "steps"]]
    return table


def decide(study: StudyData, records: list[dict], margin: float = MARGIN) -> list[Decision]:
    """One decision per condition and metric of ``study`` (empty when nothing finished)."""
    if study.tidy.empty:
        return []
    scores, measure = decision_scores(study)
    if scores.empty:
        return []
    keys = study.keys
    classical = set(study.runs.loc[study.runs["regime"] == CLASSICAL, "arm"])
    ranking = _ranking(scores, keys, _steps(study, records), classical)
    arms = sorted(ranking["arm"].unique())
    pairs = _pairs(scores, keys, arms)
    per_task = (summarize_differences(task_differences(scores, keys), keys, tests=False) if BASELINE in arms
                else pd.DataFrame(columns=["arm", *keys, "metric", "outcome"]))
    decisions = []
    for condition, ranked in ranking.groupby([*keys, "metric"], sort=True):
        *values, metric = condition
        where = dict(zip(keys, values, strict=True))
        ranked = ranked.sort_values(["score", "arm"], ascending=[False, True]).reset_index(drop=True)

        def pair(arm: str, baseline: str, condition=condition) -> pd.Series | None:
            found = pairs.get((*condition, arm, baseline))
            return pd.Series(found, name=arm) if found else None

        decisions.append(_decision(where, metric, measure, ranked, pair, _select(per_task, where, metric), margin))
    return decisions


def _select(frame: pd.DataFrame, where: dict, metric: str) -> pd.DataFrame:
    mask = frame["metric"] == metric
    for key, value in where.items():
        mask &= frame[key] == value
    return frame[mask]


def _decision(where: dict, metric: str, measure: str, ranked: pd.DataFrame, pair, per_task: pd.DataFrame,
              margin: float) -> Decision:
    """``pair(arm, baseline)``: the paired difference ``arm − baseline`` (positive: ``arm`` is better), or None
    when no seed pairs them."""
    best = ranked["arm"].iloc[0]
    versus_best = pd.DataFrame([{"arm": arm, **pair(best, arm)} for arm in ranked["arm"].iloc[1:]
                                if pair(best, arm) is not None])
    neural = ranked[~ranked["classical"]]
    unbeaten = [arm for arm in neural["arm"]
                if not any(_beats(p, margin) for other in neural["arm"] if other != arm
                           and (p := pair(other, arm)) is not None)]
    if BASELINE in unbeaten:
        recommended = BASELINE
    elif unbeaten:
        cost = neural.set_index("arm")["steps"].fillna(np.inf)
        recommended = min(unbeaten, key=lambda arm: (cost[arm], -neural.set_index("arm").loc[arm, "score"]))
    else:  # beaten in a cycle (noise): the best mean among the neural arms
        recommended = neural["arm"].iloc[0] if len(neural) else best
    versus_stl = pair(recommended, BASELINE) if recommended != BASELINE else None
    tasks = None
    if versus_stl is not None and len(per_task):
        counts = per_task.loc[per_task["arm"] == recommended, "outcome"].value_counts()
        tasks = {outcome: int(counts.get(outcome, 0)) for outcome in ("win", "tie", "loss")}
    rivals = [(other, p) for other in neural["arm"] if other != recommended
              and (p := pair(other, recommended)) is not None]
    challenger = max(rivals, key=lambda r: r[1]["mean"], default=None)
    anchors = ranked[ranked["classical"]]
    classical = pair(anchors["arm"].iloc[0], recommended) if len(anchors) else None
    return Decision(where, metric, measure, ranked, best, versus_best, recommended, versus_stl, tasks,
                    challenger[1].rename(challenger[0]) if challenger else None,
                    classical.rename(anchors["arm"].iloc[0]) if classical is not None else None, margin)


def _flip(difference: dict) -> dict:
    """``baseline − arm`` from ``arm − baseline``: the same seeds, the interval mirrored."""
    return {"mean": -difference["mean"], "ci_low": -difference["ci_high"], "ci_high": -difference["ci_low"],
            "n_pairs": int(difference["n_pairs"]),
            "outcome": {"win": "loss", "loss": "win"}.get(difference["outcome"], difference["outcome"])}


def _difference_text(difference: pd.Series, digits: int = 3) -> str:
    seeds = int(difference["n_pairs"])
    return (f"{interval(difference['mean'], difference['ci_low'], difference['ci_high'], digits)} over {seeds} "
            f"paired seed{'s' if seeds != 1 else ''}")


def condition_text(where: dict) -> str:
    return ", ".join(f"{key}={knob_text(value)}" for key, value in where.items() if key != "study")


def measure_text(decision: Decision) -> str:
    """What the decision compares: ``the target task's r2`` or ``rmse (mean over every task)``."""
    if decision.measure == "target task":
        return f"the target task's {decision.metric}"
    return f"{decision.metric} (mean over every task)"


def sentences(decision: Decision) -> list[str]:
    """The decision in a few sentences: what to use, by how much, whether a classical anchor does better,
    and how sure (the interval and the seeds it rests on)."""
    d = decision
    what = measure_text(d)
    lines = []
    if d.recommended == BASELINE:
        lines.append(f"**Recommended: `{BASELINE}`** (one model per task, the default): no arm beats it by more "
                     f"than the margin of {d.margin:g} in {what}.")
    elif d.versus_stl is not None:
        won = (f", winning {d.tasks['win']} of {sum(d.tasks.values())} tasks (ties {d.tasks['tie']}, losses "
               f"{d.tasks['loss']})") if d.tasks and d.measure == "every task" else ""
        lines.append(f"**Recommended: `{d.recommended}`**: it beats STL in {what} by "
                     f"{_difference_text(d.versus_stl)}{won}, and no arm beats it by more than the margin of "
                     f"{d.margin:g}.")
    else:
        lines.append(f"**Recommended: `{d.recommended}`**, the cheapest arm that no other beats by more than the "
                     f"margin of {d.margin:g} in {what} (this study has no STL runs to compare with).")
    if d.challenger is not None:
        lines.append(f"Closest rival: `{d.challenger.name}`, {_difference_text(d.challenger)} against it (positive: "
                     f"`{d.challenger.name}` better): {_sure(d.challenger, d.margin)}.")
    if d.classical is not None:
        lines.append(f"Classical anchor: `{d.classical.name}`, {_difference_text(d.classical)} against it "
                     f"(positive: `{d.classical.name}` better): "
                     + ("**it beats the recommendation beyond the margin**; a classical model suffices here."
                        if _beats(d.classical, d.margin) else _sure(d.classical, d.margin) + "."))
    if d.best not in (d.recommended, getattr(d.classical, "name", None)):
        lines.append(f"Best mean: `{d.best}`.")
    if d.seeds < FEW_SEEDS:
        lines.append(f"⚠ Only {d.seeds} seed(s): a bootstrap interval over so few is optimistic; run more seeds "
                     "before relying on it.")
    return lines


def _sure(difference: pd.Series, margin: float) -> str:
    """How the interval reads against the margin."""
    low, high = difference["ci_low"], difference["ci_high"]
    if np.isnan(low):
        return "one seed: no interval"
    if low > margin:
        return "better beyond the margin"
    if high < -margin:
        return "worse beyond the margin"
    if -margin < low and high < margin:
        return "equivalent within the margin"
    return "not surely beyond the margin"


def decision_table(decisions: list[Decision], keys: list[str]) -> pd.DataFrame:
    """One row per condition (and metric, when several): the recommended arm, its difference to STL, the
    best, and the best classical anchor against the recommendation."""
    several = len({d.metric for d in decisions}) > 1
    rows = []
    for d in decisions:
        anchor = d.classical
        rows.append({
            **{key: knob_text(d.condition[key]) for key in keys if key != "study"},
            **({"metric": d.metric} if several else {}),
            "recommended": d.recommended,
            "recommended vs STL [95% CI]": _interval(d.versus_stl),
            "best (mean)": d.best,
            "best classical vs recommended [95% CI]": (
                "—" if anchor is None else f"{anchor.name}: {_interval(anchor)}"
                + (" ⚠ beats it" if _beats(anchor, d.margin) else "")),
            "seeds": d.seeds,
        })
    return pd.DataFrame(rows)


def ranking_table(decisions: list[Decision], keys: list[str]) -> pd.DataFrame:
    """Every arm against the best. One condition: the arms ranked, each with its score and the paired
    difference best − arm. Several: one row per condition, one column per arm (best − arm; ``best``)."""
    if len(decisions) == 1:
        d = decisions[0]
        versus = d.versus_best.set_index("arm") if len(d.versus_best) else pd.DataFrame()
        return pd.DataFrame([{
            "arm": row.arm, f"test {d.metric} [95% CI]": interval(row.mean, row.ci_low, row.ci_high),
            f"{d.best} vs arm [95% CI]": "best" if row.arm == d.best else _interval(versus.loc[row.arm])
            if row.arm in versus.index else "no paired seeds",
            "seeds": row.n_seeds, "steps": "—" if pd.isna(row.steps) else f"{row.steps:.0f}",
        } for row in d.ranking.itertuples()])
    several = len({d.metric for d in decisions}) > 1
    places = pd.concat([d.ranking[["arm"]].assign(place=range(len(d.ranking))) for d in decisions])
    arms = list(places.groupby("arm")["place"].mean().sort_values(kind="stable").index)  # best on average first
    rows = []
    for d in decisions:
        versus = d.versus_best.set_index("arm") if len(d.versus_best) else pd.DataFrame()
        rows.append({**{key: knob_text(d.condition[key]) for key in keys if key != "study"},
                     **({"metric": d.metric} if several else {}),
                     **{arm: "best" if arm == d.best else _interval(versus.loc[arm]) if arm in versus.index else ""
                        for arm in arms if arm in set(d.ranking["arm"])}})
    return pd.DataFrame(rows)


def _interval(difference: pd.Series | None) -> str:
    return "—" if difference is None else interval(difference["mean"], difference["ci_low"], difference["ci_high"])


def summary(decisions: list[Decision]) -> str:
    """One sentence for a study with several conditions: which arm is recommended where, in knob order."""
    by_arm: dict[str, list[Decision]] = {}
    for d in decisions:
        by_arm.setdefault(d.recommended, []).append(d)
    parts = ([f"`{decisions[0].recommended}` in all {len(decisions)} conditions"] if len(by_arm) == 1
             else [f"`{arm}` at {_where(found)}" for arm, found in by_arm.items()])
    beaten = sum(1 for d in decisions if d.classical is not None and _beats(d.classical, d.margin))
    anchor = (f" A classical anchor beats the recommendation beyond the margin in {beaten} of {len(decisions)} "
              "conditions." if beaten else "")
    return "Recommended: " + "; ".join(parts) + "." + anchor


def _where(decisions: list[Decision]) -> str:
    """``x = 0, 0.25`` for one knob; with more, grouped by all but the last: ``x=0 with y = 1, 2 and x=1 with
    y = 2``; the metric when several."""
    knobs = [k for k in decisions[0].condition if k != "study"]
    metrics = {d.metric for d in decisions}
    groups: dict[str, list[str]] = {}
    for d in decisions:
        if knobs:
            head = condition_text({k: d.condition[k] for k in knobs[:-1]})
            groups.setdefault(head, []).append(knob_text(d.condition[knobs[-1]]))
    where = " and ".join(f"{head + ' with ' if head else ''}{knobs[-1]} = {', '.join(values)}"
                         for head, values in groups.items())
    return where + (f" ({', '.join(sorted(metrics))})" if len(metrics) > 1 or not knobs else "")


def decision_section(decisions: list[Decision], keys: list[str]) -> Section | None:
    """The section a study's page opens with: the sentences of its one condition, or for several the
    summary and a table of the decision in each; then every arm against the best."""
    if not decisions:
        return None
    margin = decisions[0].margin
    ranking = plain_table(ranking_table(decisions, keys), "ranking", "Every arm against the best",
                          "The paired difference best vs arm (positive: the best is better; for an error metric, the "
                          "arm's error minus the best's), seed by seed over the seeds both finished, with its 95% "
                          f"bootstrap CI, on {measure_text(decisions[0])}; steps: mean "
                          "optimisation steps per run, pretraining counted in (what the recommendation calls cheap).",
                          keys)
    if len(decisions) == 1:
        return Section("What to do", sentences(decisions[0]), [ranking])
    table = plain_table(decision_table(decisions, keys), "decision", "The decision in each condition",
                        f"recommended: the cheapest neural arm that no other beats by more than the margin "
                        f"({margin:g}; STL when nothing beats it), cheapest in steps with pretraining counted in; "
                        "its paired difference to STL and the best classical anchor's to it (positive: the first is "
                        "better), seed by seed with a 95% bootstrap CI (⚠ beats it: beyond the margin).")
    return Section("What to do", [summary(decisions)], [table, ranking])
