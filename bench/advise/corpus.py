"""``python -m bench.advise.corpus``: the advisor's examples, one per condition of every corpus study.

Each example holds the family's descriptors (bench/advise/descriptors.py, on one draw of its data), the
outcome its records give for MTL and TL against STL (bench/advise/outcomes.py), the family (its study) and
source it came from, what its arms cost to train, and the answer of a pilot (bench/advise/pilot.py) with its
cost. Records are read as the report reads them (tuned runs where an arm was tuned). Descriptors are cached
under ``<experiments>/.advisor/descriptors/``, keyed by the data config, the seed and this code: re-running
after new records measures only what is new. The corpus is written as CSV; its hash goes into the advisor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from bench.advise.descriptors import DESCRIPTORS, Description, describe
from bench.advise.outcomes import ARMS, HEADS, arm_of, condition_outcomes, data_key
from bench.advise.pilot import CONF, FOLDER, from_record, run_pilot
from bench.data.validation import draw_family
from bench.report.tuning import keep_tuned
from bench.results import load_records

SETTINGS = CONF / "advise" / "advisor.yaml"
CORPUS = Path(__file__).parent / "data" / "corpus.csv"
_DESCRIPTOR_CODE = ("rows.py", "linear.py", "shift.py", "affinity.py", "logme.py", "descriptors.py")


def load_settings() -> dict:
    return OmegaConf.to_container(OmegaConf.load(SETTINGS))


def code_hash() -> str:
    """The descriptors' code: a cached description is reused only if this is unchanged."""
    digest = hashlib.sha256()
    for name in _DESCRIPTOR_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def cached_description(data: dict, seed: int, cache: Path) -> Description:
    key = hashlib.sha256(f"{data_key(data)}|{seed}|{code_hash()}".encode()).hexdigest()[:20]
    path = cache / f"{key}.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return Description({k: float(v) for k, v in stored["values"].items()}, stored["seconds"], stored["step_ms"])
    description = describe(draw_family(OmegaConf.create(data), seed), seed)
    cache.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"values": description.values, "seconds": description.seconds,
                                     "step_ms": description.step_ms}))
    temporary.replace(path)
    return description


def study_examples(study: str, source: str, experiments: Path, settings: dict) -> list[dict]:
    """The examples of one study's conditions (none when it has no records)."""
    records, _ = keep_tuned(load_records(experiments / study))
    outcomes = condition_outcomes(study, records)
    if outcomes.empty:
        return []
    pilot_settings = settings["pilot"]
    jobs = [from_record(config) for configs in outcomes["configs"] for arm, config in configs.items()
            if arm_of(arm) in ARMS]
    pilots = condition_outcomes(study, run_pilot(jobs, pilot_settings["seeds"], pilot_settings["fraction"],
                                                  experiments / FOLDER, study))
    pilot_of = {data_key(row["data"]): row for _, row in pilots.iterrows()}
    examples = []
    for _, outcome in outcomes.iterrows():
        description = cached_description(outcome["data"], settings["descriptor_seed"],
                                         experiments / ".advisor" / "descriptors")
        pilot = pilot_of.get(data_key(outcome["data"]))
        example = {"family": study, "source": source, "condition": outcome["condition"], "seeds": outcome["seeds"],
                   **description.values, "descriptor_seconds": description.seconds, "step_ms": description.step_ms,
                   "study_seconds": outcome["seconds"],
                   "pilot_seconds": pilot["seconds"] if pilot is not None else float("nan")}
        for head in HEADS:
            for field in ("gain", "beats", "seed_share"):
                example[f"{head}_{field}"] = outcome[f"{head}_{field}"]
                example[f"pilot_{head}_{field}"] = pilot[f"{head}_{field}"] if pilot is not None else float("nan")
        examples.append(example)
    return examples


def build(experiments: Path, settings: dict) -> pd.DataFrame:
    examples = []
    for study, source in settings["studies"].items():
        if not (experiments / study).is_dir():
            print(f"[advisor] skip {study}: no records in {experiments / study}", flush=True)
            continue
        started = time.perf_counter()
        found = study_examples(study, source, experiments, settings)
        print(f"[advisor] {study}: {len(found)} condition(s) ({time.perf_counter() - started:.0f}s)", flush=True)
        examples += found
    columns = ["family", "source", "condition", "seeds", *DESCRIPTORS]
    frame = pd.DataFrame(examples)
    return frame[columns + [c for c in frame.columns if c not in columns]] if examples else frame


def corpus_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.advise.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=Path, default=Path("experiments"), help="folder of run records")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="where to write the corpus (CSV)")
    args = parser.parse_args(argv)
    settings = load_settings()
    frame = build(args.experiments, settings)
    if frame.empty:
        print(f"error: no corpus study has records under {args.experiments}; run `make advisor`", file=sys.stderr)
        return 1
    args.corpus.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.corpus, index=False, float_format="%.6g")
    print(f"[advisor] corpus: {len(frame)} examples from {frame['family'].nunique()} families -> {args.corpus} "
          f"(sha256 {corpus_hash(args.corpus)[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
