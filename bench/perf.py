"""``make perf``: how fast the suite trains and sweeps on this machine, each figure beside its baseline.

1. One training run of the suite (``Training.fit`` on a ``FamilyModule``) against a plain PyTorch loop
   doing the same work: the same backbone and heads, data, Adam settings and budget, validation every
   ``eval_every`` steps keeping the best state. Target: within 1.25x.
2. A sweep of N jobs (make bench's first study at two seeds) on the serial launcher (``basic``) against
   the local one (joblib, one worker per core), both through the CLI. Target: a speedup of at least 1.8
   on 2 cores.
3. STL on T tasks (T copies trained as one batched model) against one MTL run of the same budget.
   Target: within 1.5x.
4. Jobs per minute of the ``make bench-quick`` sweeps on the local launcher, and the time that (2)'s
   parallel rate predicts for ``make bench``. Target: 10 minutes.
5. Populations: R members trained as one batched model against the same R runs one after another in this
   process (MTL on a linear relatedness family, the default budget and early stopping), for R = 5
   and 20. Targets: 3x and 4x the throughput.
6. Peak memory (RSS) of a process training a 20-member MTL population against one training one member.
   Target: at most 1.5x.
7. STL against MTL on a synthetic family of 128 tasks (the default budget and early stopping): STL's
   stopped copies leave the computation. Target: at most 2x. 7b: the slowest ridge arm (per task, pooled,
   pooled with task indicators; each over its whole strength grid) on the same tasks. Target: a quarter
   of MTL's time at most.
8. A study tuned on an 8-setting grid against the same study untuned. Target: at most 3x.
9. The report stage (``python -m bench.report``) on the records of ``--experiments`` (make bench's, when it
   has run): wall time, peak memory and the size of ``index.html`` and of the whole report, in a fresh
   process. Targets: 20 s, 2 MB.

(1), (3) and (5) run in this process with one torch thread, best of ``--repeats`` (the least disturbed by
other work on the machine); (2) and (4) are whole CLI sweeps in subprocesses, run once, writing their
records to a temporary folder. The load average is saved with the figures: a busy machine slows all.

    python -m bench.perf [--out reports] [--repeats 3] [--experiments experiments]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.results.scan import scan_files
from bench.results.schema import choice_problem, record_problem

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
TARGETS = {"fit_vs_plain_loop": 1.25, "parallel_speedup": 1.8, "stl_vs_mtl": 1.5, "bench_minutes": 10.0,
           "population_5_speedup": 3.0, "population_20_speedup": 4.0, "population_20_memory": 1.5,
           "many_tasks_stl_vs_mtl": 2.0, "tuning_8_cost": 3.0, "many_tasks_classical_vs_mtl": 0.25,
           "report_seconds": 20.0, "index_mb": 2.0}
# Figure 8's search: an 8-setting grid (4 learning rates x 2 weight decays) for every neural arm.
GRID_8 = ["tuning.trials=8", "tuning.space={trainer.lr:[0.001,0.003,0.01,0.03],trainer.weight_decay:[0.0,0.01]}"]


def recipe_sweeps(target: str, makefile: Path = MAKEFILE) -> list[list[str]]:
    """The overrides of each ``bench.run -m`` sweep in a Makefile target's recipe (what ``make TARGET`` runs),
    the Makefile's own variables (``ROTATE := ...``) expanded."""
    lines = makefile.read_text().splitlines()
    variables = dict(re.findall(r"^([A-Z_]+) *:?= *(.*)$", "\n".join(lines), flags=re.MULTILINE))
    sweeps, in_recipe = [], False
    for line in lines:
        if not line.startswith("\t"):
            in_recipe = line.startswith(f"{target}:")
        elif in_recipe and "-m bench.run -m " in line:
            overrides = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables.get(m.group(1), m.group(0)),
                               line.split("-m bench.run -m ", 1)[1])
            sweeps.append(shlex.split(overrides.split(" #", 1)[0]))
    if not sweeps:
        raise ValueError(f"{makefile}: target {target!r} runs no `bench.run -m` sweep")
    return sweeps


