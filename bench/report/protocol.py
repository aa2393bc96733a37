"""What a reader needs to trust the numbers: seeds, budgets, fixed settings and software, from the records."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd

SELECTION = ("Every arm uses the same backbone, optimiser, step budget and early stopping; the state kept is "
             "the one with the best validation loss, and the test split is evaluated once, at that state.")
TARGET_SCALING = ("Regression targets are standardised per task on its training rows, for every arm that trains on "
                  "them (neural arms, ridge per task); errors (MSE, RMSE, MAE) are reported in the target column's "
                  "units. The pooled scikit-learn arms pool the targets in those units, so the scaling hands them no "
                  "task's mean or spread; `ridge_pooled_tasks` gets the task only through its indicator inputs.")
# The one budget rule for every transfer strategy (bench/regimes/strategies.py), stated wherever TL runs.
TRANSFER_BUDGET = ("Transfer spends the step budget once per stage, each stage with the same early stopping: "
                   "pretraining on the sources gets `trainer.max_steps`, and adaptation to the target gets "
                   "`trainer.max_steps` again. So every strategy takes at most as many steps on the target as STL "
                   "and MTL take in all; the pretraining compute comes on top, as a pretrained model comes to "
                   "whoever adapts it. A converged linear probe is a closed-form fit and costs no step; LP-FT's "
                   "fine-tuning stage gets the whole target budget after its probe. A pretrained population taken "
                   "from the cache (`fit.pretrain.cached`) is the state its pretraining gives: it saves time only.")


def _distinct(values: list) -> list:
    """Distinct JSON-able values in first-seen order, so that a setting shared by every run prints once."""
    seen: dict[str, object] = {}
    for value in values:
        seen.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    return list(seen.values())


def _settings(section: dict, skip: set[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in section.items() if k not in skip and not k.startswith("_"))


def _unswept(configs: list[dict], section: str, knobs: set[str]) -> dict[str, list]:
    """Keys of ``section`` that differ between runs without being a knob, each with its values."""
    found: dict[str, list] = {}
    for config in configs:
        for key, value in config.get(section, {}).items():
            found.setdefault(key, []).append(value)
    return {key: _distinct(values) for key, values in found.items()
            if key not in knobs and len(_distinct(values)) > 1}


def study_protocol(records: list[dict], knobs: list[str]) -> dict[str, str]:
    """Seeds, run counts, budget, model and the data settings held fixed, each as one line of text."""
    ok = [r for r in records if r.get("status") == "ok"]
    configs = [r.get("config", {}) for r in records]
    seeds = sorted({r["seed"] for r in records})
    protocol = {
        "seeds": f"{len(seeds)} paired seeds: {', '.join(map(str, seeds))}",
        "runs": f"{len(records)} runs: {len(ok)} ok, {len(records) - len(ok)} failed",
        "varied": ", ".join(f"`{k}`" for k in knobs) or "nothing",
    }
    tuned = {"lr", "weight_decay"} if any(r.get("tuning") for r in records) else set()  # see the tuning line
    moved = _unswept(configs, "data", set(knobs))  # e.g. the transfer target in turn: not a knob, not fixed
    for section, label, skip in (("trainer", "budget", {"progress_bar", *tuned}), ("model", "model", set()),
                                 ("data", "fixed data settings", {*knobs, *moved})):
        values = _distinct([{k: v for k, v in c.get(section, {}).items() if k not in skip} for c in configs])
        protocol[label] = " | ".join(_settings(v, set()) for v in values) or "not recorded"
    if moved:
        protocol["also varied"] = ", ".join(f"`data.{key}`: {', '.join(map(str, values))}"
                                            for key, values in moved.items())
    if any((r.get("descriptors") or {}).get("target_scaling") == "per task" for r in ok):
        protocol["target scaling"] = TARGET_SCALING
    protocol["selection"] = SELECTION
    if any(r.get("regime") == "tl" for r in records):
        protocol["transfer budget"] = TRANSFER_BUDGET
    return protocol


def software_versions(records: list[dict]) -> pd.DataFrame:
    """Each package's version(s) over the records, with how many runs used each."""
    counts: dict[str, Counter] = {}
    for record in records:
        for package, version in record.get("versions", {}).items():
            counts.setdefault(package, Counter())[version] += 1
    rows = [{"package": package, "version": ", ".join(f"{v} ({n} runs)" if len(found) > 1 else v
                                                       for v, n in sorted(found.items()))}
            for package, found in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["package", "version"])


def code_label(versions: dict) -> str:
    """``0.1.0 @ 1a2b3c4d5e`` (``+ uncommitted changes`` when bench/ or conf/ differed from the commit)."""
    commit = versions.get("git_commit")
    label = f"{versions.get('mtl-transfer-bench', '?')} @ " + (commit[:10] if commit else "no commit recorded")
    return label + (" + uncommitted changes" if versions.get("git_dirty") == "yes" else "")


def code_versions(records: list[dict]) -> tuple[pd.DataFrame, str]:
    """Runs per code version (package version and git commit), and the version of this checkout."""
    from importlib import metadata

    from bench.provenance import code_commit

    try:
        package = metadata.version("mtl-transfer-bench")
    except metadata.PackageNotFoundError:
        package = "?"
    current = code_label({"mtl-transfer-bench": package, **code_commit()})
    counts = Counter(code_label(r.get("versions") or {}) for r in records)
    table = pd.DataFrame([{"code": code, "runs": n, "this checkout": "yes" if code == current else "no"}
                          for code, n in sorted(counts.items())], columns=["code", "runs", "this checkout"])
    return table, current
