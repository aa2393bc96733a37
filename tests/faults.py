"""Fault injection through the real CLI: a Hydra callback that breaks one job the way a crash or a disk would.

Added to a sweep with ``+hydra.callbacks.fault._target_=tests.faults.Fault +hydra.callbacks.fault.kind=KIND
+hydra.callbacks.fault.seed=S``; it runs where the job runs (the basic launcher: the launching process)
and breaks only the job whose seed is S:
- ``raise``: the job function raises past run_job (a bug, an error the job does not handle);
- ``unwritable``: the study folder stops taking files (renames of records fail with EACCES), as a
  folder that turns read-only mid-sweep;
- ``slow``: the job sleeps 15 s first, so that a test can act while the sweep runs.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

_REAL_REPLACE = os.replace


def _denied_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    if str(dst).endswith(".json"):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
    _REAL_REPLACE(src, dst, *args, **kwargs)


def _raising_run_job(cfg: DictConfig) -> dict:
    raise RuntimeError(f"injected fault in the job of seed {cfg.seed}")


class Fault(Callback):
    def __init__(self, kind: str, seed: int) -> None:
        self.kind, self.seed = kind, seed
        self._saved: dict[Any, Any] = {}

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.seed != self.seed:
            return
        if self.kind == "unwritable":
            os.replace = _denied_replace
        elif self.kind == "slow":
            time.sleep(15)
        elif self.kind == "raise":
            for module in (sys.modules.get("__main__"), sys.modules.get("bench.run")):
                if module is not None and hasattr(module, "run_job"):
                    self._saved[module] = module.run_job
                    module.run_job = _raising_run_job

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.replace = _REAL_REPLACE
        for module, run_job in self._saved.items():
            module.run_job = run_job
        self._saved.clear()
