"""Systems that wrap another system: the device side's pacing (emulated timings).

A wrapper is a :class:`PhysicalSystem` in its own right (it counts what it is asked for) and
forwards every measurement to the system it wraps, so that wrappers stack:
``DriftingSystem(PacedSystem(SimulatedSystem(...)))``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from photonic_dat.systems.base import Measurement, PhysicalSystem
from photonic_dat.systems.timing import DeviceTimings

__all__ = ["DeviceWrapper", "PacedSystem", "describe_chain"]


class DeviceWrapper(PhysicalSystem):
    """Forwards to ``inner``; offers its capabilities, timings and full scale."""

    def __init__(self, inner: PhysicalSystem) -> None:
        super().__init__(inner.capabilities)
        self.inner = inner
        self.timings = inner.timings
        self.full_scale = inner.full_scale

    def save_device(self, directory) -> None:
        self.inner.save_device(directory)

    @property
    def movable(self) -> bool:  # type: ignore[override]
        return self.inner.movable

    def to(self, device) -> DeviceWrapper:
        self.inner.to(device)
        return self

    @property
    def exposure_unit(self) -> str:  # type: ignore[override]
        return self.inner.exposure_unit

    def exposure(self, plane: str) -> float | None:
        return self.inner.exposure(plane)

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """This wrapper's counters and the wrapped system's whole state (``inner/``)."""
        tensors, meta = super().checkpoint_state()
        inner_tensors, inner_meta = self.inner.checkpoint_state()
        tensors.update({f"inner/{k}": v for k, v in inner_tensors.items()})
        return tensors, {**meta, "inner": inner_meta}

    def restore_checkpoint_state(self, tensors: Mapping[str, Tensor], meta: Mapping) -> None:
        own = {k: v for k, v in tensors.items() if not k.startswith("inner/")}
        inner = {k.removeprefix("inner/"): v for k, v in tensors.items() if k.startswith("inner/")}
        super().restore_checkpoint_state(own, meta)
        self.inner.restore_checkpoint_state(inner, meta["inner"])

    def close(self) -> None:
        self.inner.close()

    def report(self) -> dict[str, object]:
        return self.inner.report()

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        return self.inner.measure(params, fields, taps)

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        return self.inner.measure_block(index, params, fields)


def describe_chain(system: PhysicalSystem) -> str:
    """``"DriftingSystem(PacedSystem(SimulatedSystem))"`` for a stack of wrappers."""
    name = type(system).__name__
    if isinstance(system, DeviceWrapper):
        return f"{name}({describe_chain(system.inner)})"
    return name


class PacedSystem(DeviceWrapper):
    """Makes every measurement last at least as long as the declared ``timings`` say (the
    simulation's own compute time counts towards it), so that a simulated device is as slow
    as the hardware it stands for: ``upload_s`` per new parameter set, ``frame_s +
    readout_s`` per frame."""

    def __init__(self, inner: PhysicalSystem, timings: DeviceTimings) -> None:
        super().__init__(inner)
        self.timings = timings
        self._upload_pending = False

    def _count(self, params: Mapping[str, Tensor], samples: int, block: bool = False) -> None:
        before = self.queries.parameter_uploads
        super()._count(params, samples, block)  # runs just before _measure / _measure_block
        self._upload_pending = self.queries.parameter_uploads != before

    def _paced(self, call, frames: int):
        start = time.perf_counter()
        result = call()
        target = self.timings.seconds(frames, int(self._upload_pending))
        self._upload_pending = False
        remaining = target - (time.perf_counter() - start)
        if remaining > 0:
            time.sleep(remaining)
        return result

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        frames = fields.shape[0] * (1 + len(taps))
        return self._paced(lambda: self.inner.measure(params, fields, taps), frames)

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        return self._paced(lambda: self.inner.measure_block(index, params, fields), fields.shape[0])
