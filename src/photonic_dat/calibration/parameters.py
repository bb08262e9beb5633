"""The error parameters a calibration fits, per block, as trainable tensors.

Each block family says which of its errors a lab can identify from measurements: for an MZI
mesh the split error of every beamsplitter and the offset of every phase shifter; for a
diffractive layer its lateral shift, rotation, the length of the gap before it, the gain and
exponent of the modulator's response and the width of its pixel crosstalk (fringing).
Parameters are dimensionless and scaled so that a realistic error is of order one (Adam's
step is then of the same size for all of them); :meth:`ErrorModel.realisation` turns them
into the error tensors the blocks apply, in SI units.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.models.diffractive import DiffractiveLayer, FreeSpace
from photonic_dat.models.mesh import MeshBlock
from photonic_dat.models.pnn import PNN

__all__ = ["ErrorModel"]

#: error name -> (shape of the parameter given the block, map parameter -> error tensor)
Mapping = dict[str, tuple[tuple[int, ...], Callable[[Tensor], Tensor]]]


def _mesh_errors(block: MeshBlock) -> Mapping:
    shape = block.layout.shape
    return {
        # split errors live in (-1, 1); tanh keeps them there, 0.05 per unit near zero
        "bs_error": ((*shape, 2), lambda p: 0.5 * torch.tanh(0.1 * p)),
        "theta_offset": (shape, lambda p: 0.05 * p),
        "phi_offset": (shape, lambda p: 0.05 * p),
        "phi_in_offset": ((block.ports,), lambda p: 0.05 * p),
    }


def _layer_errors(block: DiffractiveLayer) -> Mapping:
    pitch = block.pitch
    return {
        "dx": ((), lambda p: (pitch * p).double()),  # pixels
        "dy": ((), lambda p: (pitch * p).double()),
        "rotation": ((), lambda p: (1e-3 * p).double()),  # mrad
        "gap_error": ((), lambda p: (1e-4 * p).double()),  # 0.1 mm
        "gain": ((), lambda p: (1.0 + 0.05 * p).double()),  # 5 %
        "gamma": ((), lambda p: (1.0 + 0.05 * p).double()),
        # fringing blur std >= 0, in pixels: 0.05 at p = 0 (none, for practical purposes)
        "fringing_sigma": ((), lambda p: (pitch * torch.nn.functional.softplus(p - 3)).double()),
    }


def _gap_errors(block: FreeSpace) -> Mapping:
    return {"gap_error": ((), lambda p: (1e-4 * p).double())}


def fitted_errors(block: nn.Module) -> Mapping:
    """The calibratable errors of ``block`` (``{}`` for blocks without any)."""
    if isinstance(block, MeshBlock):
        return _mesh_errors(block)
    if isinstance(block, DiffractiveLayer):
        return _layer_errors(block)
    if isinstance(block, FreeSpace):
        return _gap_errors(block)
    return {}


class ErrorModel(nn.Module):
    """Trainable error parameters of every block of ``pnn`` (all zero: the ideal twin)."""

    def __init__(self, pnn: PNN) -> None:
        super().__init__()
        self._maps: list[Mapping] = [fitted_errors(b) for b in pnn.blocks]
        self.blocks = nn.ModuleList(
            nn.ParameterDict(
                {name: nn.Parameter(torch.zeros(shape)) for name, (shape, _) in m.items()}
            )
            for m in self._maps
        )

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def realisation(self, detach: bool = False) -> ErrorRealisation:
        """The error tensors the blocks apply (differentiable unless ``detach``)."""
        blocks = []
        for params, maps in zip(self.blocks, self._maps, strict=True):
            errors = {}
            for name, (_, to_error) in maps.items():
                value = to_error(params[name])
                errors[name] = value.detach().clone() if detach else value
            blocks.append(errors)
        return ErrorRealisation(blocks=blocks, meta={"source": "calibration"})
