"""The simulated diffractive device: the twin's geometry, rendered and propagated on a finer
grid, with a hidden error realisation. It is *not* the twin plus tweaks.

The twin samples every plane once per modulator pixel. This device samples every plane
``s x s`` times per pixel (``system.samples_per_pixel``), so that it carries physics the twin
lacks and cannot represent exactly:

* each mask is a pixelated surface: pixel edges diffract light to angles the twin's grid
  does not hold, the dead border between pixels (``fill_factor``) leaves unmodulated
  zero-order light, the fringing field blurs the phase profile across pixel borders
  (including the fly-back at phase wraps), all on the fine grid
  (:func:`~photonic_dat.optics.pixelated.render_mask`);
* a misaligned mask is moved as that surface (:func:`~photonic_dat.optics.pixelated.
  move_mask`): phase-only, so it absorbs nothing, however it is shifted or rotated;
* the input image is displayed pixelated, the illumination is a Gaussian beam with a tilt,
  and every gap has its own axial error;
* cameras integrate the irradiance over each pixel of the twin's pitch
  (:func:`~photonic_dat.optics.pixelated.pixel_average`); the detector noise is added by the
  measurement system, not here.

What each error is, its units and its realistic range with sources:
:class:`photonic_dat.errors.specs.DiffractiveErrorSpec`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.models.diffractive import DiffractiveLayer, FreeSpace
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import intensity
from photonic_dat.optics.diffractive import gaussian_illumination
from photonic_dat.optics.free_space import propagate
from photonic_dat.optics.pixelated import move_mask, pixel_average, render_mask, upsample_nearest

__all__ = ["FineGridDevice"]


def _float(errors: Mapping[str, Tensor], key: str, default: float = 0.0) -> float:
    value = errors.get(key)
    return default if value is None else float(value)


class FineGridDevice(nn.Module):
    """A diffractive PNN as the hardware realises it, on ``samples_per_pixel`` samples per
    pixel. Built from the twin's architecture (geometry and parameter names) and a hidden
    :class:`~photonic_dat.errors.realisation.ErrorRealisation`; holds its own copy of the
    displayed parameters (:meth:`load`)."""

    def __init__(self, architecture: PNN, realisation: ErrorRealisation, samples_per_pixel: int):
        super().__init__()
        if samples_per_pixel < 1:
            raise ValueError(f"samples_per_pixel must be >= 1, got {samples_per_pixel}")
        blocks = list(architecture.blocks)
        if not blocks or not all(isinstance(b, DiffractiveLayer | FreeSpace) for b in blocks):
            raise TypeError("FineGridDevice needs a diffractive PNN (layers and free space)")
        if len(realisation.blocks) != len(blocks):
            raise ValueError(
                f"realisation has {len(realisation.blocks)} blocks, the PNN has {len(blocks)}"
            )
        self.blocks = copy.deepcopy(nn.ModuleList(blocks)).requires_grad_(False)
        self.realisation = realisation
        self.s = int(samples_per_pixel)
        first = blocks[0]
        self.neurons, self.pitch, self.wavelength = first.neurons, first.pitch, first.wavelength
        self._masks: dict[int, Tensor] | None = None

    def _apply(self, fn, recurse=True):
        """``.to(device)`` and the like move the hidden errors with the parameters."""
        super()._apply(fn, recurse)
        self.realisation = self.realisation.map(fn)
        self._masks = None
        return self

    @property
    def fine_pitch(self) -> float:
        return self.pitch / self.s

    @property
    def internal_taps(self) -> tuple[int, ...]:
        last = len(self.blocks) - 1
        return tuple(k for k, b in enumerate(self.blocks) if b.measurable and k != last)

    # -- the displayed masks ------------------------------------------------------------------
    @torch.no_grad()
    def load(self, params: Mapping[str, Tensor]) -> None:
        """Display the optical parameters (``blocks.K.raw``, as the twin names them)."""
        own = {f"blocks.{name}": p for name, p in self.blocks.named_parameters()}
        unknown = sorted(set(params) - set(own))
        if unknown:
            raise KeyError(f"unknown optical parameters {unknown[:5]}")
        for name, value in params.items():
            own[name].copy_(value.detach())
        self._masks = None

    def mask(self, index: int) -> Tensor:
        """The fine-grid transmission ``(s n, s n)`` of layer ``index`` as displayed."""
        if self._masks is None:
            self._masks = {}
        if index not in self._masks:
            self._masks[index] = self._render(index)
        return self._masks[index]

    @torch.no_grad()
    def _render(self, index: int) -> Tensor:
        layer = self.blocks[index]
        errors = self.realisation.block(index)
        phase = layer.modulated_phase(errors)  # quantised, through the modulator's response
        t = render_mask(
            phase.to(torch.float32),
            self.s,
            fill_factor=_float(errors, "fill_factor", 1.0),
            fringing_samples=_float(errors, "fringing_sigma") / self.fine_pitch,
        )
        pixel = errors.get("pixel_phase")
        if pixel is not None:  # surface / thickness error of each pixel
            t = t * torch.polar(torch.ones_like(pixel), pixel).repeat_interleave(
                self.s, -2
            ).repeat_interleave(self.s, -1)
        dx, dy = _float(errors, "dx") / self.fine_pitch, _float(errors, "dy") / self.fine_pitch
        rotation = _float(errors, "rotation")
        if dx or dy or rotation:
            t = move_mask(t, dx, dy, rotation)
        return t

    # -- propagation ----------------------------------------------------------------------------
    def _illuminate(self, field: Tensor) -> Tensor:
        errors = self.realisation.block(0)
        waist = errors.get("illumination_waist")
        tilt_x, tilt_y = _float(errors, "tilt_x"), _float(errors, "tilt_y")
        if waist is None and not tilt_x and not tilt_y:
            return field
        envelope = gaussian_illumination(
            tuple(field.shape[-2:]),
            self.fine_pitch,
            math.inf if waist is None else float(waist),
            tilt_x,
            tilt_y,
            wavelength=self.wavelength,
            dtype=field.dtype,
            device=field.device,
        )
        return field * envelope

    def _block(self, index: int, field: Tensor) -> Tensor:
        block = self.blocks[index]
        distance = block.distance + _float(self.realisation.block(index), "gap_error")
        field = propagate(
            field, self.fine_pitch, self.wavelength, distance, method=block.propagation
        )
        if isinstance(block, DiffractiveLayer):
            field = field * self.mask(index)
        return field

    @torch.no_grad()
    def run(self, fields: Tensor, taps: tuple[int, ...] = ()) -> tuple[Tensor, dict[int, Tensor]]:
        """Input fields ``(B, n, n)`` (the twin's encoding, one sample per pixel) -> the
        irradiance ``(B, n, n)`` on the detector plane and on each tapped plane, averaged over
        each pixel of the twin's pitch."""
        field = self._illuminate(upsample_nearest(fields, self.s))
        states: dict[int, Tensor] = {}
        for k in range(len(self.blocks)):
            field = self._block(k, field)
            if k in taps:
                states[k] = pixel_average(intensity(field), self.s)
        return pixel_average(intensity(field), self.s), states

    @torch.no_grad()
    def run_block(self, index: int, fields: Tensor) -> Tensor:
        """Drive block ``index`` alone with ``fields (B, n, n)``; its output irradiance."""
        field = upsample_nearest(fields, self.s)
        if index == 0:
            field = self._illuminate(field)
        return pixel_average(intensity(self._block(index, field)), self.s)
