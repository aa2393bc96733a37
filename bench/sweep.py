"""Where a sweep stands and how it ended, whichever launcher runs its jobs (a Hydra callback).

Jobs run in joblib workers, on SLURM nodes or in Ray workers, so what they share is the study folder:
each finished job appends one line (finished, failed or already done) to ``<study>/.sweep.jsonl``; the
process that launched the sweep watches that journal, prints progress when it grows, and at the end
prints a summary and exits non-zero if a job failed. Two sweeps of one study at the same time would
mix their progress (never their records): run them one after the other.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

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
    """What the journal says: the sweep's size and start, and one entry per finished job."""

    total: int | None
    started: float
    entries: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(entry["status"] == status for entry in self.entries)

    def line(self, now: float) -> str:
        done, failed, earlier = len(self.entries), self.count("failed"), self.count("skipped")
        elapsed = now - self.started
        parts = [f"{done}/{self.total if self.total is not None else '?'} jobs done"]
        if earlier:
            parts[0] += f" ({earlier} from an earlier sweep)"
        parts += [f"{failed} failed", f"{duration(elapsed)} elapsed"]
        trained = done - earlier
        if self.total is not None and trained and done < self.total:
            parts.append(f"about {duration(elapsed / trained * (self.total - done))} left")
        return ", ".join(parts)


class Journal:
    """``<study>/.sweep.jsonl``: a header line, then one line per finished job, appended by the job."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / JOURNAL

    def start(self, total: int | None, started: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"total": total, "started": started}) + "\n")

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
        except (FileNotFoundError, ValueError):
            return None
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a job killed while writing it
                continue
        return Progress(**json.loads(header), entries=entries)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line: a watcher thread and a job may print together
    sys.stdout.flush()


def _job_entry(job_return: JobReturn) -> dict[str, Any]:
    try:
        record = job_return.return_value  # re-raises what the job raised
    except Exception as error:  # noqa: BLE001 - a job that escaped bench.run's own handling
        return {"status": "failed", "run_id": None, "error": f"{type(error).__name__}: {error}"}
    return {"status": record["status"], "run_id": record["run_id"], "error": record.get("error")}


class SweepProgress(Callback):
    """Progress across a sweep's jobs (done / total, failed, elapsed, time left) and its outcome.

    Registered under ``hydra.callbacks`` in conf/config.yaml. ``every_s`` is how often the launching
    process looks at the journal; a line is printed only when a job has finished since the last look.
    """

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        # Launchers ship the callback to every job; the watcher thread stays with the launching process.
        return {"every_s": self.every_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder, total = study_dir(config), sweep_size(config)
        journal = Journal(folder)
        journal.start(total, time.time())
        launcher = config.hydra.runtime.choices.get("hydra/launcher")
        _say(f"[{config.study_name}] sweep of {total if total is not None else '?'} jobs on launcher "
             f"{launcher!r}; records in {folder}")
        self._watcher = threading.Thread(target=self._watch, args=(journal, config.study_name), daemon=True)
        self._watcher.start()

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
        entry["job"] = " ".join(HydraConfig.get().overrides.task)
        Journal(study_dir(config)).append(entry)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        folder, study = study_dir(config), config.study_name
        progress = Journal(folder).read()
        if progress is None:
            return
        _say(f"[{study}] sweep finished: {progress.line(time.time())}")
        failed = [entry for entry in progress.entries if entry["status"] == "failed"]
        for entry in failed:
            where = folder / f"{entry['run_id']}.json" if entry["run_id"] else "no record"
            _say(f"[{study}] failed job: {entry['job']}\n    {entry['error']}\n    record: {where}")
        if failed:
            sys.exit(f"error: {len(failed)} of {len(progress.entries)} jobs failed in study {study!r}; "
                     "re-run the same command to retry only the failed and missing jobs")
