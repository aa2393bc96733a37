"""A basic sweeper whose up-front check composes a few covering jobs, not every job.

Hydra's BasicSweeper composes every job's config in the launching process before launching any (about
half a second each here), then the launcher composes it again where the job runs. On a 100-job study
that serial check is a third of the wall time, with the workers idle. Composition fails on a key or a
value, not on a combination, so composing a set of jobs in which every swept value appears once finds
the same errors before anything runs; checking the values of those jobs too (bench.checks) stops a bad
swept value with one line. Its local workers (joblib's loky processes) die with the launching process,
however it dies (bench/shutdown.py). Everything else is BasicSweeper's.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

import bench.config_schema  # noqa: F401 - Hydra imports its plugins before composing: the schemas conf/ names


def covering_jobs(batch: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """The first job holding each (position, override) not seen in an earlier pick, in order."""
    seen: set[tuple[int, str]] = set()
    picks = []
    for overrides in batch:
        items = set(enumerate(overrides))
        if not items <= seen:
            picks.append(overrides)
            seen |= items
    return picks


class CoveringSweeper(BasicSweeper):
    def sweep(self, arguments: list[str]) -> Any:
        """BasicSweeper's sweep, each local worker started by ``die_with`` this process. Hydra's joblib launcher
        names its backend ("loky"), so the sweep registers that name with the initialiser, then restores it."""
        from joblib import parallel, register_parallel_backend

        from bench.shutdown import die_with

        loky = parallel.BACKENDS["loky"]
        register_parallel_backend("loky", functools.partial(loky, initializer=die_with, initargs=(os.getpid(),)))
        try:
            return super().sweep(arguments)
        finally:
            register_parallel_backend("loky", loky)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Compose the covering jobs and check their values, memory and table (bench.checks, bench.size_guard,
        bench.data.layout): a bad swept value stops the sweep with one line before any job trains."""
        from bench.checks import ConfigError, check_config
        from bench.preflight import table_warnings
        from bench.size_guard import FamilyTooLarge, check_size

        warned: set[str] = set()
        for overrides in covering_jobs(batch):
            job = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                check_config(job, overrides)
                check_size(job)
                for warning in set(table_warnings(job)) - warned:  # once per sweep, not once per job
                    print(f"warning: {warning}", file=sys.stderr, flush=True)
                    warned.add(warning)
            except (ConfigError, FamilyTooLarge) as error:
                sys.exit(f"error: {error} (in the sweep's job {' '.join(overrides)})")
