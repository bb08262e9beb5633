"""A simulated physical system: a device model with hidden errors, seen through detectors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.systems.base import (
    OUTPUT_PLANE,
    Capabilities,
    Measurement,
    PhysicalSystem,
    block_plane,
    tap_plane,
)
from photonic_dat.systems.detector import Detectors, DetectorSpec

__all__ = ["DeviceModel", "SimulatedSystem"]


class DeviceModel(Protocol):
    """The physics of a simulated device: true irradiances, no noise, no counting."""

    internal_taps: tuple[int, ...]

    def load(self, params: Mapping[str, Tensor]) -> None: ...

    def run(self, fields: Tensor, taps: tuple[int, ...]) -> tuple[Tensor, dict[int, Tensor]]: ...

    def run_block(self, index: int, fields: Tensor) -> Tensor: ...


class SimulatedSystem(PhysicalSystem):
    """Stands in for hardware. Trainers must use only :meth:`measure` / :meth:`measure_block`;
    the device model and its realisation are private (``_device``, ``_realisation``), like the
    errors of a real device. Every plane is read by a detector (:mod:`photonic_dat.systems.
    detector`); the frames a detector spends on itself (dark frames, frames measured again
    after saturation) are counted like any other."""

    def __init__(
        self,
        device: DeviceModel,
        realisation: ErrorRealisation,
        detector: DetectorSpec | None = None,
        *,
        noise_seed: int = 0,
        device_seed: int = 0,
        internal_taps: bool = True,
        block_access: bool = True,
    ) -> None:
        taps = tuple(device.internal_taps) if internal_taps else ()
        super().__init__(Capabilities(internal_taps=taps, block_access=block_access))
        self._device = device
        self._realisation = realisation
        self._detectors = Detectors(
            detector or DetectorSpec(),
            noise_seed=noise_seed,
            device_seed=device_seed,
            charge=self._count_frames,
        )

    movable = True

    def to(self, device: torch.device | str) -> SimulatedSystem:
        """Compute the device's light on ``device``; its errors were drawn on the CPU (one
        ``errors.seed`` is one device everywhere) and the detector noise still is."""
        if isinstance(self._device, torch.nn.Module):
            self._device.to(device)
        return self

    @property
    def detector_summary(self) -> dict[str, dict[str, float]]:
        """Per plane: exposure (full scale), frames, saturated fraction, exposure changes."""
        return self._detectors.summary()

    exposure_unit = "irradiance at full scale"

    def exposure(self, plane: str) -> float | None:
        """The plane's full scale (irradiance at the top ADC code), once commissioned."""
        state = self._detectors.planes.get(plane)
        return None if state is None else state.full_scale

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors, meta = super().checkpoint_state()
        det_tensors, det_meta = self._detectors.state_dict()
        tensors.update({f"detectors/{k}": v for k, v in det_tensors.items()})
        return tensors, {**meta, "detectors": det_meta}

    def restore_checkpoint_state(self, tensors: Mapping[str, Tensor], meta: Mapping) -> None:
        super().restore_checkpoint_state(tensors, meta)
        own = {
            k.removeprefix("detectors/"): v
            for k, v in tensors.items()
            if k.startswith("detectors/")
        }
        self._detectors.load_state_dict(own, meta["detectors"])

    def save_device(self, directory: str | Path) -> None:
        """Write the hidden realisation (for the simulator's record; trainers never read it)."""
        self._realisation.save(directory)

    @torch.no_grad()
    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        self._device.load(params)
        output, states = self._device.run(fields, taps)
        return Measurement(
            output=self._detectors.read(OUTPUT_PLANE, output),
            taps={k: self._detectors.read(tap_plane(k), states[k]) for k in taps},
        )

    @torch.no_grad()
    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        self._device.load(params)
        return self._detectors.read(block_plane(index), self._device.run_block(index, fields))
