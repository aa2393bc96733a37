"""How a run or a sweep ends when it is stopped from outside: in one line that says what was kept.

- **Interrupted or killed** (Ctrl-C, ``kill``, a scheduler's cancel: SIGINT, SIGTERM): the process kills its
  worker processes, if it launched any, and exits non-zero with one line. joblib's resource trackers are
  spared: they free the sweep's shared memory once the launcher is gone, and killing them made loky print
  one ``KeyError: '/loky-...'`` traceback per resource after the line. Workers ignore SIGINT (Ctrl-C reaches
  the whole process group; their launcher stops them).
- **The launcher killed with SIGKILL** runs no handler, so each local worker watches its parent from the
  moment it starts (a thread started by the pool's initialiser) and kills itself once the parent is gone,
  within a second or two: no orphan trains, or idles, beside the next sweep that the freed study lock lets
  start. ``PR_SET_PDEATHSIG`` would not do: it fires when the *thread* that started the worker ends, and
  loky may start workers from its manager thread.
- **Out of disk** (a full disk, a quota, a file-size limit, a read-only file system): one line naming the
  file, wherever the write was (Hydra's ``multirun.yaml`` included).

Records are written by rename (bench/results/records.py), so whatever was written before is whole; the
jobs cut short have no record and run on the next sweep of the same command.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import time
from pathlib import Path

KEPT = "finished records are whole and kept; re-run the same command: finished runs are skipped"
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)
_WATCH_EVERY_S = 0.1


def child_processes(pid: int) -> list[int]:
    """The direct children of process ``pid``, read from Linux's /proc (none where there is no /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "(name)": the parent
                found.append(int(stat.parent.name))
    return found


def _is_resource_tracker(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def kill_workers() -> None:
    """SIGKILL this process's children but joblib's (and multiprocessing's) resource trackers."""
    for child in child_processes(os.getpid()):
        if not _is_resource_tracker(child):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)


def stop_on_signals(what: str, workers: bool) -> None:
    """On SIGTERM or SIGINT, kill the workers (``workers``) and exit with one line saying ``what`` stopped."""
    def stop(signum: int, frame: object) -> None:
        if workers:
            kill_workers()
        with_workers = ", its workers with it" if workers else ""
        sys.exit(f"error: {what} was stopped ({signal.Signals(signum).name}){with_workers}; {KEPT}")

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)


def die_with(parent: int) -> None:
    """A local worker's initialiser (joblib's loky workers, hydra_plugins/bench_sweeper): ignore Ctrl-C, and
    kill this process as soon as ``parent``, its launcher, is gone (at once if it is gone already)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_EVERY_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-launcher", daemon=True).start()


def disk_error(error: BaseException) -> str | None:
    """One line for a write that failed on a full disk, a quota, a file-size limit or a read-only file system
    (None for any other error)."""
    if not isinstance(error, OSError) or error.errno not in DISK_ERRORS:
        return None
    where = f" {error.filename}" if error.filename else ""
    return (f"cannot write{where} ({error.strerror}): out of disk space, over a quota or a file-size limit, or a "
            f"read-only file system; {KEPT} once there is room")
