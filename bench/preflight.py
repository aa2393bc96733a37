"""What a job checks before it trains, and what a job that cannot run returns instead of raising.

In a sweep nothing may escape the job function: Hydra's sweeper re-raises a job's exception in the
launching process, which skips the sweep's failure summary. So the entry point turns any error into a
``failed`` outcome (``job_failed``); errors that are the user's to fix are one line, others keep their
traceback in the job's output.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable

from omegaconf import DictConfig

from bench.checks import ConfigError, check_config
from bench.paths import NotWritable, check_study_folder
from bench.results.records import RecordWriteError
from bench.size_guard import FamilyTooLarge, check_size

ONE_LINE_ERRORS = (ConfigError, NotWritable, FamilyTooLarge, RecordWriteError)


def preflight(cfg: DictConfig, overrides: Iterable[str] = ()) -> None:
    """Values, memory, a user's table and the study folder, in that order; raises one of ONE_LINE_ERRORS.
    The table's warnings are left to its data load, which logs them."""
    check_config(cfg, overrides)
    check_size(cfg)
    table_warnings(cfg)
    check_study_folder(cfg)


def table_warnings(cfg: DictConfig) -> list[str]:
    """What a ``data=table`` job's file shows before any data is built (bench/data/layout.py): raises
    ConfigError on what cannot run, returns the warnings. Other families skip it, and the import of pandas and
    torch it needs."""
    if not str(cfg.data.get("_target_", "")).endswith("make_table"):
        return []
    from bench.data.layout import check_table

    return check_table(cfg)


def job_failed(cfg: DictConfig, error: Exception) -> dict:
    """The outcome of a job that raised: a line in its output (a traceback if unexpected), no record."""
    message = str(error) if isinstance(error, ONE_LINE_ERRORS) else f"{type(error).__name__}: {error}"
    if not isinstance(error, ONE_LINE_ERRORS):
        traceback.print_exc()
    print(f"[{cfg.get('study_name')}] failed: {message}", file=sys.stderr, flush=True)
    return {"status": "failed", "run_id": None, "error": message}
