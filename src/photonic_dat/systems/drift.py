"""Slow drift of a device: phase offsets that creep and a laser whose power changes.

A lab setup drifts over hours (temperature moves phase shifters and mounts, a laser's power
wanders). :class:`DriftingSystem` wraps a device and, as it measures, adds to every displayed
parameter an offset ``fraction * phase_std * d`` (``d ~ N(0, 1)`` per setting, drawn once from
the ``"drift"`` random stream of ``errors.seed``) and scales the input light's power by
``1 + fraction * power``. The drift clock is the number of input samples the device has
measured: ``fraction`` is 0 for the first ``onset`` samples, then grows linearly to 1 over
``duration`` samples (``duration = 0``: a step) and stays there.

For the MPNN the parameters are phase-shifter settings in radians, so the offsets are phase
offsets; for the DPNN they are the masks' drive values before the phase response (an SLM
grey-level offset).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from photonic_dat.systems.base import Measurement, PhysicalSystem
from photonic_dat.systems.wrappers import DeviceWrapper

__all__ = ["DriftSpec", "DriftingSystem"]


@dataclass(frozen=True)
class DriftSpec:
    """How much a device drifts, and when (see the module docstring)."""

    phase_std: float = 0.0
    power: float = 0.0
    onset: int = 0
    duration: int = 0

    def __post_init__(self) -> None:
        if not (self.phase_std >= 0 and math.isfinite(self.phase_std)):
            raise ValueError(f"drift phase_std must be finite and >= 0, got {self.phase_std}")
        if not (self.power > -1 and math.isfinite(self.power)):
            raise ValueError(f"drift power must be a finite fraction > -1, got {self.power}")
        if self.onset < 0 or self.duration < 0:
            raise ValueError("drift onset and duration are sample counts >= 0")

    @property
    def active(self) -> bool:
        return self.phase_std > 0 or self.power != 0

    def fraction(self, samples: int) -> float:
        """How far the drift has gone (0 to 1) after ``samples`` measured samples."""
        if samples < self.onset:
            return 0.0
        if self.duration == 0:
            return 1.0
        return min(1.0, (samples - self.onset) / self.duration)


class DriftingSystem(DeviceWrapper):
    """A device that drifts as it measures (phase offsets, laser power)."""

    def __init__(self, inner: PhysicalSystem, spec: DriftSpec, seed: int) -> None:
        super().__init__(inner)
        self.spec = spec
        self._generator = torch.Generator().manual_seed(int(seed))
        self._directions: dict[str, Tensor] = {}
        self._clock = 0

    def state(self, samples: int | None = None) -> dict[str, float]:
        """The drift after ``samples`` measured samples (default: now)."""
        samples = self._clock if samples is None else samples
        f = self.spec.fraction(samples)
        return {
            "samples": samples,
            "fraction": f,
            "phase_offset_std": f * self.spec.phase_std,
            "power": 1.0 + f * self.spec.power,
        }

    def _count(self, params: Mapping[str, Tensor], samples: int, block: bool = False) -> None:
        self._clock = self.queries.total  # the drift seen by this call: before its samples
        super()._count(params, samples, block)

    def _drifted(self, params: Mapping[str, Tensor], fields: Tensor):
        f = self.spec.fraction(self._clock)
        if f == 0:
            return params, fields
        if not self._directions:  # drawn once, in a fixed order, from the drift stream
            for name in sorted(params):
                p = params[name]
                self._directions[name] = torch.randn(
                    p.shape, generator=self._generator, dtype=torch.float64
                ).to(p.dtype)
        offset = f * self.spec.phase_std
        drifted = {
            name: value + offset * self._directions[name].to(value.device)
            if name in self._directions
            else value
            for name, value in params.items()
        }
        return drifted, fields * math.sqrt(1.0 + f * self.spec.power)

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        params, fields = self._drifted(params, fields)
        return self.inner.measure(params, fields, taps)

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        params, fields = self._drifted(params, fields)
        return self.inner.measure_block(index, params, fields)

    def report(self) -> dict[str, object]:
        return {**self.inner.report(), "drift": {**asdict(self.spec), "now": self.state()}}
