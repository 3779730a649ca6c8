"""Reduced search copies (analyzer._resample.exact_reduction)."""

from __future__ import annotations

import numpy as np

from analyzer._resample import exact_reduction


def _image(seed: int, shape=(1512, 2016, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_the_copy_is_the_exact_box_average():
    img = _image(0)
    small = exact_reduction(img, 1024)
    assert small.shape == (756, 1008, 3)
    block_mean = img.reshape(756, 2, 1008, 2, 3).mean(axis=(1, 3))
    assert np.abs(small.astype(float) - block_mean).max() <= 0.5  # rounded to the nearest level


def test_a_read_only_photo_is_reduced_once_and_its_copy_cannot_be_changed():
    img = _image(1)
    img.setflags(write=False)
    first = exact_reduction(img, 1024)
    assert exact_reduction(img, 1000) is first  # the chart's 1000 px asks for the same half
    assert not first.flags.writeable
    other = _image(2)
    other.setflags(write=False)
    second = exact_reduction(other, 1024)
    assert second is not first
    np.testing.assert_array_equal(second, exact_reduction(other.copy(), 1024))


def test_a_writeable_image_is_reduced_anew_each_time():
    img = _image(3)
    first = exact_reduction(img, 1024)
    img[:] = 7
    again = exact_reduction(img, 1024)
    assert again is not first and (again == 7).all() and first.flags.writeable
