import itertools

from hydra_plugins.bench_sweeper.sweeper import covering_jobs


def test_covering_jobs_hold_every_swept_value_in_few_jobs():
    batch = [[f"regime={r}", f"data.relatedness={x}", f"seed={s}"]
             for r, x, s in itertools.product(["stl", "mtl", "tl_full", "tl_probe"], range(5), range(5))]
    picks = covering_jobs(batch)
    assert len(picks) <= 4 + 5 + 5
    assert {o for job in picks for o in job} == {o for job in batch for o in job}
    assert all(job in batch for job in picks)


def test_covering_jobs_of_a_single_job_is_that_job():
    assert covering_jobs([["seed=0"]]) == [["seed=0"]]
    assert covering_jobs([]) == []