def best_of(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _training_setup(steps: int):
    import torch

    from bench.data import make_synthetic
    from bench.regimes.training import Training

    torch.set_num_threads(1)
    family = make_synthetic(0, n_tasks=4, n_train=256)
    # Patience above the budget: both loops run every step, so the times compare the cost of a step.
    training = Training(max_steps=steps, eval_every=50, patience=steps, batch_size=32, lr=3e-3)
    return family, training


def plain_loop(tasks, backbone, heads, training, seed: int) -> dict:
    """What one would write by hand: sample, forward, sum the task losses, step; keep the best val state."""
    import torch

    from bench.metrics import task_loss

    params = [*backbone.parameters(), *heads.parameters()]
    optimizer = torch.optim.Adam(params, lr=training.lr, weight_decay=training.weight_decay, fused=True)
    generator = torch.Generator().manual_seed(seed)
    size, best, best_state = training.batch_size, float("inf"), None
    for step in range(1, training.steps + 1):
        picks = [torch.randint(len(task.train), (size,), generator=generator) for task in tasks]
        features = backbone(torch.cat([task.train.x[i] for task, i in zip(tasks, picks, strict=True)])[None])[0]
        loss = sum(task_loss(task.kind, head(f), task.train.y[i])
                   for task, head, f, i in zip(tasks, heads, features.split(size), picks, strict=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % training.eval_every == 0:
            with torch.no_grad():
                val = sum(float(task_loss(task.kind, head(backbone(task.val.x[None])[0]), task.val.y))
                          for task, head in zip(tasks, heads, strict=True)) / len(tasks)
            if val < best:
                best, best_state = val, copy.deepcopy({"backbone": backbone.state_dict(), "heads": heads.state_dict()})
    return best_state


def measure_fit(repeats: int, steps: int = 1000) -> dict:
    """Figure 1: the suite's fit against the plain loop, MTL over 4 tasks, same budget."""
    import torch
    from torch import nn

    from bench.models import MLPBackbone
    from bench.regimes.joint import build_module
    from bench.regimes.population import Member

    family, training = _training_setup(steps)
    shape = family.tasks[0].input_shape

    def suite() -> None:
        torch.manual_seed(0)
        module = build_module([family.tasks], MLPBackbone(shape), [Member(0, training.lr, 0.0)], shared=True)
        training.fit(module)

    def plain() -> None:
        torch.manual_seed(0)
        backbone = MLPBackbone(shape)
        heads = nn.ModuleList(nn.Linear(backbone.width, task.n_outputs) for task in family.tasks)
        plain_loop(family.tasks, backbone, heads, training, seed=0)

    suite_s, plain_s = best_of(repeats, suite), best_of(repeats, plain)
    return {"steps": training.steps, "suite_s": round(suite_s, 3), "plain_loop_s": round(plain_s, 3),
            "ms_per_step": round(1000 * suite_s / training.steps, 3), "ratio": round(suite_s / plain_s, 3)}


def _run(regime, families, backbone, training, seeds: list[int]) -> None:
    from bench.regimes.population import grid

    outcomes = regime.run(families, backbone, training, grid(seeds, [training.lr], [training.weight_decay]))
    failed = [o.error for o in outcomes if o.error]
    if failed:
        raise RuntimeError(f"perf run failed: {failed[0]}")


def measure_stl_vs_mtl(repeats: int, steps: int = 1000) -> dict:
    """Figure 3: STL over T tasks (one vectorised model) against one MTL run, through the regimes."""
    import functools

    from bench.models import MLPBackbone
    from bench.regimes import MultiTask, SingleTask

    family, training = _training_setup(steps)
    backbone = functools.partial(MLPBackbone, width=64, depth=2)
    stl_s = best_of(repeats, lambda: _run(SingleTask(), [family], backbone, training, [0]))
    mtl_s = best_of(repeats, lambda: _run(MultiTask(), [family], backbone, training, [0]))
    return {"tasks": len(family.tasks), "steps": training.steps, "stl_s": round(stl_s, 3), "mtl_s": round(mtl_s, 3),
            "ratio": round(stl_s / mtl_s, 3)}


def measure_many_tasks(tasks: int = 128) -> dict:
    """Figure 7: STL against MTL on ``tasks`` synthetic tasks, one run each, through the regimes; 7b: the
    slowest ridge arm (its whole strength grid, per task or pooled) on the same tasks against MTL."""
    import functools

    from bench.data import make_synthetic
    from bench.models import MLPBackbone
    from bench.regimes import Classical, MultiTask, SingleTask
    from bench.regimes.training import Training

    family = make_synthetic(0, n_tasks=tasks, n_train=32, n_val=64, n_test=200)
    backbone, training = functools.partial(MLPBackbone, width=64, depth=2), Training()
    stl_s = best_of(1, lambda: _run(SingleTask(), [family], backbone, training, [0]))
    mtl_s = best_of(1, lambda: _run(MultiTask(), [family], backbone, training, [0]))
    classical = {arm: best_of(1, lambda arm=arm: _run(Classical(arm), [family], backbone, training, [0]))
                 for arm in ("ridge", "ridge_pooled", "ridge_pooled_tasks")}
    return {"tasks": tasks, "stl_s": round(stl_s, 3), "mtl_s": round(mtl_s, 3), "ratio": round(stl_s / mtl_s, 3),
            "classical_s": {arm: round(s, 3) for arm, s in classical.items()},
            "classical_ratio": round(max(classical.values()) / mtl_s, 3)}


def _population_setup(members: int):
    import functools

    from bench.data import make_synthetic
    from bench.models import MLPBackbone
    from bench.regimes.training import Training

    # a linear relatedness family of 32 rows a task
    families = [make_synthetic(seed, n_train=32) for seed in range(members)]
    return families, functools.partial(MLPBackbone, width=64, depth=2), Training()


def measure_population(members: int, patience: int | None = None) -> dict:
    """Figure 5: a population of ``members`` seeds as one model against the same runs one after another.

    With early stopping a population trains until its slowest member stops, while the runs one after another
    stop each at their own step; ``patience`` above the budget makes every run take every step, which
    separates that bound from the cost of a batched step.
    """
    import dataclasses

    from bench.regimes import MultiTask

    families, backbone, training = _population_setup(members)
    if patience is not None:
        training = dataclasses.replace(training, patience=patience)
    seeds = list(range(members))
    _run(MultiTask(), families[:1], backbone, training, [0])  # warm-up: the first Trainer pays one-off costs
    population_s = best_of(2, lambda: _run(MultiTask(), families, backbone, training, seeds))
    serial_s = best_of(2, lambda: [_run(MultiTask(), [families[s]], backbone, training, [s]) for s in seeds])
    return {"members": members, "population_s": round(population_s, 3), "serial_s": round(serial_s, 3),
            "speedup": round(serial_s / population_s, 3)}


def peak_memory_mb(members: int) -> float:
    """Peak RSS of a fresh process that trains an MTL population of ``members`` seeds (figure 6)."""
    code = ("import resource, torch; torch.set_num_threads(1); from bench.perf import _population_setup, _run; "
            "from bench.regimes import MultiTask; from bench.regimes.training import quiet_lightning; "
            f"quiet_lightning(); f, b, t = _population_setup({members}); _run(MultiTask(), f, b, t, "
            f"list(range({members}))); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024


def measure_memory(members: int = 20) -> dict:
    one, many = peak_memory_mb(1), peak_memory_mb(members)
    return {"members": members, "one_mb": round(one, 1), "population_mb": round(many, 1),
            "ratio": round(many / one, 3)}


def run_sweep(overrides: list[str], launcher: str, experiments: Path) -> tuple[float, int]:
    """Wall time of one CLI sweep and the number of records it left (failing loudly if it failed)."""
    command = [sys.executable, "-m", "bench.run", "-m", *overrides, f"hydra/launcher={launcher}",
               f"paths.experiments={experiments}"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"sweep {' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, len(study_records(experiments))


def measure_sweeps(workdir: Path) -> tuple[dict, dict]:
    """Figure 2: make bench's first study (20 jobs, each a population of its 10 seeds), serial then
    parallel; figure 4: bench-quick. make bench's time is predicted from that sweep's parallel rate."""
    first = recipe_sweeps("bench")[0]
    serial_s, runs = run_sweep(first, "basic", workdir / "serial")
    jobs = sweep_jobs(first)
    parallel_s, _ = run_sweep(first, "local", workdir / "parallel")
    quick_s = sum(run_sweep(overrides, "local", workdir / "quick")[0] for overrides in recipe_sweeps("bench-quick"))
    quick_jobs = len(study_records(workdir / "quick"))
    bench_jobs = sum(sweep_jobs(overrides) for overrides in recipe_sweeps("bench"))
    training_s = job_training_seconds(workdir / "serial")
    speedup = {"jobs": jobs, "runs": runs, "sweep": " ".join(first), "cores": os.cpu_count(),
               "serial_s": round(serial_s, 2), "parallel_s": round(parallel_s, 2),
               "speedup": round(serial_s / parallel_s, 3), "training_s": round(training_s, 2),
               "best_parallel_s": round(serial_s - training_s + training_s / (os.cpu_count() or 1), 2)}
    throughput = {"jobs": quick_jobs, "minutes": round(quick_s / 60, 3),
                  "jobs_per_minute": round(quick_jobs / (quick_s / 60), 2), "bench_jobs": bench_jobs,
                  "bench_minutes_estimate": round(bench_jobs * parallel_s / jobs / 60, 2)}
    return speedup, throughput


def measure_tuning(workdir: Path) -> dict:
    """Figure 8: make bench's first study tuned on an 8-setting grid (two tuning seeds, as conf/tuning/small)
    against the same study untuned, both on the local parallel launcher. Every arm of the study runs in both,
    the scikit-learn ones untuned in both."""
    first = recipe_sweeps("bench")[0]
    untuned_s, _ = run_sweep([*first, "tuning=untuned"], "local", workdir / "untuned")
    tuned_s, _ = run_sweep([*first, *GRID_8], "local", workdir / "tuned")
    return {"sweep": " ".join(first), "untuned_s": round(untuned_s, 2), "tuned_s": round(tuned_s, 2),
            "ratio": round(tuned_s / untuned_s, 3)}


def measure_report(experiments: Path, workdir: Path) -> dict | None:
    """Figure 9: ``python -m bench.report`` on ``experiments`` in a fresh process (imports included, as
    ``make bench`` runs it): wall and CPU time, peak RSS, and the sizes it wrote. None without records."""
    records = len(study_records(experiments)) if experiments.is_dir() else 0
    if not records:
        return None
    out = workdir / "report"
    child = ("import resource, sys; from bench.report.__main__ import main; code = main(sys.argv[1:]); "
             "use = resource.getrusage(resource.RUSAGE_SELF); print(use.ru_maxrss, use.ru_utime + use.ru_stime); "
             "sys.exit(code)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", child, "--experiments", str(experiments), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    return {"records": records, "experiments": str(experiments), "seconds": round(seconds, 2),
            "cpu_s": round(float(done.stdout.split()[-1]), 2), "peak_mb": round(int(done.stdout.split()[-2]) / 1024, 1),
            "index_mb": round((out / "index.html").stat().st_size / 2**20, 2),
            "report_mb": round(size / 2**20, 1), "files": sum(1 for p in out.rglob("*") if p.is_file())}


def job_training_seconds(folder: Path) -> float:
    """The time a sweep's jobs spent in their own work (family, training, evaluation), each job once: its
    records share one ``timings.total_s``. The rest of a sweep's wall time is process start-up, imports and
    Hydra's composition, which more workers cannot shorten below one worker's share."""
    jobs = {}
    for record in scan_files(study_records(folder), record_problem)[0]:
        key = (record.get("regime"), record.get("strategy"), json.dumps(record.get("knobs"), sort_keys=True))
        jobs[key] = record.get("timings", {}).get("total_s") or 0.0
    choices = scan_files(folder.glob(".tuning/*/*.json"), choice_problem)[0]  # each job's search
    return sum(jobs.values()) + sum(choice.get("seconds", 0.0) for choice in choices)


def study_records(folder: Path) -> list[Path]:
    """The run records of a sweep's studies, not what lies in hidden folders (tuning trials and choices,
    the pretraining cache)."""
    return [path for path in folder.rglob("*.json")
            if not any(part.startswith(".") for part in path.relative_to(folder).parts)]


def sweep_jobs(overrides: list[str]) -> int:
    """Jobs in the sweep these command-line overrides launch, as Hydra's sweeper expands them."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from bench.sweep import sweep_size

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):  # compose() knows no multirun
        config = GlobalHydra.instance().hydra.compose_config("config", overrides, run_mode=RunMode.MULTIRUN)
        return sweep_size(config)


def render(figures: dict) -> str:
    fives, twenties, memory = figures["population_5"], figures["population_20"], figures["population_memory"]
    rows = [
        ("1. one training run: suite / plain PyTorch loop", figures["fit"]["ratio"], "x", "<=", "fit_vs_plain_loop"),
        ("2. sweep speedup: serial / local parallel", figures["sweep"]["speedup"], "x", ">=", "parallel_speedup"),
        ("3. STL on T tasks / one MTL run", figures["stl_vs_mtl"]["ratio"], "x", "<=", "stl_vs_mtl"),
        ("4. make bench, predicted from figure 2's parallel rate",
         figures["throughput"]["bench_minutes_estimate"], " min", "<=", "bench_minutes"),
        ("5a. population of 5: throughput vs 5 runs one after another", fives["speedup"], "x", ">=",
         "population_5_speedup"),
        ("5b. population of 20: throughput vs 20 runs one after another", twenties["speedup"], "x", ">=",
         "population_20_speedup"),
        ("6. peak memory: 20-member MTL population / one member", memory["ratio"], "x", "<=", "population_20_memory"),
        ("7. 128 tasks: STL / MTL", figures["many_tasks"]["ratio"], "x", "<=", "many_tasks_stl_vs_mtl"),
        ("7b. 128 tasks: slowest ridge arm / MTL", figures["many_tasks"]["classical_ratio"], "x", "<=",
         "many_tasks_classical_vs_mtl"),
        ("8. a study tuned on an 8-setting grid / untuned", figures["tuning"]["ratio"], "x", "<=", "tuning_8_cost"),
    ]
    report = figures.get("report")
    if report:
        rows += [(f"9a. report stage on {report['records']} records", report["seconds"], " s", "<=", "report_seconds"),
                 ("9b. its index.html", report["index_mb"], " MB", "<=", "index_mb")]
    lines = ["# Performance on this machine", "", f"Measured {figures['machine']['when']} on "
             f"{figures['machine']['cores']} cores (load average before/after: {figures['machine']['load_before']} / "
             f"{figures['machine']['load_after']}); torch {figures['machine']['torch']}, one thread per job.", "",
             "| figure | measured | target | met |", "| --- | --- | --- | --- |"]
    for label, value, unit, sense, key in rows:
        met = value <= TARGETS[key] if sense == "<=" else value >= TARGETS[key]
        lines.append(f"| {label} | {value}{unit} | {sense} {TARGETS[key]}{unit} | {'yes' if met else 'no'} |")
    fit, stl, sweep, rate = figures["fit"], figures["stl_vs_mtl"], figures["sweep"], figures["throughput"]
    lines += [
        "",
        f"1. MTL, 4 tasks, {fit['steps']} steps: suite {fit['suite_s']}s ({fit['ms_per_step']} ms/step), "
        f"plain loop {fit['plain_loop_s']}s.",
        f"2. {sweep['jobs']} jobs, {sweep.get('runs', '?')} runs (`{sweep['sweep']}`): serial {sweep['serial_s']}s, "
        f"local parallel {sweep['parallel_s']}s, each including the start-up and imports of its processes. The "
        f"jobs' own work is {sweep.get('training_s', '?')}s of the serial sweep; the rest is start-up, imports "
        f"and composition, so even a perfect split of the work over {sweep['cores']} cores would take "
        f"{sweep.get('best_parallel_s', '?')}s: what bounds figure 2 is that fixed cost, against jobs that now "
        "train a population of 10 seeds in about a second.",
        f"3. {stl['tasks']} tasks, {stl['steps']} steps: STL {stl['stl_s']}s, MTL {stl['mtl_s']}s.",
        f"4. bench-quick: {rate['jobs']} jobs in {rate['minutes']} min = {rate['jobs_per_minute']} jobs/min (three "
        f"short sweeps, each paying its start-up); make bench has {rate['bench_jobs']} jobs, about "
        f"{rate['bench_minutes_estimate']} min at figure 2's parallel rate.",
        f"5. MTL on the relatedness family (default budget, early stopping): 5 members in {fives['population_s']}s "
        f"as one population, {fives['serial_s']}s one after another; 20 members in {twenties['population_s']}s "
        f"and {twenties['serial_s']}s. With every run taking every step of the budget (no early stopping), 5 "
        f"members run {figures['population_5_every_step']['speedup']}x faster as one population: the gap to 5a "
        "is early stopping, a population lasting as long as its slowest member.",
        f"6. peak RSS {memory['population_mb']} MB for 20 members, {memory['one_mb']} MB for one (most of it is "
        "torch and Lightning themselves).",
        f"7. {figures['many_tasks']['tasks']} synthetic tasks: STL {figures['many_tasks']['stl_s']}s, "
        f"MTL {figures['many_tasks']['mtl_s']}s; the ridge arms (17 strengths each) "
        f"{', '.join(f'{arm} {s}s' for arm, s in figures['many_tasks']['classical_s'].items())}.",
        f"8. `{figures['tuning']['sweep']}` on the local launcher: untuned {figures['tuning']['untuned_s']}s, tuned "
        f"{figures['tuning']['tuned_s']}s (each neural arm: 8 settings x 2 tuning seeds as one population per "
        "setting group, then its 10 evaluation seeds; make bench's `tuning=small` has 6).",
        (f"9. `python -m bench.report` on `{report['experiments']}` in a fresh process, imports included: "
         f"{report['seconds']} s ({report['cpu_s']} s of CPU: the two differ on a busy machine), peak RSS "
         f"{report['peak_mb']} MB; index.html {report['index_mb']} MB, the whole "
         f"report {report['report_mb']} MB in {report['files']} files." if report else
         "9. not measured: no run records in the experiments folder (run `make bench` first, or pass "
         "`--experiments`)."),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="folder for perf.json and perf.md")
    parser.add_argument("--repeats", type=int, default=3, help="runs of figures 1 and 3; the fastest counts")
    parser.add_argument("--experiments", type=Path, default=ROOT / "experiments",
                        help="the run records figure 9 builds a report from (make bench's)")
    parser.add_argument("--report-only", action="store_true", help="measure figure 9 alone and print it")
    args = parser.parse_args(argv)
    if args.report_only:
        with tempfile.TemporaryDirectory(prefix="bench-perf-") as workdir:
            print(json.dumps(measure_report(args.experiments, Path(workdir)), indent=1))
        return
    import torch

    from bench.regimes.training import quiet_lightning

    quiet_lightning()

    machine = {"when": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "python": platform.python_version(),
               "torch": torch.__version__, "load_before": round(os.getloadavg()[0], 2)}
    figures = {"machine": machine}
    print("figure 9: the report stage ...", flush=True)  # first: the others' load would slow it
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as workdir:
        figures["report"] = measure_report(args.experiments, Path(workdir))
    print("figure 1: a training run vs the plain loop ...", flush=True)
    figures["fit"] = measure_fit(args.repeats)
    print("figure 3: STL vs MTL ...", flush=True)
    figures["stl_vs_mtl"] = measure_stl_vs_mtl(args.repeats)
    print("figures 5 and 6: populations of 5 and 20 members vs runs one after another, peak memory ...", flush=True)
    figures["population_5"], figures["population_20"] = measure_population(5), measure_population(20)
    figures["population_5_every_step"] = measure_population(5, patience=10**6)
    figures["population_memory"] = measure_memory()
    print("figure 7: STL vs MTL on 128 tasks ...", flush=True)
    figures["many_tasks"] = measure_many_tasks()
    print("figures 2 and 4: sweeps, serial and local parallel (a few minutes) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as workdir:
        figures["sweep"], figures["throughput"] = measure_sweeps(Path(workdir))
        print("figure 8: a study tuned on an 8-setting grid vs untuned ...", flush=True)
        figures["tuning"] = measure_tuning(Path(workdir))
    machine["load_after"] = round(os.getloadavg()[0], 2)
    figures["targets"] = TARGETS
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perf.json").write_text(json.dumps(figures, indent=1) + "\n")
    text = render(figures)
    (args.out / "perf.md").write_text(text)
    print(text)
    print(f"written: {args.out / 'perf.json'}, {args.out / 'perf.md'}")


if __name__ == "__main__":
    main()
