"""Seeded, pure index-split helpers (numpy ``default_rng``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["Seed", "cap_indices", "stratified_sample", "train_val_split"]

# An int, or a tuple of ints to derive independent streams from one seed.
Seed = int | Sequence[int]


def _as_labels(labels: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {arr.shape}")
    return arr


def _allocate(counts: np.ndarray, size: int) -> np.ndarray:
    """Split ``size`` over classes proportionally to ``counts`` (largest remainder)."""
    exact = size * counts / counts.sum()
    alloc = np.floor(exact).astype(np.int64)
    remainder = size - int(alloc.sum())
    order = np.argsort(-(exact - alloc), kind="stable")
    alloc[order[:remainder]] += 1
    return np.minimum(alloc, counts)


def stratified_sample(labels: npt.ArrayLike, size: int, seed: Seed) -> np.ndarray:
    """Return ``size`` sorted indices drawn at random, class proportions preserved."""
    labels = _as_labels(labels)
    n = len(labels)
    if not 0 <= size <= n:
        raise ValueError(f"sample size must be in [0, {n}], got {size}")
    if size == 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    picks = [
        rng.permutation(np.flatnonzero(labels == c))[:k]
        for c, k in zip(classes, _allocate(counts, size), strict=True)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def train_val_split(
    labels: npt.ArrayLike, val_fraction: float, seed: Seed
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices ``0..n-1`` into sorted, disjoint (train, val), stratified by label.

    The validation set holds ``round(val_fraction * n)`` samples (at least one when
    ``val_fraction > 0`` and ``n >= 2``).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    labels = _as_labels(labels)
    n = len(labels)
    n_val = round(val_fraction * n)
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    val_idx = stratified_sample(labels, n_val, seed)
    train_idx = np.setdiff1d(np.arange(n, dtype=np.int64), val_idx, assume_unique=True)
    return train_idx, val_idx


def cap_indices(
    n: int, cap: int | None, seed: Seed, labels: npt.ArrayLike | None = None
) -> np.ndarray:
    """Sorted indices of a seeded random subset of at most ``cap`` of ``n`` items.

    ``cap=None`` or ``cap >= n`` keeps everything. With ``labels`` the subset is
    stratified by class, otherwise it is a plain uniform draw.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if cap is not None and cap < 1:
        raise ValueError(f"cap must be a positive integer or None, got {cap}")
    if cap is None or cap >= n:
        return np.arange(n, dtype=np.int64)
    if labels is not None:
        labels = _as_labels(labels)
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries, expected {n}")
        return stratified_sample(labels, cap, seed)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=cap, replace=False)).astype(np.int64)
