"""A transfer variant (a setting off its default: trunk_lr, pretrain, source, a strategy's option) is an arm of
its own in the report; the default settings keep their plain labels, so existing reports do not change."""

import pytest

from bench.regimes import Transfer
from bench.report.aggregate import study_data
from tests.test_report import _record


@pytest.mark.parametrize(("regime", "variant"), [
    (Transfer("full"), {}),
    (Transfer("full", trunk_lr=1), {}),
    (Transfer("full", trunk_lr=0.1), {"trunk_lr": 0.1}),
    (Transfer("lp_ft", pretrain="single", source="task1"), {"pretrain": "single", "source": "task1"}),
    (Transfer("partial", frozen_layers=1), {}),
    (Transfer("partial", frozen_layers=2), {"frozen_layers": 2}),
    (Transfer("l2_sp", trunk=0.01, head=0.1), {"head": 0.1}),
])
def test_a_regime_names_exactly_its_settings_off_their_defaults(regime, variant):
    assert regime.variant == variant


def test_two_trunk_learning_rates_are_two_arms_and_the_default_keeps_its_label():
    records = []
    for seed in range(3):
        for variant in ({}, {"trunk_lr": 0.1}, {"trunk_lr": 0.01}, {"pretrain": "all_tasks"}):
            record = _record("sizes", "tl", "full", seed, {"target_size": 8}, 0.5)
            records.append({**record, "run_id": f"{record['run_id']}{sorted(variant.items())}", "variant": variant})
        records.append(_record("sizes", "stl", None, seed, {"target_size": 8}, 0.5))
    old = _record("sizes", "tl", "linear_probe", 0, {"target_size": 8}, 0.5)  # written before variants existed
    study = study_data("sizes", [*records, old])
    assert sorted(study.runs["arm"].unique()) == ["stl", "tl-full", "tl-full[pretrain=all_tasks]",
                                                  "tl-full[trunk_lr=0.01]", "tl-full[trunk_lr=0.1]",
                                                  "tl-linear_probe"]
    assert (study.runs["arm"] == "tl-full").sum() == 3
