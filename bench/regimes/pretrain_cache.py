"""Cached pretraining: a sweep over target sizes and strategies pretrains each source population once.

The key hashes everything the pretrained state depends on: every member's pretraining tasks (names, kinds,
class weights, the bytes of their train and val splits), the backbone recipe, the training settings, the
members (seed, lr, weight decay, in order), the device type, torch's version and the source of the
``bench`` package (any code change is a new key). A hit therefore restores exactly the state that training
would produce. Entries are written atomically (a temporary file, then a rename), so parallel jobs that
pretrain the same population at once leave one whole entry. ``bench.run`` caches in
``<experiments>/.pretrained`` for the duration of a job (``caching_in``); outside one, nothing is cached.
The transferability diagnostics of a pretrained population on a target (``remembered``) are kept beside it,
keyed by its key and the target's bytes: every strategy of a condition shares them, so they are computed once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.data.family import Task
from bench.regimes.module import PopulationModule
from bench.regimes.population import Member, MemberFit
from bench.regimes.training import Training
from bench.results.records import BadFile, first_line, read_checked, warn
from bench.results.schema import PretrainedEntry, diagnostics_problem, problem

_folder: Path | None = None


@contextlib.contextmanager
def caching_in(folder: Path) -> Iterator[None]:
    """Cache pretraining in ``folder`` within the block."""
    global _folder
    previous, _folder = _folder, Path(folder)
    try:
        yield
    finally:
        _folder = previous


def cache_folder() -> Path | None:
    return _folder


def pretrain_key(task_sets: list[tuple[Task, ...]], backbone, training: Training, members: list[Member]) -> str:
    digest = hashlib.sha256()
    for tasks in task_sets:
        for task in tasks:
            digest.update(repr((task.name, task.kind, task.n_outputs)).encode())
            if task.class_weights is not None:
                digest.update(task.class_weights.numpy().tobytes())
            for split in (task.train, task.val):
                digest.update(split.x.numpy().tobytes())
                digest.update(split.y.numpy().tobytes())
    settings = {k: v for k, v in dataclasses.asdict(training).items() if k != "progress_bar"}
    digest.update(repr((repr(backbone), sorted(settings.items()), training.device.type,
                        [dataclasses.astuple(m) for m in members], torch.__version__, _code_digest())).encode())
    return digest.hexdigest()[:24]


def init_key(backbone, members: list[Member], device_type: str) -> str:
    """A random trunk: the backbone recipe and the members' seeds (what ``init_backbone`` draws from)."""
    recipe = (repr(backbone), [m.seed for m in members], device_type, torch.__version__, _code_digest())
    return hashlib.sha256(repr(recipe).encode()).hexdigest()[:24]


def target_key(key: str, targets: list[Task]) -> str:
    """``key`` (a pretrained population) joined with every member's target task, its test split included."""
    digest = hashlib.sha256(key.encode())
    for task in targets:
        digest.update(repr((task.name, task.kind, task.n_outputs)).encode())
        for split in (task.train, task.val, task.test):
            digest.update(split.x.numpy().tobytes())
            digest.update(split.y.numpy().tobytes())
    return digest.hexdigest()[:24]


@functools.cache
def _code_digest() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load(key: str, module: PopulationModule) -> list[MemberFit] | None:
    """Load the cached state into ``module`` and return its members' fits, or None on a miss. An entry that is
    not this population's (truncated, not a torch file, the wrong shape: bench/results/schema.py) is a miss,
    with a one-line warning naming it: the population trains again and its entry replaces the bad one."""
    folder = cache_folder()
    path = folder / f"{key}.pt" if folder else None
    if path is None or not path.exists():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, OSError...
        return _corrupt(path, f"unreadable ({type(error).__name__}: {first_line(error)})")
    why = problem(PretrainedEntry, entry) or _fits_module(entry, module)
    if why:
        return _corrupt(path, why)
    module.load_state_dict(entry["state"])
    return [MemberFit(**fit) for fit in entry["fits"]]


def _fits_module(entry: dict, module: PopulationModule) -> str | None:
    """Why a well-formed entry is not ``module``'s state (its tensors' names and shapes, one fit per member)."""
    expected = module.state_dict()
    if set(entry["state"]) != set(expected):
        return f"state holds {sorted(set(entry['state']) ^ set(expected))[:3]} unlike this population"
    for name, tensor in expected.items():
        if entry["state"][name].shape != tensor.shape:
            return f"state.{name} has shape {tuple(entry['state'][name].shape)}, expected {tuple(tensor.shape)}"
    if len(entry["fits"]) != module.n_members:
        return f"fits holds {len(entry['fits'])} member(s), expected {module.n_members}"
    return None


def save(key: str, module: nn.Module, fits: list[MemberFit]) -> None:
    entry = {"state": {k: v.detach().cpu() for k, v in module.state_dict().items()},
             "fits": [dataclasses.asdict(fit) for fit in fits]}
    _write(f"{key}.pt", lambda file: torch.save(entry, file))


def remembered(key: str | None, compute: Callable[[], Any]) -> Any:
    """``compute()``, transferability diagnostics (a JSON value), kept in the cache under ``key``: computed once
    per key (always without one). A kept value that is not valid diagnostics is computed again and replaced."""
    folder = cache_folder()
    path = folder / f"{key}.json" if folder and key else None
    if path is not None:
        try:
            kept = read_checked(path, diagnostics_problem)
        except BadFile as error:
            kept = _corrupt(path, str(error).removeprefix(f"{path}: "))
        if kept is not None:
            return kept
    value = compute()
    if path is not None:
        _write(path.name, lambda file: file.write(json.dumps(value).encode()))
    return value


def _corrupt(path: Path, why: str) -> None:
    warn(f"{path}: {why}; not a valid pretraining-cache entry, computing it again to replace it")


def _write(name: str, write: Callable) -> None:
    """Write the cache entry ``name`` atomically (a temporary file, then a rename); nothing outside a cache."""
    folder = cache_folder()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
