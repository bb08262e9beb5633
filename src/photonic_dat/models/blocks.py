"""The block interface: one element of an analog system with its numerical physics.

A block maps a batch of states to states: complex optical fields (a detector reads their
intensity ``|y|^2``) or real-valued signals of an electronic analog system (a crossbar's
column currents after the ADC: the value itself is read). Any ``nn.Module`` can be a block of
a user's twin (:class:`photonic_dat.models.pnn.PNN` takes which of them are measurable);
:class:`Block` is the base class of the library's own optical blocks: the same block object
serves the numerical twin (``errors=None``: ideal physics) and the simulated physical system
(``errors`` = this block's tensors of a hidden realisation); it declares whether the state
after it can be measured on hardware (``measurable``) and draws its own systematic errors
from a spec.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

BlockErrors = Mapping[str, Tensor]


def observe(state: Tensor) -> Tensor:
    """What a detector reads of a state: the intensity ``|y|^2`` of a complex optical field,
    the value itself of a real (electronic) state. Same shape as ``state``."""
    if state.is_complex():
        return state.real.square() + state.imag.square()
    return state


class Block(nn.Module):
    """Base class of PNN blocks."""

    #: whether the intensity after this block can be measured (camera / photodiodes)
    measurable: bool = False
    #: whether DAT gives this block an SEPN (only measurable blocks get one)
    has_sepn: bool = True

    def forward(self, field: Tensor, errors: BlockErrors | None = None) -> Tensor:
        raise NotImplementedError

    @property
    def field_shape(self) -> tuple[int, ...]:
        """Shape of one sample's output field (without the batch axis)."""
        raise NotImplementedError

    def cache_physics(self, enabled: bool) -> None:  # noqa: B027 (optional hook)
        """While enabled, the block may keep what its physics derives from its parameters
        (and errors) and reuse it while they are unchanged (a mesh its transfer matrix);
        disabling drops it. Nothing to keep by default."""

    def draw_errors(self, spec: object, generator: torch.Generator) -> dict[str, Tensor]:
        """Draw this block's systematic errors; blocks without errors return ``{}``."""
        return {}

    def probe_parameters(self, generator: torch.Generator) -> dict[str, Tensor]:
        """A random setting of this block's optical parameters (for calibration probes),
        spread over their whole range; blocks without parameters return ``{}``."""
        return {}
