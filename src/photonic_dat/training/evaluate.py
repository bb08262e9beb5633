"""Accuracy and confusion of a scoring function over a split, batched."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor


@torch.no_grad()
def predict(
    score_fn: Callable[[Tensor], Tensor],
    images: Tensor,
    batch_size: int,
    encode: Callable[[Tensor], Tensor],
    label_inputs: Callable[[Tensor], contextlib.AbstractContextManager[Any]] | None = None,
) -> Tensor:
    """Predicted classes of all ``images``, encoded and scored in batches of ``batch_size``.

    ``label_inputs(ids)`` (e.g. ``partial(system.input_ids, "val")``) names the samples of
    each batch for the measurement log.
    """
    preds = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size]
        ids = torch.arange(i, i + len(batch))
        with label_inputs(ids) if label_inputs is not None else contextlib.nullcontext():
            preds.append(score_fn(encode(batch)).argmax(1).cpu())
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def accuracy(preds: Tensor, labels: Tensor) -> float:
    return float((preds == labels).float().mean()) if len(labels) else float("nan")


def confusion_matrix(preds: Tensor, labels: Tensor, num_classes: int = 10) -> Tensor:
    idx = labels * num_classes + preds
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def deployment_accuracies(
    method, splits, batch_size: int, measure_test: bool = True
) -> tuple[dict[str, float | None], Tensor | None]:
    """The selected model's validation and test accuracy on the physical system and test
    accuracy of its twin, plus the physical test predictions (for a confusion matrix).
    Without ``measure_test`` (tuning runs) the test split is not touched."""
    encode = method.encode
    val, test = splits.val, splits.test
    # measurement order (validation first) fixes the detector-noise draws of each figure
    system = method.system
    val_pred = predict(
        method.physical_scores, val.images, batch_size, encode, partial(system.input_ids, "val")
    )
    if not measure_test:
        figures = {
            "test_accuracy_physical": None,
            "test_accuracy_twin": None,
            "val_accuracy_physical": accuracy(val_pred, val.labels),
            "val_accuracy_twin": accuracy(
                predict(method.twin_scores, val.images, batch_size, encode), val.labels
            ),
        }
        return figures, None
    test_pred = predict(
        method.physical_scores, test.images, batch_size, encode, partial(system.input_ids, "test")
    )
    twin_pred = predict(method.twin_scores, test.images, batch_size, encode)
    figures = {
        "test_accuracy_physical": accuracy(test_pred, test.labels),
        "test_accuracy_twin": accuracy(twin_pred, test.labels),
        "val_accuracy_physical": accuracy(val_pred, val.labels),
    }
    return figures, test_pred
