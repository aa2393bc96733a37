"""The shift study sweeps covariate shift from none to large for every regime and strategy, at one relatedness,
with abundant sources and a scarce target; make bench-full runs it, make bench does not."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.data.validation import draw_family

ROOT = Path(__file__).resolve().parents[1]


def test_the_shift_study_varies_only_the_shift_over_every_regime_and_strategy():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["+study=shift"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert {"stl", "mtl", "tl_full", "tl_probe", "tl_lp_ft", "tl_l2_sp", "tl_partial", "tl_bss"} <= \
        set(params.regime.split(","))
    assert [float(v) for v in params["data.covariate_shift"].split(",")] == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert set(params) == {"regime", "data.covariate_shift"}
    shifted, unshifted = (draw_family(OmegaConf.merge(cfg.data, {"covariate_shift": s}), seed=0) for s in (4.0, 0.0))
    assert [len(t.train) for t in shifted.tasks] == [32, 256, 256, 256]
    assert shifted.knobs["relatedness"] == unshifted.knobs["relatedness"] == 1.0
    assert shifted.knobs["concept_shift"] == 1.0 and shifted.knobs["family"] == "teacher"  # the function moves too
    source, target = shifted.sources[0].train.x, shifted.target.train.x
    assert (source.mean(0) - target.mean(0)).norm() > 2.0  # the sources moved away; the target did not
    assert (shifted.target.test.x == unshifted.target.test.x).all()


def test_bench_full_runs_the_shift_study_and_the_digits_positive_control_and_bench_does_not():
    make = (ROOT / "Makefile").read_text()
    bench, full = make.split("\nbench: ", 1)[1].split("\n\n", 1)[0], make.split("\nbench-full: ", 1)[1].split("\n\n")[0]
    assert "+study=shift" not in bench and "+study=shift " in full
    assert "+study=digits 'data.source_digits=[5,6,7,8,9]'" in full


def test_the_same_class_positive_control_finds_that_transfer_helps():
    """Digits 5-9 -> digits 5-9 on other images, 10 target images: a source that is the target's own task must
    help, or a negative result elsewhere could be the pipeline's. Each of 4 seeds; measured gains 0.05-0.09."""
    import functools

    from bench.data.digits import make_digits_transfer
    from bench.models import MLPBackbone
    from bench.regimes import SingleTask, Transfer
    from bench.regimes.population import Member
    from bench.regimes.training import Training

    training = Training(max_steps=150, eval_every=25, patience=3, batch_size=16)
    backbone = functools.partial(MLPBackbone, width=32, depth=1)
    members = [Member(seed, training.lr, training.weight_decay) for seed in range(4)]
    families = [make_digits_transfer(seed, source_digits=(5, 6, 7, 8, 9), target_size=10) for seed in range(4)]

    def accuracy(outcomes):
        return [next(t for t in o.tasks if t["role"] == "target")["test"]["accuracy"] for o in outcomes]

    stl = accuracy(SingleTask().run(families, backbone, training, members))
    transfer = accuracy(Transfer("full").run(families, backbone, training, members))
    gains = [t - s for t, s in zip(transfer, stl, strict=True)]
    assert min(gains) > 0 and sum(gains) / len(gains) > 0.02, gains
