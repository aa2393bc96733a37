"""Issue 22's fuzz suite for what a user types: random values of the keys ``bench.run`` reads.

Each example composes the config in-process, as ``bench.run`` does, with one key set to a random value
(numbers out of range, inf and nan, text, null, lists). It must end in one line naming the key (Hydra's
composition, the value checks, the family's knob check, the size guard), before anything trains, or be a
value that runs: the job ends ok, or failed with a one-line error in its record (a learning rate that
diverges). Never a traceback.
"""

from __future__ import annotations

import tempfile

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from hypothesis import event, given
from hypothesis import strategies as st
from omegaconf.errors import OmegaConfBaseException

from bench.checks import ConfigError
from bench.cli import describe
from bench.preflight import ONE_LINE_ERRORS, preflight
from bench.run import run_job
from tests.fuzzing import fuzz
from tests.studies import CONF, TINY

# Budgets stay small when accepted (a fuzzed max_steps=10**12 would train for ever); data sizes may be huge,
# which the size guard must stop.
SMALL_COUNTS = ("trainer.max_steps", "trainer.eval_every", "trainer.patience", "trainer.batch_size", "model.width",
                "model.depth", "data.n_tasks", "data.input_dim", "threads")
SIZES = ("data.n_train", "data.n_val", "data.n_test", "data.target_size", "data.feature_dim", "data.n_classes")
NUMBERS = ("trainer.lr", "trainer.weight_decay", "data.relatedness", "data.imbalance", "data.covariate_shift",
           "data.label_noise")
NAMES = ("data.kind", "data.feature_map", "data.target", "study_name", "seed")


def _text(value) -> str:
    """``value`` as typed on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_text(item) for item in value) + "]"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


SCALARS = (st.none() | st.booleans() | st.integers(-3, 400) | st.floats(allow_subnormal=False)
           | st.text("abcxyz_.-", max_size=5))
ANY = SCALARS | st.lists(SCALARS, max_size=3)


@st.composite
def overrides(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.sampled_from(SMALL_COUNTS + SIZES + NUMBERS + NAMES))
    if key in SIZES:
        value = draw(st.integers(-3, 400) | st.sampled_from([10**6, 10**12]) | ANY)
    elif key in NUMBERS:
        value = draw(st.floats(-2, 12) | st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e300]) | ANY)
    else:
        value = draw(ANY)
    return key, _text(value)


@fuzz(30)
@given(override=overrides())
def test_a_random_value_ends_in_one_line_or_runs(override):
    key, value = override
    with tempfile.TemporaryDirectory() as folder:
        tiny = [o for o in TINY if o.split("=")[0] not in (key, "seed")]  # one member, unless seed is fuzzed
        typed = [*tiny, *(["seed=0"] if key != "seed" else []), f"paths.experiments={folder}", f"{key}={value}"]
        try:
            with initialize_config_dir(config_dir=CONF, version_base="1.3"):
                cfg = compose("config", overrides=typed)
        except (HydraException, OmegaConfBaseException) as error:
            line = describe(error)
            assert "\n" not in line and key.split(".")[-1] in line, line
            event("refused at composition")
            return
        try:
            preflight(cfg, typed)
        except ONE_LINE_ERRORS as error:
            assert "\n" not in str(error), str(error)
            if isinstance(error, ConfigError):
                assert key.split(".")[-1] in str(error), str(error)
            event(f"refused up front: {type(error).__name__}")
            return
        outcome = run_job(cfg)
        event(f"ran: {outcome['status']}")
        assert outcome["status"] in ("ok", "failed")
        if outcome["status"] == "failed":
            assert "\n" not in outcome["error"], outcome["error"]
