"""A simulated device whose physics is the twin's own blocks with hidden parametric errors.

This is the right device model when the hardware's physics is known to the level of its
parameters: an MZI mesh *is* beamsplitters and phase shifters, and its imperfections are
their split ratios, phase offsets, thermal crosstalk and insertion loss (each block draws
and applies its own, see :meth:`photonic_dat.models.mesh.MeshBlock.transfer_matrix`). The
diffractive PNN has a device that is not its twin: :class:`~photonic_dat.models.
diffractive_device.FineGridDevice`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import intensity

__all__ = ["ParametricDevice"]


class ParametricDevice(nn.Module):
    """The twin's blocks with a hidden :class:`~photonic_dat.errors.realisation.
    ErrorRealisation`; holds its own copy of the displayed parameters.

    ``output_view`` maps the output plane's irradiance to what the output detectors see
    (for example only the readout ports of a mesh); the identity by default.
    """

    def __init__(
        self,
        architecture: PNN,
        realisation: ErrorRealisation,
        output_view: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        if len(realisation.blocks) != len(architecture.blocks):
            raise ValueError(
                f"realisation has {len(realisation.blocks)} blocks, the PNN has "
                f"{len(architecture.blocks)}"
            )
        model = copy.deepcopy(architecture).requires_grad_(False)
        model.known_errors = None  # the device has its true errors, not a twin's estimate
        self.model = model
        self.realisation = realisation
        self.output_view = output_view or (lambda x: x)

    @property
    def internal_taps(self) -> tuple[int, ...]:
        return self.model.internal_taps

    def _apply(self, fn, recurse=True):
        """``.to(device)`` and the like move the hidden errors with the parameters."""
        super()._apply(fn, recurse)
        self.realisation = self.realisation.map(fn)
        return self

    @torch.no_grad()
    def load(self, params: Mapping[str, Tensor]) -> None:
        own = dict(self.model.named_parameters())
        unknown = sorted(set(params) - set(own))
        if unknown:
            raise KeyError(f"unknown optical parameters {unknown[:5]}")
        for name, value in params.items():
            own[name].copy_(value.detach())

    @torch.no_grad()
    def run(self, fields: Tensor, taps: tuple[int, ...] = ()) -> tuple[Tensor, dict[int, Tensor]]:
        trace = self.model.run(fields, errors=self.realisation)
        states = {k: intensity(trace.states[k]) for k in taps}
        return self.output_view(intensity(trace.output)), states

    @torch.no_grad()
    def run_block(self, index: int, fields: Tensor) -> Tensor:
        return intensity(self.model.blocks[index](fields, self.realisation.block(index)))
