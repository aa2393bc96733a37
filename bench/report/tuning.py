"""How each arm's hyper-parameters were chosen: the protocol, the budget, the space and every choice.

An arm is compared tuned or untuned, never both: when a study holds tuned records of an arm, its untuned
records (an earlier run at the trainer's fixed values) are left out of the comparison, and the report says so.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from bench.report.study import Section, StudyReport
from bench.report.tables import plain_table
from bench.results.scan import regime_label

PROTOCOL = ("selection on validation only: every tuned arm trains the whole common grid ({grid}), an arm's own "
            "knob on top at its best common setting; each setting trains on each tuning-seed set apart ({sets}; "
            "disjoint from the evaluation seeds) and is scored by its mean validation loss on that set ({objective}; "
            "the loss early stopping minimises, which still ranks settings on a target's few validation rows). Each "
            "set chooses, per (condition, arm), and evaluation seed e trains with the choice of set e mod {n_sets}, "
            "so the choice's own noise is in every interval over seeds. STL's copies are chosen per task, each on "
            "its own validation loss. Tuning runs keep no test metric, so no test score enters a choice. "
            "Scikit-learn arms choose their regularisation on validation themselves.")
UNTUNED = ("untuned: every neural arm trains at the trainer's fixed learning rate and weight decay (see budget), "
           "which may suit one arm more than another; run the study with `tuning=small` for a tuned comparison.")


def _arm(record: dict) -> tuple:
    return regime_label(record.get("regime"), record.get("strategy"), record.get("variant")), record.get("weighting")


def _condition(record: dict) -> tuple:
    return _arm(record), json.dumps(record.get("knobs"), sort_keys=True, default=str)


def _budget(tuning: dict) -> tuple:
    """What ranks an arm's tuned records in a condition: the trials, then the tuning config they share across
    tuning-seed sets (``budget``; older records name their one choice)."""
    return tuning["trials"], tuning.get("budget", tuning["choice"])


def keep_tuned(records: list[dict]) -> tuple[list[dict], str | None]:
    """The records to compare: an arm with tuned records keeps only those, and of one condition's tuning configs
    (say ``tuning=small`` then ``tuning=full``) the one with the most trials, every tuning-seed set's choice of
    it. Returns a note when some went."""
    tuned_arms = {_arm(r) for r in records if r.get("tuning")}
    best: dict[tuple, tuple] = {}
    for record in records:
        if record.get("tuning"):
            condition, ranked = _condition(record), _budget(record["tuning"])
            best[condition] = max(best.get(condition, ranked), ranked)
    kept = [r for r in records if (best[_condition(r)] == _budget(r["tuning"]) if r.get("tuning")
                                   else _arm(r) not in tuned_arms)]
    dropped = len(records) - len(kept)
    note = (f"{dropped} record(s) left out: untuned runs of tuned arms, and runs of a smaller tuning budget where "
            "a larger one chose too; an arm is compared under one tuning config per condition.") if dropped else None
    return kept, note


def _used(records: list[dict], choices: list[dict]) -> list[dict]:
    used = {r["tuning"]["choice"] for r in records if r.get("tuning")}
    return [c for c in choices if c["run_id"] in used]


def tuning_protocol(records: list[dict], choices: list[dict]) -> dict[str, str]:
    """The protocol lines: how arms were tuned (or that they were not), and the target's validation split."""
    mine = _used(records, choices)
    lines = {}
    if not mine:
        lines["tuning"] = UNTUNED
    else:
        first = mine[0]["tuning"]
        specs = {json.dumps({k: v for k, v in c["tuning"].items() if k not in ("own", "seeds")}, sort_keys=True)
                 for c in mine}
        common = first["space"]
        sizes = [len(values) for values in common.values()]
        grid = " x ".join(f"`{key}` {values}" for key, values in common.items())
        sets = sorted({json.dumps(c["tuning"]["seeds"]) for c in mine})
        trials = {c["arm"]: len(c["trials"]) for c in mine}
        extra = {arm: n - math.prod(sizes) for arm, n in sorted(trials.items()) if n > math.prod(sizes)}
        budget = (f"{math.prod(sizes)} trials per arm, condition and tuning-seed set, the whole common grid for "
                  "every tuned arm" + ("; own knobs on top: " + ", ".join(f"{arm} +{n}" for arm, n in extra.items())
                                       if extra else ""))
        lines["tuning"] = (f"{budget}; " + PROTOCOL.format(grid=grid, sets=", ".join(sets), n_sets=len(sets),
                                                            objective=first["objective"])
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


def _setting(choice: dict) -> str:
    """``trainer.lr=0.01, trainer.weight_decay=0.0``; STL's copies: every task's ``lr/weight decay``."""
    if choice.get("per_task"):
        return "; ".join(f"{task} " + "/".join(f"{v:g}" if isinstance(v, float | int) else str(v)
                                               for v in setting.values())
                         for task, setting in choice["per_task"].items())
    return ", ".join(f"{k}={v}" for k, v in choice["chosen"].items())


def _covered(choice: dict) -> str:
    """The grid an arm covered: the common grid whole, and its own knob on top."""
    common = " x ".join(f"{key.rsplit('.', 1)[-1]} {values}" for key, values in choice["tuning"]["space"].items())
    own = "; ".join(f"{key.rsplit('.', 1)[-1]} {values}" for key, values in choice["tuning"].get("own", {}).items())
    size = math.prod(len(values) for values in choice["tuning"]["space"].values())
    return (f"whole common grid ({common}: {size})" + (f" + {own} at the best common setting: "
                                                        f"+{len(choice['trials']) - size}" if own else ""))


def tuning_section(records: list[dict], choices: list[dict], keys: list[str]) -> Section | None:
    """Per (arm, condition): each tuning-seed set's choice, whether the sets agree, the trials, edge flags."""
    by_choice = {}
    for record in records:
        if record.get("tuning"):
            by_choice.setdefault(record["tuning"]["choice"], record.get("knobs") or {})
    cells: dict[tuple, dict] = {}
    for choice in _used(records, choices):
        knobs = by_choice[choice["run_id"]]
        row = cells.setdefault((choice["arm"], json.dumps([knobs.get(k) for k in keys], default=str)), {
            "arm": choice["arm"], **{k: knobs.get(k) for k in keys}, "trials per set": len(choice["trials"]),
            "failed": 0, "tuning_s": 0.0, "edge": [], "sets": {}})
        row["sets"][choice.get("set", 0)] = choice
        row["failed"] += sum(1 for t in choice["trials"] if t["errors"])
        row["tuning_s"] += choice["seconds"]
        row["edge"] += [f"set {choice.get('set', 0)}: {key}" for key in choice["on_edge"]]
    if not cells:
        return None
    rows = []
    for row in cells.values():
        sets = row.pop("sets")
        settings = {index: _setting(choice) for index, choice in sorted(sets.items())}
        rows.append({**{k: v for k, v in row.items() if k != "edge"},
                     **{f"set {index}": setting for index, setting in settings.items()},
                     "sets agree": "yes" if len(set(settings.values())) == 1 else "⚠ no",
                     "validation": " / ".join(f"{choice['value']:.4f}" for _, choice in sorted(sets.items())),
                     "edge": ("⚠ " + ", ".join(row["edge"])) if row["edge"] else ""})
    frame = pd.DataFrame(rows).sort_values(["arm", *keys], kind="stable")
    covered = {}
    for choice in _used(records, choices):
        covered.setdefault(choice["arm"], _covered(choice))
    text = [f"`{arm}`: {grid}" for arm, grid in sorted(covered.items())]
    disagree = int((frame["sets agree"] != "yes").sum())
    if disagree:
        text.append(f"⚠ In {disagree} of {len(frame)} (arm, condition) cells the tuning-seed sets chose differently: "
                    "there the choice itself is noisy, and its evaluation seeds carry that noise into the comparison.")
    edges = int((frame["edge"] != "").sum())
    if edges:
        text.append(f"⚠ {edges} cell(s) hold a choice on the edge of its space (flagged below): a wider space might "
                    "have chosen beyond it.")
    table = plain_table(frame, "tuning", "Hyper-parameters chosen on validation, per tuning-seed set",
                        "set k: the setting tuning-seed set k chose (evaluation seed e trains with set e mod the "
                        "number of sets; STL: each task's lr/weight decay); validation: minus each set's chosen mean "
                        "validation loss (higher is better); failed: trials with a failed run, never chosen; "
                        "tuning_s: the searches' wall time, on top of the evaluation runs' (shared cores: compare "
                        "arms, not machines).", keys)
    return Section("Tuning", text, [table])


def add_tuning(report: StudyReport, records: list[dict], choices: list[dict], dropped: str | None) -> None:
    """The tuning lines of the study's protocol, and its Tuning section when arms were tuned."""
    report.protocol.update(tuning_protocol(records, choices))
    if dropped:
        report.protocol["tuning"] += f" {dropped}"
    section = tuning_section(records, choices, report.data.keys)
    if section:
        report.sections.append(section)
