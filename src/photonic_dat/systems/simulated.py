"""A simulated physical system: the PNN's physics with a hidden error realisation and noise."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import Tensor

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.errors.specs import DetectorNoiseSpec
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import detector_noise, intensity
from photonic_dat.systems.base import Capabilities, Measurement, PhysicalSystem


class SimulatedSystem(PhysicalSystem):
    """Stands in for hardware. Trainers must use only :meth:`measure` / :meth:`measure_block`;
    the realisation is kept private (``_realisation``) like the errors of a real device."""

    def __init__(
        self,
        architecture: PNN,
        realisation: ErrorRealisation,
        noise: DetectorNoiseSpec | None = None,
        *,
        seed: int = 0,
        internal_taps: bool = True,
        block_access: bool = True,
    ) -> None:
        if len(realisation.blocks) != len(architecture.blocks):
            raise ValueError(
                f"realisation has {len(realisation.blocks)} blocks, the PNN has "
                f"{len(architecture.blocks)}"
            )
        taps = architecture.internal_taps if internal_taps else ()
        super().__init__(Capabilities(internal_taps=taps, block_access=block_access))
        self._model = copy.deepcopy(architecture).requires_grad_(False)
        self._realisation = realisation
        self._noise = noise or DetectorNoiseSpec()
        self._generator = torch.Generator().manual_seed(int(seed))

    def _detect(self, field: Tensor) -> Tensor:
        value = intensity(field)
        if self._noise.is_noiseless:
            return value
        return detector_noise(
            value,
            self._generator,
            shot_photons=self._noise.shot_photons or None,
            read_std=self._noise.read_std,
            adc_bits=self._noise.adc_bits,
        )

    def save_device(self, directory) -> None:
        """Write the hidden realisation (for the simulator's record; trainers never read it)."""
        self._realisation.save(directory)

    def _display(self, params: Mapping[str, Tensor]) -> None:
        """Load the parameters onto the device (the private copy of the architecture)."""
        own = dict(self._model.named_parameters())
        unknown = sorted(set(params) - set(own))
        if unknown:
            raise KeyError(f"unknown optical parameters {unknown[:5]}")
        for name, value in params.items():
            own[name].copy_(value.detach())

    @torch.no_grad()
    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        self._display(params)
        trace = self._model.run(fields, errors=self._realisation)
        return Measurement(
            output=self._detect(trace.output),
            taps={k: self._detect(trace.states[k]) for k in taps},
        )

    @torch.no_grad()
    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        self._display(params)
        block = self._model.blocks[index]
        return self._detect(block(fields, self._realisation.block(index)))
