"""Where a sweep stands and how it ended, whichever launcher runs its jobs (a Hydra callback).

Jobs run in joblib workers, on SLURM nodes or in Ray workers, so what they share is the study folder:
each finished job appends one line (finished, failed or already done) to ``<study>/.sweep.jsonl``; the
process that launched the sweep watches that journal, prints progress when it grows, and at the end
prints a summary and exits non-zero if a job failed. Before any job runs, the launching process checks
the config, the launcher and that the study folder takes files, and locks the study folder: a second
sweep of the same study stops with a line naming the first (bench/study_lock.py). A sweep stopped from
outside (Ctrl-C, kill, kill -9, a full disk) ends in one line, its workers with it (bench/shutdown.py).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from bench.checks import ConfigError, check_config, check_launcher
from bench.paths import NotWritable, check_study_folder
from bench.shutdown import KEPT, stop_on_signals
from bench.study_lock import StudyLock, StudyLocked

JOURNAL = ".sweep.jsonl"


def study_dir(config: DictConfig) -> Path:
    return Path(config.paths.experiments) / config.study_name


def sweep_size(config: DictConfig) -> int | None:
    """How many jobs a basic sweeper (or a subclass) launches for ``config`` (None for other sweepers)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.utils import get_class

    sweeper = config.hydra.sweeper
    if not issubclass(get_class(sweeper.get("_target_")), BasicSweeper):
        return None

    arguments = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    arguments += list(config.hydra.overrides.task)
    (jobs,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(arguments), None)
    return len(jobs)


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class Progress:
    """What the journal says: the sweep's size and start, and one entry per finished job.

    ``fresh_workers``: the launcher starts a process per job (submitit), so no worker is ever warm.
    """

    total: int | None
    started: float
    entries: list[dict[str, Any]] = field(default_factory=list)
    fresh_workers: bool = False

    def count(self, status: str) -> int:
        return sum(entry["status"] == status for entry in self.entries)

    def rate(self) -> float | None:
        """Jobs per second once the workers are warm, or None until that can be told.

        A worker's first job pays its start-up (importing torch and Lightning takes longer than a small
        job), so it is left out: each worker's rate is the jobs it finished after its first over the time
        since, and the sweep's rate is that per-worker rate times the workers seen. Where every job gets
        a fresh process, every job pays the start-up: the rate is the jobs finished after the first one
        over the time since it finished.
        """
        trained = sorted((entry for entry in self.entries if entry["status"] != "skipped" and "finished" in entry),
                         key=lambda entry: entry["finished"])
        finishes: dict[Any, list[float]] = defaultdict(list)
        for entry in trained:
            finishes[entry.get("worker")].append(entry["finished"])
        warm = sum(len(times) - 1 for times in finishes.values())
        busy = sum(times[-1] - times[0] for times in finishes.values())
        if warm and busy > 0:
            return warm / busy * len(finishes)
        if self.fresh_workers and len(trained) > 1 and trained[-1]["finished"] > trained[0]["finished"]:
            return (len(trained) - 1) / (trained[-1]["finished"] - trained[0]["finished"])
        return None

    def line(self, now: float) -> str:
        done, failed, earlier = len(self.entries), self.count("failed"), self.count("skipped")
        parts = [f"{done}/{self.total if self.total is not None else '?'} jobs done"]
        if earlier:
            parts[0] += f" ({earlier} from an earlier sweep)"
        parts += [f"{failed} failed", f"{duration(now - self.started)} elapsed"]
        rate = self.rate()
        if self.total is not None and rate and done < self.total:
            parts.append(f"about {duration((self.total - done) / rate)} left")
        return ", ".join(parts)


class Journal:
    """``<study>/.sweep.jsonl``: a header line, then one line per finished job, appended by the job."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / JOURNAL

    def start(self, total: int | None, started: float, fresh_workers: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"total": total, "started": started, "fresh_workers": fresh_workers}) + "\n")

    def append(self, entry: dict[str, Any]) -> None:
        # One write of one line with O_APPEND: parallel jobs never interleave within a line.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
        finally:
            os.close(fd)

    def read(self) -> Progress | None:
        try:
            header, *lines = self.path.read_text().splitlines()
            header = json.loads(header)
        except (OSError, ValueError):
            return None
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a job killed while writing it
                continue
        return Progress(header.get("total"), header.get("started", 0.0), entries, bool(header.get("fresh_workers")))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line: a watcher thread and a job may print together
    sys.stdout.flush()


def _job_entry(job_return: JobReturn) -> dict[str, Any]:
    """The job's status, run id and error from what it returned (a dict; extra keys are ignored)."""
    try:
        outcome = job_return.return_value  # re-raises what the job raised
    except Exception as error:  # noqa: BLE001 - a job that escaped bench.run's own handling
        return {"status": "failed", "run_id": None, "error": f"{type(error).__name__}: {error}"}
    if not isinstance(outcome, dict) or outcome.get("status") not in ("ok", "failed", "skipped"):
        return {"status": "failed", "run_id": None, "error": f"the job returned {outcome!r}, not an outcome"}
    return {"status": outcome["status"], "run_id": outcome.get("run_id"), "error": outcome.get("error")}


