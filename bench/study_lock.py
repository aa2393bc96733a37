"""One sweep of a study at a time: a lock on the study folder, held by the process that launched the sweep.

Two sweeps of one study would train the same jobs twice and mix their progress in one journal. The lock
is ``filelock``'s (an OS lock on ``<study>/.sweep.lock``), so a sweep killed with ``kill -9`` or a lost
node leaves no stale lock. Beside it, ``.sweep.owner`` says which sweep holds it, for the second one's
error line.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

LOCK, OWNER = ".sweep.lock", ".sweep.owner"


class StudyLocked(RuntimeError):
    """Another sweep holds the study folder; the message is one line saying which."""


class StudyLock:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = FileLock(self.folder / LOCK)

    def holder(self) -> str:
        """Who holds the lock, as written by the holder (best effort: it may be gone already)."""
        try:
            owner = json.loads((self.folder / OWNER).read_text())
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["started"]))
            return f"pid {owner['pid']} on {owner['host']} since {started} ({owner['command']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another sweep"

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait_s`` seconds (negative: for ever); StudyLocked otherwise."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            if wait_s == 0:
                raise StudyLocked(self._locked_message()) from None
            print(f"waiting for the sweep of {self.folder} by {self.holder()} to finish", file=sys.stderr,
                  flush=True)
            try:
                self._lock.acquire(timeout=wait_s, poll_interval=1.0)
            except Timeout:
                raise StudyLocked(self._locked_message()) from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                 "command": " ".join(["python", *sys.argv])}
        (self.folder / OWNER).write_text(json.dumps(owner) + "\n")

    def _locked_message(self) -> str:
        return (f"study folder {self.folder} is being swept by {self.holder()}; wait for that sweep to end "
                "(or pass hydra.callbacks.progress.lock_wait_s=-1 to wait), or choose another study_name")

    def release(self) -> None:
        if self._lock.is_locked:
            (self.folder / OWNER).unlink(missing_ok=True)
            self._lock.release()
