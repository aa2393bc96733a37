"""Estimate a job's memory from its config before building anything, and stop when it cannot fit.

Without this, ``data.input_dim=100000`` asks the kernel for 75 GiB (the generator's feature map is
input_dim x feature_dim float64) and ``data.n_tasks=1000`` grows past 8 GB while it trains. The estimate
is a sum of named terms, each the product of the knobs that drive it, so the error names the knobs to
lower. It covers the synthetic generator (the families whose size a knob sets), a user's table (as large
as its files: a junk 3 GB ``data.path`` took 13 GB before pandas gave up) and the backbone's training state.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.provenance import FILE_KEYS

GIB = 2**30
_REFERENCE_SIZE = 4096  # bench/data/synthetic.py: inputs drawn to normalise each task's signal
_BASELINE = 0.5 * GIB  # Python, torch and Lightning before any tensor
# Peak memory of reading and encoding a table, per byte of its file (make_table, measured: 2.0 for a numeric
# CSV of 79 MiB, 4.3 with five 30-level text columns one-hot encoded); the larger, as text is common.
_TABLE_BYTES_PER_FILE_BYTE = 4.3


class FamilyTooLarge(MemoryError):
    """The job needs more memory than is available; the message is one line naming the knobs."""


@dataclass(frozen=True)
class Term:
    what: str
    knobs: str
    nbytes: float
    remedy: str = "lower those knobs"


def _count(value: Any) -> int:
    value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return len(value) if isinstance(value, list) else 1


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def synthetic_terms(data: DictConfig, seeds: int) -> list[Term]:
    """The synthetic generator's largest arrays (float64 while drawing, float32 once stored)."""
    tasks, d = _int(data.get("n_tasks"), 4), _int(data.get("input_dim"), 20)
    f = _int(data.get("feature_dim"), d)
    largest = max(_int(data.get("n_train"), 64), _int(data.get("target_size"), 0), _int(data.get("n_val"), 128),
                  _int(data.get("n_test"), 1000))
    per_task = (_int(data.get("n_train"), 64) + _int(data.get("target_size"), 0) + _int(data.get("n_val"), 128)
                + _int(data.get("n_test"), 1000))
    return [
        Term("feature map", f"data.input_dim={d}, data.feature_dim={f}", 8 * d * f),
        Term("draws", f"data.input_dim={d}, data.feature_dim={f}, largest split {largest}",
             8 * 2 * (_REFERENCE_SIZE + largest) * (d + f)),
        Term("stored splits", f"{seeds} seed(s), data.n_tasks={tasks}, {per_task} examples per task, "
             f"data.input_dim={d}", 4 * seeds * tasks * per_task * d),
    ]


def table_terms(data: DictConfig) -> list[Term]:
    """Reading and encoding the table files (``data.path``, ``val_path``, ``test_path``), from their size on disk;
    a missing file or a folder is left to the table reader, whose error names it."""
    terms = []
    for key in FILE_KEYS:
        path = Path(str(data.get(key) or "")).expanduser()
        if data.get(key) and path.is_file():
            size = path.stat().st_size
            terms.append(Term(f"table file data.{key}", f"data.{key}={data.get(key)} is {size / GIB:.1f} GiB on disk",
                              _TABLE_BYTES_PER_FILE_BYTE * size, "use a smaller table, or a machine with more memory"))
    return terms


def model_terms(cfg: DictConfig, inputs: int, tasks: int, members: int) -> list[Term]:
    """Parameters, gradients, Adam's two moments and the one copy that holds every selected state.

    STL holds one backbone copy per member and task; selection overwrites slices of one copy, so memory
    grows linearly with n_tasks (measured: peak RSS 0.52, 0.65, 0.81 GB at n_tasks 64, 256, 512).
    """
    model, trainer = cfg.model, cfg.trainer
    width, depth = _int(model.get("width"), 64), _int(model.get("depth"), 2)
    per_copy = inputs * width + (depth - 1) * width * width + width * (depth + 1)
    stl = str(cfg.regime.get("_target_", "")).endswith("SingleTask")
    copies = tasks if stl else 1
    states = 5
    chunk = _int(trainer.get("eval_every"), 50) * tasks * _int(trainer.get("batch_size"), 32) * inputs
    sizes = f"{members} member(s), model.width={width}, model.depth={depth}, data.input_dim={inputs}"
    return [
        Term("training state", sizes + (f", data.n_tasks={tasks} (STL)" if stl else ""),
             4 * members * states * copies * per_copy),
        Term("batches", f"{members} member(s), trainer.eval_every={trainer.get('eval_every')}, data.n_tasks={tasks}, "
             f"trainer.batch_size={trainer.get('batch_size')}, data.input_dim={inputs}", 4 * members * chunk),
    ]


def estimate(cfg: DictConfig) -> list[Term]:
    """The job's largest memory terms, or [] for families whose size neither a knob nor a file sets."""
    data = cfg.data
    if str(data.get("_target_", "")).endswith("make_table"):
        return table_terms(data)
    if not str(data.get("_target_", "")).endswith("make_synthetic"):
        return []
    seeds = _count(cfg.get("seed"))
    members = seeds * _count(cfg.trainer.get("lr")) * _count(cfg.trainer.get("weight_decay"))
    tasks, inputs = _int(data.get("n_tasks"), 4), _int(data.get("input_dim"), 20)
    return synthetic_terms(data, seeds) + model_terms(cfg, inputs, tasks, members)


def available_bytes() -> float:
    """Memory this process can still take: MemAvailable, capped by a cgroup (container, SLURM) limit."""
    found = [math.inf]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(found)


def check_size(cfg: DictConfig, available: float | None = None) -> None:
    """Raise FamilyTooLarge (one line, naming the knobs of the largest terms) when the job cannot fit."""
    terms = sorted(estimate(cfg), key=lambda term: -term.nbytes)
    if not terms:
        return
    needed = _BASELINE + sum(term.nbytes for term in terms)
    available = available_bytes() if available is None else available
    if needed <= available:
        return
    largest = "; ".join(f"{term.what} {term.nbytes / GIB:.1f} GiB ({term.knobs})" for term in terms[:2])
    raise FamilyTooLarge(f"this job needs about {needed / GIB:.1f} GiB, more than the {available / GIB:.1f} GiB "
                         f"available: {largest}; {terms[0].remedy}")
