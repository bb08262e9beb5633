"""The training loop every method shares: epochs, validation selection, metrics, test.

:func:`fit` runs in three parts: the batches of an epoch (:func:`train_epoch`), validation and
selection at the end of each (:func:`validate`), and, once all epochs are done, the selected
model's deployment measurement (:func:`deployment_result`). Its whole position is a
:class:`~photonic_dat.training.state.LoopState`, so that a run can be checkpointed after any
batch and continued from there with the same numbers (:mod:`photonic_dat.training.run`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from photonic_dat.config.factory import Experiment
from photonic_dat.seeding import stream_generator
from photonic_dat.training.checkpoint import flat_state, load_flat_state
from photonic_dat.training.evaluate import (
    accuracy,
    confusion_matrix,
    deployment_accuracies,
    predict,
)
from photonic_dat.training.progress import ProgressBar
from photonic_dat.training.reference import ReferenceMonitor
from photonic_dat.training.state import LoopState

#: called after every training batch with the loop state, the batch's summed metrics and
#: its size
BatchHook = Callable[[LoopState, dict[str, float], int], None]
#: called with the loop state when a checkpoint is due (after a batch, after an epoch)
CheckpointHook = Callable[[LoopState], None]


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    best_epoch: int
    result: dict[str, Any]
    confusion: torch.Tensor | None
    state: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)
    #: reference-pattern measurements (``train.reference_every``), one record each
    reference: list[dict[str, Any]] = field(default_factory=list)


def _epoch_metrics(sums: dict[str, float], n: int) -> dict[str, float | None]:
    def mean(key: str) -> float | None:
        return sums[key] / n if key in sums else None

    return {
        "task_loss": mean("task_loss"),
        "similarity_loss": mean("similarity_loss"),
        "train_accuracy_twin": mean("correct_twin"),
        "train_accuracy_physical": mean("correct_phys"),
    }


def batches_per_epoch(exp: Experiment) -> int:
    return math.ceil(len(exp.splits.train) / exp.config.train.batch_size)


def train_epoch(
    exp: Experiment,
    state: LoopState,
    bar: ProgressBar | None = None,
    on_batch: BatchHook | None = None,
    checkpoint: CheckpointHook | None = None,
    checkpoint_every: int | None = None,
    monitor: ReferenceMonitor | None = None,
) -> None:
    """Train the remaining batches of epoch ``state.epoch``; the state moves batch by batch.

    A checkpoint is due every ``checkpoint_every`` batches of the run, except after an
    epoch's last batch (the end-of-epoch checkpoint follows right after validation). A
    ``monitor`` measures the reference pattern before the steps it is due.
    """
    cfg, method, system = exp.config, exp.method, exp.system
    train = exp.splits.train
    bs = cfg.train.batch_size
    method.start_epoch(state.epoch)
    if state.order is None:
        state.order = torch.randperm(len(train), generator=state.generator)
    batches = batches_per_epoch(exp)
    while state.batch < batches:
        began = time.perf_counter()
        idx = state.order[state.batch * bs : (state.batch + 1) * bs]
        if monitor is not None:
            monitor.before_step(state.step)
        with system.input_ids("train", idx):
            labels = train.labels[idx].to(method.device, non_blocking=True)
            metrics = method.step(method.encode(train.images[idx]), labels)
        for key, value in metrics.items():
            state.sums[key] += value
        state.batch += 1
        state.step += 1
        state.epoch_seconds += time.perf_counter() - began
        if bar is not None:
            loss = metrics.get("task_loss")
            bar.batch(state.epoch, None if loss is None else loss / len(idx))
        if on_batch is not None:
            on_batch(state, metrics, len(idx))
        due = checkpoint_every is not None and state.step % checkpoint_every == 0
        if checkpoint is not None and due and state.batch < batches:
            checkpoint(state)
    began = time.perf_counter()
    method.end_epoch()
    state.epoch_seconds += time.perf_counter() - began


def validate(
    exp: Experiment, state: LoopState, monitor: ReferenceMonitor | None = None
) -> dict[str, Any]:
    """Score the validation split, record the epoch and keep the best state so far (the
    physical system's accuracy for methods that use it, the twin's for in-silico training).

    When the reference pattern showed drift during the epoch (``monitor``), selection starts
    again: validation scores measured on the device before it drifted say nothing of it now.
    """
    cfg, method, system = exp.config, exp.method, exp.system
    val = exp.splits.val
    predicted = predict(
        method.selection_scores,
        val.images,
        cfg.train.eval_batch_size,
        method.encode,
        partial(system.input_ids, "val"),
    )
    val_score = accuracy(predicted, val.labels)
    n_train = len(exp.splits.train)
    record = {
        "epoch": state.epoch + 1,
        "seconds": state.epoch_seconds,
        "train_samples": n_train,
        **_epoch_metrics(state.sums, n_train),
        "val_accuracy_physical": val_score if method.uses_system else None,
        "val_accuracy_twin": None if method.uses_system else val_score,
        "physical_queries": system.queries.total,
        "physical_frames": system.queries.total_frames,
        "device_seconds": system.queries.device_seconds,
    }
    if monitor is not None and monitor.take_drift():
        record["selection_restarted"] = True
        state.best_score = -1.0
    state.history.append(record)
    state.train_seconds += state.epoch_seconds
    if val_score > state.best_score:
        state.best_score, state.best_epoch = val_score, state.epoch + 1
        state.best_state = flat_state(method.modules())
    return record


def deployment_result(
    exp: Experiment, state: LoopState, monitor: ReferenceMonitor | None = None
) -> FitResult:
    """Load the selected state and measure it once on the test split."""
    cfg, method, system = exp.config, exp.method, exp.system
    load_flat_state(method.modules(), state.best_state)
    spent = system.queries.as_dict()  # training and selection; the test is measured below
    figures, test_pred = deployment_accuracies(
        method, exp.splits, cfg.train.eval_batch_size, measure_test=cfg.train.measure_test
    )
    test_labels = exp.splits.test.labels
    result = {
        "method": method.name,
        "internal_states": cfg.dat.internal_states if method.name == "dat" else None,
        "model": cfg.model,
        "dataset": cfg.data.name,
        **figures,
        "best_epoch": state.best_epoch,
        "best_val_accuracy": state.best_score,
        "physical_queries": spent["total"],
        "physical_frames": spent["total_frames"],
        "frames": spent["frames"],
        "parameter_uploads": spent["parameter_uploads"],
        "device_seconds": spent["device_seconds"],
        "queries": spent,
        "device_session": system.report(),
        "reference_measurements": len(monitor.records) if monitor else 0,
        "selection_restarts": sum(bool(r.get("selection_restarted")) for r in state.history),
        "train_seconds": state.train_seconds,
        "train_samples": len(exp.splits.train),
        "val_samples": len(exp.splits.val),
        "test_samples": len(test_labels),
        **state.prepared,
        "errors": cfg.errors.model_dump(mode="json"),
        "seed": cfg.seed,
    }
    confusion = None if test_pred is None else confusion_matrix(test_pred, test_labels)
    return FitResult(
        state.history,
        state.best_epoch,
        result,
        confusion,
        state.best_state,
        monitor.records if monitor else [],
    )


def fit(
    exp: Experiment,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    *,
    state: LoopState | None = None,
    on_batch: BatchHook | None = None,
    checkpoint: CheckpointHook | None = None,
    checkpoint_every: int | None = None,
) -> FitResult:
    """Prepare ``exp.method`` (a calibration, if configured), train it, select the epoch by
    validation accuracy, measure the test split once.

    Args:
        exp: the experiment (data, system, method).
        on_epoch: called with each epoch's record.
        state: where to continue (a restored checkpoint); ``None`` starts afresh.
        on_batch: called after every training batch.
        checkpoint: called when a checkpoint is due: after every epoch (validation done) and
            every ``checkpoint_every`` batches.
    """
    state = state if state is not None else LoopState.initial(exp)
    epochs = exp.config.train.epochs
    bar = ProgressBar(
        exp.system,
        total=epochs * batches_per_epoch(exp),
        done=state.step,
        desc=exp.method.name,
        enabled=exp.config.train.progress,
    )
    try:
        if not state.is_prepared:
            prepared = exp.method.prepare(
                exp.splits.train.images, stream_generator(exp.config.seed, "calibration")
            )
            state.prepared, state.is_prepared = prepared, True
            if prepared and checkpoint is not None:  # a calibration spent device time
                checkpoint(state)
        monitor = reference_monitor(exp)
        while state.epoch < epochs:
            train_epoch(exp, state, bar, on_batch, checkpoint, checkpoint_every, monitor)
            record = validate(exp, state, monitor)
            if on_epoch is not None:
                on_epoch(record)
            physical = record["val_accuracy_physical"]
            bar.epoch(record["val_accuracy_twin"] if physical is None else physical)
            state.next_epoch()
            if checkpoint is not None:
                checkpoint(state)
    finally:
        bar.close()
    return deployment_result(exp, state, monitor)


def reference_monitor(exp: Experiment) -> ReferenceMonitor | None:
    """The reference-pattern monitor ``train.reference_every`` asks for (methods that measure
    the device only): fixed parameters (the twin's now) and the first training images."""
    t = exp.config.train
    if not t.reference_every or not exp.method.uses_system:
        return None
    images = exp.splits.train.images[: t.reference_samples]
    return ReferenceMonitor(exp.method, images, t.reference_every, t.drift_threshold)


def dumps_jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)
