"""Shared fixtures: tiny families and a fast training budget so the suite stays quick on 2 cores."""

from __future__ import annotations

import functools

import pytest
import torch

from bench.data import make_synthetic
from bench.models import MLPBackbone
from bench.regimes.training import Training, quiet_lightning


@pytest.fixture(autouse=True)
def _one_thread_quiet():
    torch.set_num_threads(1)
    quiet_lightning()


@pytest.fixture(scope="session")
def real_study(tmp_path_factory):
    """A tiny study of real records (tests/studies.py), made once per session; copy it before changing it."""
    from tests.studies import tiny_study

    return tiny_study(tmp_path_factory.mktemp("real_study"))


@pytest.fixture
def fast_training() -> Training:
    return Training(max_steps=120, eval_every=20, patience=3, batch_size=16)


@pytest.fixture
def small_backbone():
    return functools.partial(MLPBackbone, width=16, depth=1)


def tiny_family(kind: str = "regression", seed: int = 0, **knobs):
    base = dict(n_tasks=3, input_dim=6, n_train=24, n_val=32, n_test=64)
    return make_synthetic(seed, kind=kind, **{**base, **knobs})


def run_alone(regime, family, backbone, training, seed: int):
    """One run of ``regime`` (a one-member population): its task results and fit, or its error raised."""
    from bench.regimes.population import Member

    lr, weight_decay = training.lr, training.weight_decay
    (outcome,) = regime.run([family], backbone, training, [Member(seed, lr, weight_decay)])
    if outcome.error:
        raise RuntimeError(outcome.error)
    return outcome.tasks, outcome.fit
