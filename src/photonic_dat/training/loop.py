"""The training loop every method shares: epochs, validation selection, metrics, test."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from photonic_dat.config.factory import Experiment
from photonic_dat.seeding import stream_generator
from photonic_dat.training.checkpoint import flat_state, load_flat_state
from photonic_dat.training.evaluate import (
    accuracy,
    confusion_matrix,
    deployment_accuracies,
    predict,
)


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    best_epoch: int
    result: dict[str, Any]
    confusion: torch.Tensor | None
    state: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)


def _epoch_metrics(sums: dict[str, float], n: int) -> dict[str, float | None]:
    def mean(key: str) -> float | None:
        return sums[key] / n if key in sums else None

    return {
        "task_loss": mean("task_loss"),
        "similarity_loss": mean("similarity_loss"),
        "train_accuracy_twin": mean("correct_twin"),
        "train_accuracy_physical": mean("correct_phys"),
    }


def fit(exp: Experiment, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> FitResult:
    """Train ``exp.method``; select the epoch by validation accuracy (physical for methods that
    use the system, the twin's for in-silico training); measure the test split once."""
    cfg, method, system = exp.config, exp.method, exp.system
    train_x, train_y = exp.splits.train.images, exp.splits.train.labels
    val_x, val_y = exp.splits.val.images, exp.splits.val.labels
    encode = method.encode
    eval_bs = cfg.train.eval_batch_size
    generator = stream_generator(cfg.seed, "data-order")
    history: list[dict[str, Any]] = []
    best = (-1.0, -1)
    best_state = flat_state(method.modules())
    train_seconds = 0.0
    bar = tqdm(
        range(cfg.train.epochs), desc=f"{method.name}", disable=not cfg.train.progress, leave=False
    )
    prepared = method.prepare(train_x, stream_generator(cfg.seed, "calibration"))
    for epoch in bar:
        method.start_epoch(epoch)
        start = time.perf_counter()
        sums: dict[str, float] = defaultdict(float)
        order = torch.randperm(len(train_y), generator=generator)
        for i in range(0, len(order), cfg.train.batch_size):
            idx = order[i : i + cfg.train.batch_size]
            for key, value in method.step(encode(train_x[idx]), train_y[idx]).items():
                sums[key] += value
        method.end_epoch()
        seconds = time.perf_counter() - start
        train_seconds += seconds
        val_score = accuracy(predict(method.selection_scores, val_x, eval_bs, encode), val_y)
        record = {
            "epoch": epoch + 1,
            "seconds": seconds,
            "train_samples": len(train_y),
            **_epoch_metrics(sums, len(train_y)),
            "val_accuracy_physical": val_score if method.uses_system else None,
            "val_accuracy_twin": None if method.uses_system else val_score,
            "physical_queries": system.queries.total,
            "physical_frames": system.queries.total_frames,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        bar.set_postfix(val=f"{val_score:.3f}", loss=f"{record['task_loss']:.3f}")
        if val_score > best[0]:
            best = (val_score, epoch + 1)
            best_state = flat_state(method.modules())
    load_flat_state(method.modules(), best_state)
    spent = system.queries.as_dict()  # training and selection; the test is measured below
    figures, test_pred = deployment_accuracies(
        method, exp.splits, eval_bs, measure_test=cfg.train.measure_test
    )
    test_labels = exp.splits.test.labels
    result = {
        "method": method.name,
        "internal_states": cfg.dat.internal_states if method.name == "dat" else None,
        "model": cfg.model,
        "dataset": cfg.data.name,
        **figures,
        "best_epoch": best[1],
        "best_val_accuracy": best[0],
        "physical_queries": spent["total"],
        "physical_frames": spent["total_frames"],
        "frames": spent["frames"],
        "parameter_uploads": spent["parameter_uploads"],
        "queries": spent,
        "train_seconds": train_seconds,
        "train_samples": len(train_y),
        "val_samples": len(val_y),
        "test_samples": len(test_labels),
        **prepared,
        "errors": cfg.errors.model_dump(mode="json"),
        "seed": cfg.seed,
    }
    confusion = None if test_pred is None else confusion_matrix(test_pred, test_labels)
    return FitResult(history, best[1], result, confusion, best_state)


def dumps_jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)
