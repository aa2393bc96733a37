"""Real sweeps in subprocesses: kill and resume, a failing job among others, the same records on every launcher."""

import os
import signal
import subprocess
import time

import pytest

from bench.regimes.population import schedule
from bench.results import load_records
from tests.sweeping import ROOT, records, run_sweep, sweep_command

SEEDS = "seed=0,1,2"


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A local (joblib) sweep killed with SIGKILL once a record exists, then the same sweep on the serial launcher."""
    folder = tmp_path_factory.mktemp("killed")
    sweep = subprocess.Popen(sweep_command(folder, "local", SEEDS), cwd=ROOT, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not list((folder / "adhoc").glob("*.json")) and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    os.killpg(sweep.pid, signal.SIGKILL)  # the launcher and its joblib workers, as kill -9 of the group
    sweep.wait()
    time.sleep(1)
    before = records(folder)
    stale = folder / "adhoc" / f".{'0' * 16}.abc123.tmp"  # what a writer killed mid-write leaves
    stale.write_text('{"half": ')
    resumed = run_sweep(folder, "basic", SEEDS)
    return before, resumed, records(folder), folder


def test_kill_leaves_whole_records_only(killed_and_resumed):
    before, *_ = killed_and_resumed
    assert 1 <= len(before) < 3
    assert all(record["status"] == "ok" for record in before.values())


def test_rerun_completes_only_the_missing_jobs(killed_and_resumed):
    before, resumed, after, folder = killed_and_resumed
    assert resumed.returncode == 0, resumed.stderr
    assert len(after) == 3 and all(record["status"] == "ok" for record in after.values())
    assert all(after[rid] == record for rid, record in before.items())  # finished jobs were not run again
    assert resumed.stdout.count("skip ") == len(before)
    assert f"sweep finished: 3/3 jobs done ({len(before)} from an earlier sweep), 0 failed" in resumed.stdout
    assert len(load_records(folder)) == 3  # the stale temp file is not a record


@pytest.fixture(scope="module")
def with_divergence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diverging")
    return run_sweep(folder, "local", SEEDS, "trainer.lr=0.003,1e30"), records(folder), folder


def test_a_diverging_job_fails_alone_and_the_sweep_exits_non_zero(with_divergence):
    done, found, folder = with_divergence
    assert done.returncode == 1
    by_lr = {(r["config"]["trainer"]["lr"], r["seed"]): r for r in found.values()}
    assert {key: r["status"] for key, r in by_lr.items()} == {
        (lr, seed): "ok" if lr == 0.003 else "failed" for lr in (0.003, 1e30) for seed in (0, 1, 2)}
    failed = by_lr[(1e30, 0)]
    assert failed["error"].startswith("DivergenceError: training diverged at step 2: non-finite loss")
    assert "sweep finished: 6/6 jobs done, 3 failed" in done.stdout
    assert done.stdout.count("failed job: ") == 3
    assert f"record: {folder / 'adhoc' / failed['run_id']}.json" in done.stdout
    assert "3 of 6 jobs failed in study 'adhoc'" in done.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def on_submitit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submitit")
    return run_sweep(folder, "submitit_local", "seed=0"), records(folder)


def test_submitit_local_executor_runs_the_sweep(on_submitit):
    done, found = on_submitit
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in found.values()] == ["ok"]
    assert "sweep of 1 jobs on launcher 'submitit_local'" in done.stdout
    assert "sweep finished: 1/1 jobs done, 0 failed" in done.stdout


def test_a_record_does_not_depend_on_where_it_ran(killed_and_resumed, with_divergence, on_submitit):
    """Joblib workers (beside diverging jobs) as reference; serial, killed-then-resumed and submitit runs."""
    reference = {rid: r for rid, r in with_divergence[1].items() if r["status"] == "ok"}
    before, _, after, _ = killed_and_resumed
    serial = {rid: record for rid, record in after.items() if rid not in before}
    for found in (serial, before, on_submitit[1]):
        assert found and found.keys() <= reference.keys()
        for rid, record in found.items():
            assert record["tasks"] == reference[rid]["tasks"], rid
            assert schedule(record["fit"]) == schedule(reference[rid]["fit"]), rid
