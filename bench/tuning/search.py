"""Which settings to try: the whole grid when it holds exactly the budget, else Optuna (ask and tell).

Every arm gets the same number of trials (the budget), whatever the size of its space. A space with more
settings than the budget is searched by Optuna: with one round, a seeded random subset without repeats
(``BruteForceSampler``); with several rounds, TPE, whose first round is its random start-up. A round is
asked all at once so that its trials train as populations.
"""

from __future__ import annotations

import itertools
import math
import warnings

import optuna

from bench.tuning.space import Dimension, TuningError, grid_size

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Search:
    def __init__(self, dimensions: list[Dimension], trials: int, rounds: int, seed: int, arm: str):
        if trials < 1 or rounds < 1 or rounds > trials:
            raise TuningError(f"tuning: trials={trials} and rounds={rounds} are invalid, expected 1 <= rounds "
                              "<= trials")
        size = grid_size(dimensions)
        if size < trials:
            raise TuningError(f"tuning: the space of arm {arm!r} holds {size} setting(s), fewer than the budget of "
                              f"{trials} trials; widen tuning.space or tuning.arms.{arm}, or lower tuning.trials")
        self.dimensions, self.trials = dimensions, trials
        self._asked: list[optuna.trial.Trial] = []
        if size == trials:
            self.method, self.rounds, self._study = "grid", 1, None
            return
        discrete = math.isfinite(size)
        if rounds == 1 and discrete:
            self.method = "random subset without repeats (optuna BruteForceSampler)"
            with warnings.catch_warnings():  # experimental in name only: it enumerates untried settings
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                sampler = optuna.samplers.BruteForceSampler(seed=seed)
        else:
            per_round = math.ceil(trials / rounds)
            self.method = f"TPE (optuna), {rounds} rounds, the first random"
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=per_round)
        self.rounds = rounds
        self._study = optuna.create_study(direction="maximize", sampler=sampler)

    def batches(self):
        """The settings to try, one list per round; ``tell`` the values of a round before asking the next."""
        if self._study is None:
            keys, axes = [d.key for d in self.dimensions], [d.values for d in self.dimensions]
            yield [dict(zip(keys, point, strict=True)) for point in itertools.product(*axes)]
            return
        left = self.trials
        for round_index in range(self.rounds):
            count = math.ceil(left / (self.rounds - round_index))
            left -= count
            self._asked = [self._study.ask() for _ in range(count)]
            yield [self._suggest(trial) for trial in self._asked]

    def _suggest(self, trial: optuna.trial.Trial) -> dict:
        setting = {}
        for d in self.dimensions:
            if d.values is None:
                setting[d.key] = trial.suggest_float(d.key, d.low, d.high, log=d.log)
            else:  # categorical over positions: Optuna's choices must be scalars, ours may be lists (weights)
                setting[d.key] = d.values[trial.suggest_categorical(d.key, list(range(len(d.values))))]
        return setting

    def tell(self, values: list[float]) -> None:
        """The objective of each setting of the last round, NaN for one whose every run failed."""
        if self._study is None:
            return
        for trial, value in zip(self._asked, values, strict=True):
            if math.isnan(value):
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self._study.tell(trial, value)
