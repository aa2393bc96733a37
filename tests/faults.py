"""Fault injection through the real CLI: a Hydra callback that breaks one job the way a crash or a disk would.

Added to a sweep with ``+hydra.callbacks.fault._target_=tests.faults.Fault +hydra.callbacks.fault.kind=KIND
+hydra.callbacks.fault.seed=S``; it runs where the job runs (the basic launcher: the launching process)
and breaks only the job whose seed is S:
- ``raise``: the job function raises past run_job (a bug, an error the job does not handle);
- ``unwritable``: the study folder stops taking files (renames of records fail with EACCES), as a
  folder that turns read-only mid-sweep;
- ``slow``: the job sleeps 15 s first, so that a test can act while the sweep runs;
- ``interrupt``: the job sends SIGINT to its own process once it runs (Ctrl-C mid-job);
- ``no_space``: the disk fills up during this job: its record fails with ENOSPC, and so do its journal line
  and every later one (make it the sweep's last job);
- ``no_space_at_start``: the disk is full when the sweep starts: Hydra's ``multirun.yaml`` fails with ENOSPC
  (the seed is unused).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

_REAL_REPLACE, _REAL_OPEN = os.replace, os.open


def _denied_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    if str(dst).endswith(".json"):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
    _REAL_REPLACE(src, dst, *args, **kwargs)


def _full_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    if str(dst).endswith(".json"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
    _REAL_REPLACE(src, dst, *args, **kwargs)


def _full_open(path: Any, *args: Any, **kwargs: Any) -> int:
    if str(path).endswith(".jsonl"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return _REAL_OPEN(path, *args, **kwargs)


def _full_save(config: Any, path: Any, *args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _raising_run_job(cfg: DictConfig) -> dict:
    raise RuntimeError(f"injected fault in the job of seed {cfg.seed}")


def _interrupted_run_job(cfg: DictConfig) -> dict:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
    raise AssertionError("SIGINT did not stop the job")


class Fault(Callback):
    def __init__(self, kind: str, seed: int) -> None:
        self.kind, self.seed = kind, seed
        self._saved: dict[Any, Any] = {}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.kind == "no_space_at_start":
            from omegaconf import OmegaConf

            OmegaConf.save = _full_save

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.seed != self.seed:
            return
        if self.kind == "unwritable":
            os.replace = _denied_replace
        elif self.kind == "no_space":
            os.replace, os.open = _full_replace, _full_open
        elif self.kind == "slow":
            time.sleep(15)
        elif self.kind in ("raise", "interrupt"):
            for module in (sys.modules.get("__main__"), sys.modules.get("bench.run")):
                if module is not None and hasattr(module, "run_job"):
                    self._saved[module] = module.run_job
                    module.run_job = _raising_run_job if self.kind == "raise" else _interrupted_run_job

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.replace = _REAL_REPLACE  # os.open stays full: the journal line is appended after this callback
        for module, run_job in self._saved.items():
            module.run_job = run_job
        self._saved.clear()
