"""The sweep's time-left estimate ignores the workers' start-up (synthetic journals, no training).

With joblib each worker imports torch and Lightning inside its first job, so first jobs finish late: a
rate from the elapsed time predicted 55 minutes for a sweep that took 9.
"""

from __future__ import annotations

import re

import pytest

from bench.sweep import Journal, Progress

START_UP, JOB = 300.0, 60.0  # seconds: a worker's imports, then each small job


def _journal(workers: int, jobs: int, fresh: bool = False) -> list[dict]:
    """Each worker pays START_UP once (every job, if fresh), then runs its jobs back to back."""
    entries = []
    for job in range(jobs):
        worker, turn = job % workers, job // workers
        finished = (START_UP + JOB) * (turn + 1) if fresh else START_UP + JOB * (turn + 1)
        entries.append({"status": "ok", "run_id": f"r{job}", "error": None, "job": f"seed={job}",
                        "finished": finished + 0.01 * worker, "worker": f"host:{job if fresh else worker}"})
    return sorted(entries, key=lambda entry: entry["finished"])


def _left(line: str) -> float | None:
    found = re.search(r"about (?:(\d+)h)?(?:(\d+)m)?(\d+)?s? left", line)
    if not found:
        return None
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return 3600 * hours + 60 * minutes + seconds


@pytest.mark.parametrize("workers", [1, 2, 8])
def test_time_left_is_right_from_the_first_estimate(workers):
    total = 10 * workers
    entries = _journal(workers, total)
    end = entries[-1]["finished"]
    estimates = []
    for done in range(1, total):
        now = entries[done - 1]["finished"]
        line = Progress(total, 0.0, entries[:done]).line(now)
        estimates.append((done, _left(line), end - now))
    first = next((done, left, truth) for done, left, truth in estimates if left is not None)
    assert first[0] <= workers + 1  # an estimate from the first warm job on
    for _, left, truth in estimates:
        if left is not None:
            assert abs(left - truth) <= 0.15 * truth + JOB, (left, truth)


def test_no_estimate_from_start_up_alone():
    entries = _journal(2, 20)
    line = Progress(20, 0.0, entries[:2]).line(entries[1]["finished"])
    assert "left" not in line  # the old rate said (360 s per job) x 18 jobs = 1h48m


def test_a_process_per_job_launcher_counts_start_up_in_every_job():
    entries = _journal(4, 40, fresh=True)
    now = entries[9]["finished"]
    left = _left(Progress(40, 0.0, entries[:10], fresh_workers=True).line(now))
    truth = entries[-1]["finished"] - now
    assert left is not None and abs(left - truth) <= 0.25 * truth


def test_skipped_jobs_do_not_count_as_trained():
    entries = [{"status": "skipped", "run_id": f"s{i}", "error": None, "job": "", "finished": 1.0 + i,
                "worker": "host:1"} for i in range(5)] + _journal(1, 3)
    progress = Progress(10, 0.0, entries)
    assert progress.rate() == pytest.approx(1 / JOB)
    assert "8/10 jobs done (5 from an earlier sweep)" in progress.line(entries[-1]["finished"])


def test_journal_keeps_the_launcher_kind_and_reads_old_headers(tmp_path):
    journal = Journal(tmp_path)
    journal.start(3, 1.0, fresh_workers=True)
    journal.append({"status": "ok", "run_id": "a", "error": None, "job": "seed=0", "finished": 2.0, "worker": "h:1"})
    progress = journal.read()
    assert progress.fresh_workers and progress.total == 3 and len(progress.entries) == 1
    (tmp_path / ".sweep.jsonl").write_text('{"total": 2, "started": 1.0}\n{"status": "ok", "run_id": "a"}\n')
    old = journal.read()
    assert not old.fresh_workers and old.rate() is None and "1/2 jobs done" in old.line(5.0)
