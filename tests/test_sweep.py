"""End to end through the real CLI: a tiny sweep writes records and a report, and a re-run skips them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_steps=60", "trainer.eval_every=20", "data.n_test=64", "data.n_val=32", "data.input_dim=6",
        "model.width=16"]


def bench_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    args = ["-m", "+study=relatedness", f"paths.experiments={out / 'experiments'}", "regime=stl,mtl,tl_probe",
            "data.relatedness=0.0,1.0", "seed=0", *TINY]
    first = bench_run(*args, cwd=ROOT)
    second = bench_run(*args, cwd=ROOT)
    return out, first, second


def test_sweep_writes_one_ok_record_per_job(swept):
    out, first, _ = swept
    assert first.returncode == 0, first.stderr
    records = [json.loads(p.read_text()) for p in (out / "experiments" / "relatedness").glob("*.json")]
    assert len(records) == 6
    assert {r["status"] for r in records} == {"ok"}
    assert {(r["regime"], r["strategy"], r["knobs"]["relatedness"]) for r in records} == {
        (regime, strategy, rho) for regime, strategy in [("stl", None), ("mtl", None), ("tl", "linear_probe")]
        for rho in (0.0, 1.0)
    }
    assert all(r["versions"]["torch"] and r["timings"]["total_s"] > 0 for r in records)


def test_rerun_skips_finished_jobs(swept):
    _, _, second = swept
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("skip ") == 6
    assert " ok " not in second.stdout


def test_report_from_the_sweep(swept):
    out, _, _ = swept
    done = subprocess.run([sys.executable, "-m", "bench.report", "--experiments", str(out / "experiments"),
                           "--out", str(out / "reports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "reports" / "index.md").exists()
    assert "relatedness" in (out / "reports" / "index.md").read_text()
    study = out / "reports" / "relatedness"
    assert (study / "tidy.csv").exists()
    assert list(study.glob("*.png"))


def test_wrong_key_is_named(tmp_path):
    done = bench_run("data.relatednes=0.5", f"paths.experiments={tmp_path}", cwd=ROOT)
    assert done.returncode != 0
    assert "relatednes" in done.stderr


def test_wrong_value_is_named_before_any_job(tmp_path):
    done = bench_run("data.relatedness=2", f"paths.experiments={tmp_path}", *TINY, cwd=ROOT)
    assert done.returncode == 1
    assert "relatedness=2 is invalid" in done.stderr.strip().splitlines()[-1]
    assert not list(tmp_path.rglob("*.json"))  # the family's own check ran before the job (issue 22)
