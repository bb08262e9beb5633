"""Accuracy and confusion of a scoring function over a split, batched."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


@torch.no_grad()
def predict(
    score_fn: Callable[[Tensor], Tensor],
    images: Tensor,
    batch_size: int,
    encode: Callable[[Tensor], Tensor],
) -> Tensor:
    """Predicted classes of all ``images``, encoded and scored in batches of ``batch_size``."""
    preds = [
        score_fn(encode(images[i : i + batch_size])).argmax(1)
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def accuracy(preds: Tensor, labels: Tensor) -> float:
    return float((preds == labels).float().mean()) if len(labels) else float("nan")


def confusion_matrix(preds: Tensor, labels: Tensor, num_classes: int = 10) -> Tensor:
    idx = labels * num_classes + preds
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )
