"""The block interface: one optical element with its numerical physics.

A block maps a batch of complex fields to fields. The same block object serves the numerical
twin (``errors=None``: ideal physics) and the simulated physical system (``errors`` = this
block's tensors of a hidden realisation). A block declares whether the state after it can be
measured on hardware (``measurable``) and draws its own systematic errors from a spec.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

BlockErrors = Mapping[str, Tensor]


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

    def draw_errors(self, spec: object, generator: torch.Generator) -> dict[str, Tensor]:
        """Draw this block's systematic errors; blocks without errors return ``{}``."""
        return {}

    def probe_parameters(self, generator: torch.Generator) -> dict[str, Tensor]:
        """A random setting of this block's optical parameters (for calibration probes),
        spread over their whole range; blocks without parameters return ``{}``."""
        return {}
