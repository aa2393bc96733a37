"""How each arm's hyper-parameters were chosen: the protocol, the budget, the space and every choice.

An arm is compared tuned or untuned, never both: when a study holds tuned records of an arm, its untuned
records (an earlier run at the trainer's fixed values) are left out of the comparison, and the report says so.
"""

from __future__ import annotations

import json

import pandas as pd

from bench.report.study import Section, StudyReport
from bench.report.tables import plain_table
from bench.results.scan import regime_label

PROTOCOL = ("selection on validation only: each setting trains on the tuning seeds, disjoint from the evaluation "
            "seeds, and is scored by its mean validation loss ({objective}; the loss early stopping minimises, which "
            "still ranks settings on a target's few validation rows); the best setting is stored "
            "per (condition, arm) and the evaluation seeds train once with it. Tuning runs keep no test metric, "
            "so no test score enters a choice. Scikit-learn arms choose their regularisation on validation "
            "themselves.")
UNTUNED = ("untuned: every neural arm trains at the trainer's fixed learning rate and weight decay (see budget), "
           "which may suit one arm more than another; run the study with `tuning=small` for a tuned comparison.")


def _arm(record: dict) -> tuple:
    return regime_label(record.get("regime"), record.get("strategy"), record.get("variant")), record.get("weighting")


def _condition(record: dict) -> tuple:
    return _arm(record), json.dumps(record.get("knobs"), sort_keys=True, default=str)


def keep_tuned(records: list[dict]) -> tuple[list[dict], str | None]:
    """The records to compare: an arm with tuned records keeps only those, and of one condition's choices
    (say ``tuning=small`` then ``tuning=full``) the one with the largest budget. Returns a note when some went."""
    tuned_arms = {_arm(r) for r in records if r.get("tuning")}
    best: dict[tuple, tuple] = {}
    for record in records:
        if record.get("tuning"):
            condition, ranked = _condition(record), (record["tuning"]["trials"], record["tuning"]["choice"])
            best[condition] = max(best.get(condition, ranked), ranked)
    kept = [r for r in records if (best[_condition(r)][1] == r["tuning"]["choice"] if r.get("tuning")
                                   else _arm(r) not in tuned_arms)]
    dropped = len(records) - len(kept)
    note = (f"{dropped} record(s) left out: untuned runs of tuned arms, and runs of a smaller tuning budget where "
            "a larger one chose too; an arm is compared under one choice per condition.") if dropped else None
    return kept, note


def tuning_protocol(records: list[dict], choices: list[dict]) -> dict[str, str]:
    """The protocol lines: how arms were tuned (or that they were not), and the target's validation split."""
    used = {r["tuning"]["choice"] for r in records if r.get("tuning")}
    mine = [c for c in choices if c["run_id"] in used]
    lines = {}
    if not mine:
        lines["tuning"] = UNTUNED
    else:
        specs = {json.dumps({k: v for k, v in c["tuning"].items() if k != "space"}, sort_keys=True) for c in mine}
        budgets = sorted({len(c["trials"]) for c in mine})
        budget = (f"{budgets[0]} trials per arm and condition, equal for every tuned arm" if len(budgets) == 1
                  else f"⚠ unequal budgets: {budgets} trials")
        first = mine[0]["tuning"]
        lines["tuning"] = (f"{budget}, each trial on tuning seeds {first['seeds']}; "
                           + PROTOCOL.format(objective=first["objective"])
                           + ("" if len(specs) == 1 else " ⚠ Choices were made under different tuning configs."))
    ratios = {json.dumps((r.get("config") or {}).get("data", {}).get("target_val_ratio")) for r in records}
    ratio = json.loads(next(iter(ratios))) if len(ratios) == 1 else None
    lines["validation"] = (
        f"the target keeps {ratio} x its training size of validation rows (at least 2; VTAB-1k keeps 200 for "
        "800), a realistic budget of labels to select and stop on; sources keep their whole validation split"
        if ratio else "every task selects and stops on its whole validation split")
    return lines


def tuning_label(protocol: dict[str, str]) -> str:
    """``tuned (12 trials per arm and condition ...)`` or ``untuned``: a study's comparison in a few words."""
    line = protocol.get("tuning", UNTUNED)
    return "untuned" if line.startswith("untuned") else f"tuned ({line.split(',')[0]})"


def tuning_section(records: list[dict], choices: list[dict], keys: list[str]) -> Section | None:
    """Per (arm, condition): the budget, the method, the chosen values, their validation score, edge flags."""
    by_choice = {}
    for record in records:
        if record.get("tuning"):
            by_choice.setdefault(record["tuning"]["choice"], record.get("knobs") or {})
    rows = []
    for choice in choices:
        if choice["run_id"] not in by_choice:
            continue
        knobs = by_choice[choice["run_id"]]
        rows.append({"arm": choice["arm"], **{k: knobs.get(k) for k in keys}, "trials": len(choice["trials"]),
                     "failed": sum(1 for t in choice["trials"] if t["errors"]), "method": choice["method"],
                     "chosen": ", ".join(f"{k}={v}" for k, v in choice["chosen"].items()),
                     "validation": choice["value"], "tuning_s": choice["seconds"],
                     "edge": ("⚠ " + ", ".join(choice["on_edge"])) if choice["on_edge"] else ""})
    if not rows:
        return None
    frame = pd.DataFrame(rows).sort_values(["arm", *keys], kind="stable")
    spaces = {}
    for choice in choices:
        spaces.setdefault(choice["arm"], choice["tuning"]["space"])
    text = [f"Search space of `{arm}`: " + "; ".join(f"`{k}` {v}" for k, v in space.items())
            for arm, space in sorted(spaces.items())]
    edges = int((frame["edge"] != "").sum())
    if edges:
        text.append(f"⚠ {edges} choice(s) sit on the edge of their space (flagged below): a wider space might have "
                    "chosen beyond it.")
    table = plain_table(frame, "tuning", "Hyper-parameters chosen on validation",
                        "validation: minus the chosen setting's mean validation loss over the tuning seeds (higher is "
                        "better); failed: trials with a failed run, never chosen; tuning_s: the search's wall time, "
                        "on top of the evaluation runs' (shared cores: compare arms, not machines).", keys)
    return Section("Tuning", text, [table])


def add_tuning(report: StudyReport, records: list[dict], choices: list[dict], dropped: str | None) -> None:
    """The tuning lines of the study's protocol, and its Tuning section when arms were tuned."""
    report.protocol.update(tuning_protocol(records, choices))
    if dropped:
        report.protocol["tuning"] += f" {dropped}"
    section = tuning_section(records, choices, report.data.keys)
    if section:
        report.sections.append(section)
