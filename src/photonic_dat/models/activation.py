"""The electro-optic activation as a (non-trainable, unmeasured) block."""

from __future__ import annotations

import math

from torch import Tensor

from photonic_dat.models.blocks import Block, BlockErrors
from photonic_dat.optics.activation import electro_optic_activation


class EOActivation(Block):
    """Electro-optic nonlinearity between meshes; see :func:`electro_optic_activation`."""

    measurable = False

    def __init__(
        self, ports: int, alpha: float = 0.1, gain: float = 0.05 * math.pi, bias: float = math.pi
    ) -> None:
        super().__init__()
        self.ports, self.alpha, self.gain, self.bias = ports, alpha, gain, bias

    @property
    def field_shape(self) -> tuple[int, ...]:
        return (self.ports,)

    def forward(self, field: Tensor, errors: BlockErrors | None = None) -> Tensor:
        return electro_optic_activation(field, alpha=self.alpha, gain=self.gain, bias=self.bias)

    def extra_repr(self) -> str:
        return f"ports={self.ports}, alpha={self.alpha}, gain={self.gain:.4f}, bias={self.bias:.4f}"