class SweepProgress(Callback):
    """Progress across a sweep's jobs (done / total, failed, elapsed, time left) and its outcome.

    Registered under ``hydra.callbacks`` in conf/config.yaml. ``every_s`` is how often the launching
    process looks at the journal; a line is printed only when a job has finished since the last look.
    ``lock_wait_s`` is how long a sweep waits for another sweep of its study to end (0: stop at once;
    negative: wait for ever).
    """

    def __init__(self, every_s: float = 2.0, lock_wait_s: float = 0.0) -> None:
        self.every_s, self.lock_wait_s = every_s, lock_wait_s
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock: StudyLock | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Launchers ship the callback to every job; the watcher thread and the lock stay with the launcher.
        return {"every_s": self.every_s, "lock_wait_s": self.lock_wait_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check what every job shares, lock the study folder, start the journal: all before any job."""
        folder, total = study_dir(config), sweep_size(config)
        journal = Journal(folder)
        try:
            check_config(config, config.hydra.overrides.task)
            check_launcher(config.hydra.launcher)
            check_study_folder(config)
            self._lock = StudyLock(folder)
            self._lock.acquire(self.lock_wait_s)
            fresh_workers = "submitit" in str(config.hydra.launcher.get("_target_", "")).lower()
            journal.start(total, time.time(), fresh_workers)
        except (ConfigError, NotWritable, StudyLocked) as error:
            sys.exit(f"error: {error}")  # SystemExit: Hydra turns a callback's exceptions into warnings
        except OSError as error:
            sys.exit(f"error: cannot start the sweep in {folder} ({error.strerror or error}: {error.filename}); "
                     "nothing ran; re-run the same command once the study folder takes files")
        launcher = config.hydra.runtime.choices.get("hydra/launcher")
        _say(f"[{config.study_name}] sweep of {total if total is not None else '?'} jobs on launcher "
             f"{launcher!r}; records in {folder}")
        self._watcher = threading.Thread(target=self._watch, args=(journal, config.study_name), daemon=True)
        self._watcher.start()
        stop_on_signals(f"the sweep of study {config.study_name!r}", workers=True)

    def _watch(self, journal: Journal, study: str) -> None:
        shown = 0
        while not self._stop.wait(self.every_s):
            progress = journal.read()
            if progress is not None and len(progress.entries) > shown:
                shown = len(progress.entries)
                _say(f"[{study}] {progress.line(time.time())}")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Runs where the job ran (a worker, a node): the journal on disk is what reaches the launcher."""
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            return
        entry = _job_entry(job_return)
        entry.update(job=" ".join(HydraConfig.get().overrides.task), finished=time.time(),
                     worker=f"{socket.gethostname()}:{os.getpid()}")
        try:
            Journal(study_dir(config)).append(entry)
        except OSError as error:
            print(f"warning: cannot add this job's outcome to the sweep journal {study_dir(config) / JOURNAL} "
                  f"({type(error).__name__}: {error.strerror or error})", file=sys.stderr, flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        try:
            self._summarise(study_dir(config), config.study_name)
        finally:
            if self._lock is not None:
                self._lock.release()

    def _summarise(self, folder: Path, study: str) -> None:
        progress = Journal(folder).read()
        if progress is None:
            sys.exit(f"error: cannot read the sweep journal {folder / JOURNAL}, so the jobs' outcomes are unknown; "
                     "re-run the same command: finished jobs are skipped")
        _say(f"[{study}] sweep finished: {progress.line(time.time())}")
        if progress.total is not None and len(progress.entries) < progress.total:
            sys.exit(f"error: only {len(progress.entries)} of {progress.total} jobs wrote their outcome to the sweep "
                     f"journal {folder / JOURNAL} (a full disk?: see the warnings above); {KEPT}")
        failed = [entry for entry in progress.entries if entry["status"] == "failed"]
        for entry in failed:
            where = folder / f"{entry['run_id']}.json" if entry.get("run_id") else "no record"
            _say(f"[{study}] failed job: {entry.get('job')}\n    {entry.get('error')}\n    record: {where}")
        if failed:
            sys.exit(f"error: {len(failed)} of {len(progress.entries)} jobs failed in study {study!r}; "
                     "re-run the same command to retry only the failed and missing jobs")
