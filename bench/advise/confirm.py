"""``--confirm``: a small pilot of the advice (the deciding regime's arms and STL, a few seeds, a fraction of
the budget, untuned; bench/advise/pilot.py) and whether its answer agrees with the advice's."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bench.advise.advice import Advice
from bench.advise.outcomes import MARGIN, condition_outcomes, data_key
from bench.advise.pilot import composed, run_pilot
from bench.data.family import TaskFamily

FOLDER = Path(".advisor") / "confirm"


def _arm_overrides(arm: str, family: TaskFamily) -> list[str]:
    """Pooled pretraining joins the sources' labels: sources of several kinds or sizes pretrain a head each."""
    mixed = len({(task.kind, task.n_outputs) for task in family.sources}) > 1
    return [f"regime={arm}", *(["regime.pretrain=multi_task"] if arm.startswith("tl") and mixed else [])]


def confirm(cfg: DictConfig, overrides: list[str], advice: Advice, family: TaskFamily, settings: dict) -> dict:
    """Run the pilot and read it as the corpus reads a study: the deciding head's gain over STL and the share
    of seeds beyond the margin; it agrees when that share's majority answers as the advice did."""
    jobs = [composed([*overrides, *_arm_overrides(arm, family)]) for arm in advice.confirm_arms]
    folder = Path(cfg.paths.experiments) / FOLDER
    key = data_key(OmegaConf.to_container(jobs[0].data, resolve=True))
    records = [r for r in run_pilot(jobs, settings["seeds"], settings["fraction"], folder, cfg.study_name)
               if data_key(r["config"]["data"]) == key]
    outcome = condition_outcomes(cfg.study_name, records)
    head = advice.deciding_head
    if outcome.empty or outcome[f"{head}_gain"].isna().all():
        return {"agrees": None, "sentence": f"confirming run: no finished {head.upper()} and STL runs to compare "
                                            f"(records under {folder / cfg.study_name})"}
    row = outcome.iloc[0]
    says = bool(row[f"{head}_seed_share"] >= 0.5)
    agrees = says == (advice.regime == head)
    return {"agrees": agrees, "gain": float(row[f"{head}_gain"]), "seed_share": float(row[f"{head}_seed_share"]),
            "seeds": int(row["seeds"]), "seconds": float(row["seconds"]),
            "sentence": f"confirming run: {head.upper()} - STL = {row[f'{head}_gain']:+.2f} Δm% over {row['seeds']} "
                        f"seeds, {row[f'{head}_seed_share']:.0%} of them beyond {MARGIN:g} point: "
                        f"{'agrees with' if agrees else 'DISAGREES with'} the advice ({row['seconds']:.0f}s)"}
