"""Tests for the seeded split helpers."""

from __future__ import annotations

import numpy as np
import pytest

from photonic_dat.data import cap_indices, stratified_sample, train_val_split

LABELS = np.repeat(np.arange(4), [50, 30, 15, 5])


def test_train_val_split_partitions_indices() -> None:
    train, val = train_val_split(LABELS, 0.2, seed=3)
    assert len(val) == 20 and len(train) == 80
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert train.dtype == np.int64 and val.dtype == np.int64


def test_train_val_split_is_stratified() -> None:
    _, val = train_val_split(LABELS, 0.2, seed=1)
    np.testing.assert_array_equal(np.bincount(LABELS[val], minlength=4), [10, 6, 3, 1])


def test_train_val_split_seeded() -> None:
    a = train_val_split(LABELS, 0.2, seed=7)
    b = train_val_split(LABELS, 0.2, seed=7)
    c = train_val_split(LABELS, 0.2, seed=8)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_train_val_split_edge_fractions() -> None:
    train, val = train_val_split(LABELS, 0.0, seed=0)
    assert val.size == 0 and train.size == 100
    train, val = train_val_split(np.zeros(3, dtype=int), 0.01, seed=0)
    assert val.size == 1 and train.size == 2
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(LABELS, 1.0, seed=0)


def test_cap_indices_plain_and_stratified() -> None:
    np.testing.assert_array_equal(cap_indices(5, None, 0), np.arange(5))
    np.testing.assert_array_equal(cap_indices(5, 10, 0), np.arange(5))
    plain = cap_indices(100, 10, 0)
    assert len(np.unique(plain)) == 10 and plain.max() < 100
    np.testing.assert_array_equal(plain, cap_indices(100, 10, 0))
    assert not np.array_equal(plain, cap_indices(100, 10, 1))
    strat = cap_indices(100, 20, 0, labels=LABELS)
    np.testing.assert_array_equal(np.bincount(LABELS[strat], minlength=4), [10, 6, 3, 1])


@pytest.mark.parametrize("cap", [0, -3])
def test_cap_indices_rejects_non_positive(cap: int) -> None:
    with pytest.raises(ValueError, match="cap"):
        cap_indices(10, cap, 0)


def test_stratified_sample_bounds() -> None:
    assert stratified_sample(LABELS, 0, 0).size == 0
    assert sorted(stratified_sample(LABELS, 100, 0)) == list(range(100))
    with pytest.raises(ValueError, match="sample size"):
        stratified_sample(LABELS, 101, 0)
