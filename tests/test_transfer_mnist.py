"""MNIST -> UCI digits: MNIST on the digits' grid and scale by the UCI recipe, a family transfer can run on."""

import numpy as np
import pytest
import torch

from bench.data.mnist import _bitmap, make_mnist_digits, mnist_as_digits


def test_a_bitmap_is_the_ink_centred_in_a_square_at_32x32():
    image = torch.zeros(28, 28, dtype=torch.float64)
    image[3:23, 5:25] = 1.0  # a square of ink off centre fills the whole bitmap
    assert torch.equal(_bitmap(image), torch.ones(32, 32, dtype=torch.float64))
    image[:] = 0
    image[4:24, 10:14] = 1.0  # a bar 20 high, 4 wide: centred, 32 high, about 6 wide
    bitmap = _bitmap(image)
    columns = bitmap.sum(0).nonzero().flatten()
    assert bitmap.sum(1).min() > 0 and 5 <= len(columns) <= 8 and abs(columns.float().mean() - 15.5) < 1


def test_mnist_lands_on_the_digits_grid_and_scale():
    images, labels = mnist_as_digits()
    assert images.shape == (5000, 8, 8) and np.bincount(labels).tolist() == [500] * 10
    assert np.array_equal(images * 16, np.round(images * 16)) and images.min() == 0 and images.max() == 1
    assert 0.2 < images.mean() < 0.35  # the UCI digits' mean is 0.31


def test_the_family_is_mnist_to_digits_with_a_stratified_target():
    family = make_mnist_digits(3, target_size=20)
    assert [(t.name, t.role, t.n_outputs) for t in family.tasks] == [("digits", "target", 10), ("mnist", "source", 10)]
    assert family.target.train.x.shape == (20, 1, 8, 8) and torch.bincount(family.target.train.y).tolist() == [2] * 10
    assert len(family.sources[0].train) + len(family.sources[0].val) + len(family.sources[0].test) == 5000
    again = make_mnist_digits(3, target_size=20)
    assert torch.equal(again.target.train.x, family.target.train.x)
    assert family.knobs == {"source": "mnist", "target_size": 20}
    with pytest.raises(Exception, match="target_size=1 is invalid"):
        make_mnist_digits(0, target_size=1)


def test_the_study_composes_with_every_transfer_strategy():
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from bench.data.validation import draw_family

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["+study=mnist_digits", "data.target_size=10"], return_hydra_config=True)
    regimes = cfg.hydra.sweeper.params.regime.split(",")
    assert {"tl_full", "tl_probe", "tl_lp_ft", "tl_l2_sp", "tl_partial", "tl_bss", "stl"} <= set(regimes)
    family = draw_family(cfg.data, seed=0)  # the study's target validates on a quarter of its 10 images
    assert family.knobs["target_size"] == 10 and len(family.target.val) == 2
