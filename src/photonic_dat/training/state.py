"""Where a training run stands, and how to save and restore all of it.

A resumed run must draw the same numbers as one that was never stopped: besides the PNN and
SEPN parameters it needs the optimisers' moments, the learning-rate schedules, the data-order
generator and this epoch's order, the physical system's random generators (detector noise),
counters and displayed setting, torch's global generator, the metric sums of the epoch in
progress, the history and the best-so-far state. :func:`capture` turns that into flat tensors
plus JSON (no pickle) and :func:`restore` puts it back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.seeding import stream_generator
from photonic_dat.training.checkpoint import (
    flat_state,
    load_flat_state,
    load_optimiser_state,
    optimiser_state,
)

if TYPE_CHECKING:
    from photonic_dat.config.factory import Experiment


@dataclass
class LoopState:
    """The training loop's position and bookkeeping.

    Attributes:
        generator: draws each epoch's sample order (stream ``data-order``).
        epoch: the epoch in progress, from 0 (``train.epochs`` once training is over).
        batch: the next batch of that epoch.
        step: batches done in the whole run.
        order: this epoch's sample order, drawn when the epoch starts (``None`` before).
        sums: summed per-batch metrics of the epoch so far.
        epoch_seconds: time spent on this epoch's batches so far.
        train_seconds: time spent on finished epochs.
        history: one record per finished epoch (the lines of ``metrics.jsonl``).
        best_score, best_epoch, best_state: the selection so far (epoch from 1, -1: none).
        is_prepared, prepared: whether :meth:`Method.prepare` ran (a calibration before
            the first epoch), and its record for the result.
    """

    generator: torch.Generator
    epoch: int = 0
    batch: int = 0
    step: int = 0
    order: Tensor | None = None
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    epoch_seconds: float = 0.0
    train_seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float = -1.0
    best_epoch: int = -1
    best_state: dict[str, Tensor] = field(default_factory=dict)
    is_prepared: bool = False
    prepared: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def initial(cls, exp: Experiment) -> LoopState:
        return cls(
            generator=stream_generator(exp.config.seed, "data-order"),
            best_state=flat_state(exp.method.modules()),
        )

    def next_epoch(self) -> None:
        self.epoch += 1
        self.batch = 0
        self.order = None
        self.sums = defaultdict(float)
        self.epoch_seconds = 0.0


def capture(
    exp: Experiment, state: LoopState, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Everything needed to continue ``exp`` from ``state``: flat tensors and JSON."""
    method = exp.method
    tensors: dict[str, Tensor] = {}
    for name, value in flat_state(method.modules()).items():
        tensors[f"model/{name}"] = value
    for name, value in state.best_state.items():
        tensors[f"best/{name}"] = value
    optim_meta: dict[str, Any] = {}
    for name, (optimiser, scheduler) in method.optimisers().items():
        flat, meta = optimiser_state(optimiser, f"optim/{name}")
        tensors.update(flat)
        optim_meta[name] = {"optimiser": meta, "scheduler": scheduler.state_dict()}
    system_tensors, system_meta = exp.system.checkpoint_state()
    tensors.update({f"system/{k}": v for k, v in system_tensors.items()})
    tensors["rng/data-order"] = state.generator.get_state()
    tensors["rng/torch"] = torch.get_rng_state()
    if state.order is not None:
        tensors["loop/order"] = state.order
    known = method.twin.known_errors  # what a calibration fitted
    if known is not None:
        tensors.update({f"known_errors/{k}": v for k, v in known.flat().items()})
    meta = {
        "loop": {
            "epoch": state.epoch,
            "batch": state.batch,
            "step": state.step,
            "sums": dict(state.sums),
            "epoch_seconds": state.epoch_seconds,
            "train_seconds": state.train_seconds,
            "best_score": state.best_score,
            "best_epoch": state.best_epoch,
            "history": state.history,
            "is_prepared": state.is_prepared,
            "prepared": state.prepared,
        },
        "method": {"name": method.name, "epoch": method.epoch},
        "known_errors": None
        if known is None
        else {"num_blocks": len(known.blocks), "meta": known.meta},
        "optimisers": optim_meta,
        "system": system_meta,
        **(extra or {}),
    }
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}, meta


def _part(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _realisation(flat: dict[str, Tensor], num_blocks: int, meta: dict) -> ErrorRealisation:
    """The inverse of :meth:`ErrorRealisation.flat` (keys ``block<k>.<name>``)."""
    blocks: list[dict[str, Tensor]] = [{} for _ in range(int(num_blocks))]
    for key, tensor in flat.items():
        prefix, name = key.split(".", 1)
        blocks[int(prefix.removeprefix("block"))][name] = tensor
    return ErrorRealisation(blocks=blocks, meta=meta)


def restore(exp: Experiment, tensors: dict[str, Tensor], meta: dict[str, Any]) -> LoopState:
    """Put ``exp`` back to a captured state; returns the loop state to continue from.

    Raises:
        ValueError: the checkpoint was written by another method or model.
    """
    method = exp.method
    if meta["method"]["name"] != method.name:
        raise ValueError(
            f"checkpoint is of method {meta['method']['name']!r}, the run is {method.name!r}"
        )
    load_flat_state(method.modules(), _part(tensors, "model/"))
    for name, (optimiser, scheduler) in method.optimisers().items():
        saved = meta["optimisers"][name]
        load_optimiser_state(optimiser, f"optim/{name}", tensors, saved["optimiser"])
        scheduler.load_state_dict(saved["scheduler"])
    method.epoch = int(meta["method"]["epoch"])
    if meta.get("known_errors") is not None:
        known = meta["known_errors"]
        method.twin.known_errors = _realisation(
            _part(tensors, "known_errors/"), known["num_blocks"], known["meta"]
        )
    exp.system.restore_checkpoint_state(_part(tensors, "system/"), meta["system"])
    torch.set_rng_state(tensors["rng/torch"])
    generator = torch.Generator()
    generator.set_state(tensors["rng/data-order"])
    loop = meta["loop"]
    return LoopState(
        generator=generator,
        epoch=int(loop["epoch"]),
        batch=int(loop["batch"]),
        step=int(loop["step"]),
        order=tensors.get("loop/order"),
        sums=defaultdict(float, loop["sums"]),
        epoch_seconds=float(loop["epoch_seconds"]),
        train_seconds=float(loop["train_seconds"]),
        history=list(loop["history"]),
        best_score=float(loop["best_score"]),
        best_epoch=int(loop["best_epoch"]),
        best_state=_part(tensors, "best/"),
        is_prepared=bool(loop["is_prepared"]),
        prepared=dict(loop["prepared"]),
    )
