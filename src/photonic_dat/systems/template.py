"""A template for a lab's own hardware: copy this file, replace :class:`SimulatedHardware` by
your instruments, serve it.

    photonic-dat serve my-config.yaml --device my_lab.device:LabDevice

The server builds ``LabDevice(config, pnn)`` (again after a restart), encodes the raw images
the trainer sends with the PNN's own digital encoder and calls :meth:`PhysicalSystem.measure`
with the input fields; everything below that line is the lab's: turning phases into SLM grey
levels or heater voltages, waiting for the modulator to settle, showing the inputs, triggering
and reading the cameras or photodiodes, and refusing frames that cannot be trusted.

As shipped, the "instruments" are :class:`SimulatedHardware`: the configuration's simulated
device seen through an 8-bit phase modulator, so that the template runs as it is::

    photonic-dat serve mpnn-digits --device photonic_dat.systems.template:LabDevice
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from photonic_dat.exceptions import ConfigError, DeviceError
from photonic_dat.io import atomic_write_text
from photonic_dat.systems.base import (
    OUTPUT_PLANE,
    Capabilities,
    Measurement,
    PhysicalSystem,
    block_plane,
    tap_plane,
)
from photonic_dat.systems.timing import DeviceTimings

__all__ = ["LabDevice", "SimulatedHardware"]

LEVELS = 256  # grey levels of the phase modulator (an 8-bit SLM or DAC)


class SimulatedHardware:
    """Stands in for a lab's instruments (replace it by your drivers).

    ``upload(levels)`` writes one integer grey level per phase setting and returns when the
    modulator has settled; ``capture(fields, planes)`` shows the inputs one after another and
    returns one frame per input for each plane (camera exposures or photodiode readings).
    ``block(index, fields)`` drives one block alone (only where the optics allow it).
    """

    serial = "SIM-0001"

    def __init__(self, config, pnn) -> None:
        from photonic_dat.config.factory import build_system

        local = config.model_copy(deep=True)
        local.system.kind = "simulated"
        self._device = build_system(local, pnn)
        self._phases: dict[str, Tensor] = {}
        self.internal_taps = self._device.capabilities.internal_taps

    def upload(self, levels: Mapping[str, Tensor]) -> None:
        self._phases = {k: v.to(torch.float32) * (2 * math.pi / LEVELS) for k, v in levels.items()}

    def capture(self, fields: Tensor, planes: tuple[str, ...]) -> dict[str, Tensor]:
        taps = tuple(int(p.split(":")[1]) for p in planes if p.startswith("tap:"))
        m = self._device.measure(self._phases, fields, taps)
        return {OUTPUT_PLANE: m.output, **{tap_plane(k): m.taps[k] for k in taps}}

    def block(self, index: int, fields: Tensor) -> Tensor:
        return self._device.measure_block(index, self._phases, fields)


class LabDevice(PhysicalSystem):
    """One optical setup as a :class:`PhysicalSystem` (the class a lab writes).

    What to fill in, in order:

    1. ``__init__``: open the instruments; declare what the setup can measure
       (``Capabilities``: which internal planes have a camera, whether one block can be
       driven alone), its timings (``DeviceTimings``: upload + settle, exposure, readout) and
       the detector's full-scale reading (frames reaching it are refused as saturated).
    2. ``_measure``: display the parameters (only when they changed), send the inputs, read
       one frame per input and plane; return intensities, one row per input, in input order.
    3. ``_measure_block`` (optional): the same for one block driven alone.
    4. ``save_device``: write the calibration files (phase-to-grey-level table, detector
       regions, dark frames); the server sends their SHA-256 digests to every trainer at
       connect and the trainer records them in its run directory.
    5. ``describe``: what identifies the setup (serial numbers, firmware).

    Args:
        config: the configuration the server was started with.
        pnn: the PNN architecture (names and shapes of the parameters to display).
    """

    #: 12-bit camera counts converted to intensity: a frame at this value is saturated
    full_scale = 1e4

    def __init__(self, config, pnn) -> None:
        if config.model != "mpnn":
            raise ConfigError(
                "the template displays phase settings in rad (an MPNN); a diffractive PNN's "
                "masks are parametrised (dpnn.phase_wrap): convert with its blocks' phase()"
            )
        self.hardware = SimulatedHardware(config, pnn)  # <- your instruments
        super().__init__(
            Capabilities(internal_taps=tuple(self.hardware.internal_taps), block_access=True)
        )
        self.timings = DeviceTimings(upload_s=0.02, frame_s=0.01, readout_s=0.0)
        self._shown: dict[str, Tensor] | None = None
        # phase (rad) -> grey level: linear here; a measured look-up table in a real setup
        self.lut = torch.arange(LEVELS, dtype=torch.float64) * (2 * math.pi / LEVELS)

    def describe(self) -> dict[str, str]:
        return {"modulator": f"{LEVELS}-level phase modulator", "serial": self.hardware.serial}

    def save_device(self, directory) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / "phase_lut.json", json.dumps(self.lut.tolist()))

    def _levels(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Phase (rad) -> the nearest grey level of the look-up table, wrapped to one turn."""
        levels = {}
        midpoints = (self.lut[1:] + self.lut[:-1]) / 2
        for name, phase in params.items():
            wrapped = torch.remainder(phase.double(), 2 * math.pi)
            nearest = torch.bucketize(wrapped, midpoints)
            # past the last level's midpoint the nearest level is 0 again (one turn on)
            top = wrapped > (self.lut[-1] + 2 * math.pi) / 2
            levels[name] = torch.where(top, torch.zeros_like(nearest), nearest)
        return levels

    def _show(self, params: Mapping[str, Tensor]) -> None:
        if self._shown is None or any(not torch.equal(params[k], self._shown[k]) for k in params):
            self.hardware.upload(self._levels(params))
            self._shown = {k: v.clone() for k, v in params.items()}

    def _check(self, frames: Tensor, count: int, plane: str) -> Tensor:
        if frames.shape[0] != count:
            raise DeviceError(f"{plane}: {frames.shape[0]} frames for {count} inputs")
        if not torch.isfinite(frames).all():
            raise DeviceError(f"{plane}: frames with NaN or infinite values")
        return frames

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        self._show(params)
        planes = (OUTPUT_PLANE, *(tap_plane(k) for k in taps))
        frames = self.hardware.capture(fields, planes)
        n = fields.shape[0]
        return Measurement(
            output=self._check(frames[OUTPUT_PLANE], n, OUTPUT_PLANE),
            taps={k: self._check(frames[tap_plane(k)], n, tap_plane(k)) for k in taps},
        )

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        self._show(params)
        plane = block_plane(index)
        return self._check(self.hardware.block(index, fields), fields.shape[0], plane)
