"""Running real sweeps of `python -m bench.run` in a subprocess, for the scale and failure tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Small jobs that still train for about a second, so that a kill lands while one is in flight;
# patience above the budget: every job runs its whole budget.
JOB = ["trainer.max_steps=500", "trainer.eval_every=50", "trainer.patience=100", "data.n_test=100",
       "data.n_val=32", "data.input_dim=6", "model.width=16", "regime=mtl"]


def sweep_command(folder: Path, launcher: str, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "bench.run", "-m", f"hydra/launcher={launcher}", f"paths.experiments={folder}",
            *JOB, *overrides]


def run_sweep(folder: Path, launcher: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(sweep_command(folder, launcher, *overrides), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def records(folder: Path, study: str = "adhoc") -> dict[str, dict]:
    """Every record of a study by run id, each file parsed (a half-written one fails the test)."""
    return {path.stem: json.loads(path.read_text()) for path in (Path(folder) / study).glob("*.json")}
