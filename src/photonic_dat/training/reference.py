"""Watching the device drift: a fixed reference pattern measured every N training steps.

The reference is a fixed set of parameters (the twin's initial ones) and a fixed set of inputs
(the first ``samples`` training images), measured at the output and at every internal tap.
Nothing about it changes during training, so any change in what the device returns for it is
the device changing: the total intensity tracks the light's power, and the relative change
of the normalised intensities tracks everything else (phase offsets, alignment). Each
measurement is a record (``reference.jsonl`` in the run directory). When the change since the
last drift (or the start) exceeds ``threshold``, the record is a drift: the method is told
(:meth:`photonic_dat.methods.base.Method.on_drift`: DAT refits its SEPNs) and the training
loop starts model selection again.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from photonic_dat.methods.base import Method
from photonic_dat.models.readout import l2_normalise

__all__ = ["ReferenceMonitor"]


def _planes(measured) -> dict[str, Tensor]:
    return {"output": measured.output, **{f"tap:{k}": v for k, v in measured.taps.items()}}


def _shape_change(now: Tensor, then: Tensor) -> float:
    """Relative distance between per-sample L2-normalised intensities (power-insensitive)."""
    a = l2_normalise(now.reshape(now.shape[0], -1).double())
    b = l2_normalise(then.reshape(then.shape[0], -1).double())
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


class ReferenceMonitor:
    """Measures the reference pattern before every ``every``-th training step.

    Args:
        method: the method being trained (its system is measured; it is told of drifts).
        images: the reference inputs (raw images).
        every: steps between two reference measurements.
        threshold: relative change of the reference that counts as drift (``None``: the
            records are only logged).
    """

    def __init__(
        self, method: Method, images: Tensor, every: int, threshold: float | None = None
    ) -> None:
        if every < 1:
            raise ValueError("the reference pattern is measured every N >= 1 steps")
        self.method = method
        self.system = method.system
        self.every = every
        self.threshold = threshold
        self._drifted = False
        self.params = {k: v.clone() for k, v in method.display_params().items()}
        self.images = images
        self.taps = tuple(self.system.capabilities.internal_taps)
        self.records: list[dict[str, Any]] = []
        self._first: dict[str, Tensor] | None = None
        self._anchor: dict[str, Tensor] | None = None

    @torch.no_grad()
    def measure(self, step: int) -> dict[str, Any]:
        """Measure the reference now; return (and keep) its record."""
        fields = self.method.encode(self.images)
        planes = _planes(self.system.measure(self.params, fields, self.taps))
        if self._first is None:
            self._first = self._anchor = planes
        assert self._anchor is not None
        power = sum(float(p.double().sum()) for p in planes.values())
        first_power = sum(float(p.double().sum()) for p in self._first.values())
        record: dict[str, Any] = {
            "step": step,
            "samples": self.system.queries.total,
            "frames": self.system.queries.total_frames,
            "power": power / first_power if first_power else float("nan"),
            "change": max(_shape_change(planes[k], self._anchor[k]) for k in planes),
            "change_from_start": max(_shape_change(planes[k], self._first[k]) for k in planes),
        }
        record["drift"] = self.threshold is not None and record["change"] > self.threshold
        record["refit"] = bool(record["drift"] and self.method.on_drift(record))
        if record["drift"]:
            self._anchor = planes  # later changes are measured from here
            self._drifted = True
        self.records.append(record)
        return record

    def take_drift(self) -> bool:
        """Whether a drift was seen since the last call."""
        drifted, self._drifted = self._drifted, False
        return drifted

    def before_step(self, step: int) -> dict[str, Any] | None:
        """Measure the reference if ``step`` (counted over the whole run) is due."""
        return self.measure(step) if step % self.every == 0 else None
