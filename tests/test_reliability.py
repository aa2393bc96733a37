"""Issue 13: what a crash, a disk or a second sweep can leave behind never breaks a sweep or the report.

Each test reproduces one numbered failure of the issue (1 truncated record, 2 bad records in the report,
4 write failures, 5 errors escaping the job, 6 two sweeps of one study) through the real CLI or the
function that failed. Sweeps are tiny (tests/sweeping.py's JOB at 100 steps) on the serial launcher.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from bench.paths import NotWritable, check_writable
from bench.results import is_done, load_records, write_record
from bench.results.records import RecordWriteError
from tests.sweeping import JOB, ROOT, records

QUICK = [*JOB, "trainer.max_steps=100", "trainer.patience=100"]


def _sweep(folder, *overrides: str, popen: bool = False):
    command = [sys.executable, "-m", "bench.run", "-m", "hydra/launcher=basic", f"paths.experiments={folder}",
               *QUICK, *overrides]
    if popen:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _fault(kind: str, seed: int) -> list[str]:
    return ["+hydra.callbacks.fault._target_=tests.faults.Fault", f"+hydra.callbacks.fault.kind={kind}",
            f"+hydra.callbacks.fault.seed={seed}"]


def _ok_record(rid: str = "abc", **changes) -> dict:
    metrics = {"loss": 1.0, "mse": 1.0, "r2": 0.1}
    record = {"run_id": rid, "study": "s", "regime": "stl", "strategy": None, "seed": 0, "status": "ok",
              "knobs": {"relatedness": 0.5},
              "tasks": [{"task": "task0", "role": "target", "kind": "regression", "val": metrics, "test": metrics}]}
    return {**record, **changes}


# 1. A truncated record blocks resume for good.

def test_a_truncated_record_counts_as_missing_with_one_warning(tmp_path, capsys):
    write_record(tmp_path, _ok_record())
    path = tmp_path / "abc.json"
    path.write_text(path.read_text()[:40])
    assert not is_done(tmp_path, "abc")
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"warning: {path}: unreadable (JSONDecodeError")
    assert line.endswith("running the job again to replace it")
    (tmp_path / "def.json").write_text("[1, 2]")
    assert not is_done(tmp_path, "def")
    assert "not a run record (a JSON list" in capsys.readouterr().err
    write_record(tmp_path, _ok_record())
    assert is_done(tmp_path, "abc")


def test_a_sweep_resumes_over_a_truncated_record(tmp_path):
    first = _sweep(tmp_path, "seed=0,1")
    assert first.returncode == 0, first.stderr
    done = records(tmp_path)
    victim = sorted(done)[0]
    path = tmp_path / "adhoc" / f"{victim}.json"
    path.write_text(path.read_text()[: len(path.read_text()) // 2])  # a crash mid-write without the rename
    again = _sweep(tmp_path, "seed=0,1")
    assert again.returncode == 0, again.stderr
    assert f"warning: {path}: unreadable" in again.stderr
    assert "sweep finished: 2/2 jobs done (1 from an earlier sweep), 0 failed" in again.stdout
    assert records(tmp_path)[victim]["tasks"] == done[victim]["tasks"]  # re-run, replaced, the same result


# 2. One bad value breaks the whole report.

def test_the_report_skips_bad_and_foreign_files_one_line_each(tmp_path, capsys):
    write_record(tmp_path / "s", _ok_record("good"))
    write_record(tmp_path / "s", _ok_record("failed", status="failed", seed=1, tasks=None, error="x"))
    bad = {
        "string_seed": _ok_record("string_seed", status="failed", seed="abc", error="x"),
        "no_run_id": _ok_record(None),
        "no_regime": _ok_record("no_regime", regime=None),
        "no_tasks": _ok_record("no_tasks", tasks=None),
        "unknown_metric": _ok_record("unknown_metric", tasks=[{**_ok_record()["tasks"][0], "test": {"bleu": 1.0}}]),
    }
    for name, record in bad.items():
        (tmp_path / "s" / f"{name}.json").write_text(json.dumps({"schema": 1, **record}))
    (tmp_path / "s" / "newer.json").write_text(json.dumps({"schema": 99, **_ok_record("newer")}))
    (tmp_path / "s" / "foreign.json").write_text(json.dumps({"name": "not a record"}))
    (tmp_path / "s" / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "s" / "truncated.json").write_text('{"run_id": "t", "sta')
    (tmp_path / "s" / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "s" / "folder.json").mkdir()
    found = load_records(tmp_path)
    assert sorted(r["run_id"] for r in found) == ["failed", "good"]
    lines = capsys.readouterr().err.strip().splitlines()
    skipped = [*bad, "newer", "foreign", "list", "truncated", "binary", "folder"]
    assert len(lines) == len(skipped)
    for name in skipped:
        (line,) = [line for line in lines if f"/{name}.json" in line]
        assert line.startswith("warning: skipping")
    assert any("schema version 99" in line for line in lines)
    assert any("unknown metric 'bleu'" in line for line in lines)


def test_the_report_command_survives_bad_files(tmp_path):
    for seed in range(3):
        for regime in ("stl", "mtl"):
            write_record(tmp_path / "s", _ok_record(f"{regime}{seed}", regime=regime, seed=seed))
    (tmp_path / "s" / "bad.json").write_text(json.dumps({"schema": 1, **_ok_record("bad", seed="abc")}))
    (tmp_path / "s" / "stray.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "bench.report", "--experiments", str(tmp_path), "--out",
                           str(tmp_path / "reports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "bad.json" in done.stderr and "stray.json" in done.stderr


# 4. Write failures surface only after training.

def test_an_unwritable_experiments_path_is_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(NotWritable, match=rf"cannot write records in {blocker}/s"):
        check_writable(blocker / "s")
    for args in ([], ["-m", "hydra/launcher=basic", "seed=0,1"]):
        done = subprocess.run([sys.executable, "-m", "bench.run", *args, f"paths.experiments={blocker}", *QUICK],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith(f"error: paths.experiments: cannot write records in {blocker}/adhoc")
        assert " ok " not in done.stdout  # nothing trained


def test_a_failed_write_raises_one_error_naming_the_file(tmp_path):
    (tmp_path / "abc.json").mkdir()  # the record's path is taken: the rename fails
    with pytest.raises(RecordWriteError, match=rf"cannot write record {tmp_path / 'abc.json'} \(IsADirectoryError"):
        write_record(tmp_path, _ok_record())
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_folder_that_stops_taking_files_mid_sweep_is_a_failed_job(tmp_path):
    done = _sweep(tmp_path, "seed=0,1,2", *_fault("unwritable", 1))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "sweep finished: 3/3 jobs done, 1 failed" in done.stdout
    assert "failed job: " in done.stdout and "seed=1" in done.stdout
    assert "cannot write record" in done.stdout and "PermissionError" in done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: 1 of 3 jobs failed")
    assert len(records(tmp_path)) == 2


# 5. Any error that escapes run_job suppresses the sweep summary.

def test_an_error_escaping_the_job_is_in_the_summary(tmp_path):
    done = _sweep(tmp_path, "seed=0,1,2", *_fault("raise", 2))
    assert done.returncode == 1
    assert "sweep finished: 3/3 jobs done, 1 failed" in done.stdout
    assert "RuntimeError: injected fault in the job of seed 2" in done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: 1 of 3 jobs failed")
    assert [r["status"] for r in records(tmp_path).values()] == ["ok", "ok"]


# 6. Two sweeps of one study at once.

def test_a_second_sweep_of_a_study_stops_at_once_naming_the_first(tmp_path):
    first = _sweep(tmp_path, "seed=0,1,2,3", *_fault("slow", 0), popen=True)
    owner = tmp_path / "adhoc" / ".sweep.owner"
    deadline = time.monotonic() + 120
    while not owner.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = _sweep(tmp_path, "seed=0,1,2,3")
    out, err = first.communicate(timeout=300)
    assert second.returncode == 1
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(f"error: study folder {tmp_path / 'adhoc'} is being swept by pid {first.pid} on")
    assert first.returncode == 0, err
    assert "sweep finished: 4/4 jobs done, 0 failed" in out
    assert out.count(" ok ") == 4 and second.stdout.count(" ok ") == 0  # no job trained twice
    assert not owner.exists()
    assert _sweep(tmp_path, "seed=0,1,2,3").returncode == 0  # the lock went with the first sweep


def test_temp_cleanup_never_touches_a_live_writers_file(tmp_path):
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    live = tmp_path / f".abc.{os.getpid()}@{host}.x1.tmp"  # a writer that is still writing (this process)
    other_host = tmp_path / f".abc.{os.getpid()}@elsewhere.x2.tmp"  # cannot be asked: only aged out
    dead = tmp_path / f".abc.{gone.stdout.strip()}@{host}.x3.tmp"  # a writer killed mid-write
    old = tmp_path / ".abc.legacy1.tmp"  # an older version's name, a day old
    for path in (live, other_host, dead, old):
        path.write_text('{"half": ')
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    write_record(tmp_path, _ok_record())
    assert live.exists() and other_host.exists()
    assert not dead.exists() and not old.exists()
    assert is_done(tmp_path, "abc")


def test_a_sweep_can_wait_for_the_lock(tmp_path):
    from bench.study_lock import StudyLock, StudyLocked

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from bench.study_lock import StudyLock; lock = StudyLock(sys.argv[1]); "
        "lock.acquire(); print('held', flush=True); time.sleep(3); lock.release()"), str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    lock = StudyLock(tmp_path)
    with pytest.raises(StudyLocked, match=rf"is being swept by pid {holder.pid} on"):
        lock.acquire(wait_s=0)
    lock.acquire(wait_s=30)  # returns once the holder lets go
    assert f'"pid": {os.getpid()}' in (tmp_path / ".sweep.owner").read_text()
    lock.release()
    holder.wait(timeout=30)
