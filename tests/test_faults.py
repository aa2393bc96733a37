"""Issue 22: a run or a sweep stopped from outside ends in one line, saying what was kept and how to resume.

Interrupted (Ctrl-C: SIGINT to the whole process group), killed (SIGTERM to the launcher; kill -9 of the
launcher), out of disk (a full disk when the sweep starts and in the middle of it), each through the real
CLI; a file-size limit at the write check, in-process; a read-only folder is tests/test_reliability.py's.
Before: Ctrl-C of a sweep ended in a KeyboardInterrupt traceback, of a single run in nothing at all
(Lightning's exit 1); kill -9 of the launcher left its workers training and writing into the next sweep's
journal; a full disk ended in Hydra's ``OSError: [Errno 27] File too large`` traceback.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.paths import NotWritable, check_writable
from bench.results.schema import record_problem
from bench.shutdown import child_processes
from tests.sweeping import JOB, ROOT, records, sweep_command

KEPT = "finished records are whole and kept; re-run the same command: finished runs are skipped"
QUICK = ["trainer.max_steps=100", "trainer.patience=100"]


def _fault(kind: str, seed: int = 0) -> list[str]:
    return ["+hydra.callbacks.fault._target_=tests.faults.Fault", f"+hydra.callbacks.fault.kind={kind}",
            f"+hydra.callbacks.fault.seed={seed}"]


def _live(pids: list[int]) -> list[int]:
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}") and
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _live(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _live(pids)


def _local_sweep(folder: Path, **popen) -> tuple[subprocess.Popen, list[int]]:
    """A parallel sweep (joblib workers) once its first record is written, and the launcher's children."""
    sweep = subprocess.Popen(sweep_command(folder, "local", "seed=0,1,2,3,4,5"), cwd=ROOT, start_new_session=True,
                             stdout=subprocess.DEVNULL, text=True, **popen)
    deadline = time.monotonic() + 240
    while not list((folder / "adhoc").glob("*.json")) and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    children = child_processes(sweep.pid)
    assert children, "the sweep had no worker processes"
    return sweep, children


@pytest.mark.parametrize(("name", "stop"), [
    ("SIGTERM", lambda pid: os.kill(pid, signal.SIGTERM)),  # kill PID, a scheduler's cancel: the launcher only
    ("SIGINT", lambda pid: os.killpg(pid, signal.SIGINT)),  # a terminal's Ctrl-C: the whole foreground group
])
def test_a_stopped_sweep_takes_its_workers_with_it_in_one_line(tmp_path, name, stop):
    sweep, children = _local_sweep(tmp_path, stderr=subprocess.PIPE)
    stop(sweep.pid)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode != 0
    assert "Traceback" not in stderr, stderr  # SIGTERM: joblib's resource tracker, killed too, raised 9 KeyErrors
    assert stderr.strip().splitlines()[-1] == (f"error: the sweep of study 'adhoc' was stopped ({name}), its "
                                               f"workers with it; {KEPT}")
    assert _gone_within(children, 10)  # the workers at once; joblib's resource trackers once they clean up
    kept = records(tmp_path)
    assert len(kept) < 6 and all(record_problem(record) is None for record in kept.values())


def test_killing_the_launcher_takes_its_workers_with_it(tmp_path):
    sweep, children = _local_sweep(tmp_path, stderr=subprocess.DEVNULL)
    os.kill(sweep.pid, signal.SIGKILL)  # no handler runs: each worker watches its parent
    sweep.wait(timeout=60)
    assert _gone_within(children, 10), "orphaned workers outlived their launcher (and its study lock)"
    journal = (tmp_path / "adhoc" / ".sweep.jsonl").read_text()
    time.sleep(2)
    assert (tmp_path / "adhoc" / ".sweep.jsonl").read_text() == journal  # no orphan finished a job since
    assert all(record_problem(record) is None for record in records(tmp_path).values())


def _bench_run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bench.run", *args, f"paths.experiments={folder}", *JOB, *QUICK]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ctrl_c_of_a_single_run_is_one_line(tmp_path):
    done = _bench_run(tmp_path, *_fault("interrupt"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"error: the run was stopped (SIGINT); {KEPT}"], done.stderr


def test_a_file_size_limit_fails_the_write_check_before_any_job(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 1024, hard))  # ulimit -f 8: Python ignores SIGXFSZ, gets EFBIG
    try:
        with pytest.raises(NotWritable, match=rf"cannot write records in {tmp_path / 's'} \(File too large"):
            check_writable(tmp_path / "s")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert not list((tmp_path / "s").iterdir())  # the probe is gone


def test_a_full_disk_when_the_sweep_starts_is_one_line(tmp_path):
    done = _bench_run(tmp_path, "-m", "hydra/launcher=basic", "seed=0,1", *_fault("no_space_at_start"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot write {tmp_path / 'adhoc' / 'multirun.yaml'} (No space left on device): out of disk space, "
        f"over a quota or a file-size limit, or a read-only file system; {KEPT} once there is room")


def test_a_disk_that_fills_mid_sweep_keeps_what_was_written_and_says_so(tmp_path):
    done = _bench_run(tmp_path, "-m", "hydra/launcher=basic", "seed=0,1,2", *_fault("no_space", seed=2))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "cannot add this job's outcome to the sweep journal" in done.stderr  # a warning, then the summary
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"error: only 2 of 3 jobs wrote their outcome to the sweep journal {tmp_path / 'adhoc' / '.sweep.jsonl'}")
    kept = records(tmp_path)
    assert sorted(r["seed"] for r in kept.values()) == [0, 1]
    assert all(record_problem(r) is None for r in kept.values())
    assert not list((tmp_path / "adhoc").glob(".*.tmp"))  # the failed write left no temp file
