"""Adapting an SEPN (which works on 2-D fields) to a block's field shape."""

from __future__ import annotations

import math

from torch import Tensor, nn


def square_grid(field_shape: tuple[int, ...]) -> tuple[int, int]:
    """The 2-D grid an SEPN sees: a 2-D field as it is; ``N`` ports as ``sqrt(N) x sqrt(N)``."""
    if len(field_shape) == 2:
        return (int(field_shape[0]), int(field_shape[1]))
    if len(field_shape) == 1:
        side = math.isqrt(field_shape[0])
        if side * side != field_shape[0]:
            raise ValueError(
                f"an SEPN on {field_shape[0]} ports needs a square number of ports (8 x 8 = 64)"
            )
        return (side, side)
    raise ValueError(f"unsupported field shape {field_shape}")


class FieldSEPN(nn.Module):
    """Reshape a block's output field to a 2-D grid, apply the SEPN, reshape back."""

    def __init__(self, sepn: nn.Module, field_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.sepn = sepn
        self.field_shape = tuple(field_shape)
        self.grid = square_grid(self.field_shape)

    def forward(self, field: Tensor) -> Tensor:
        batch = field.shape[0]
        out = self.sepn(field.reshape(batch, *self.grid))
        return out.reshape(batch, *self.field_shape)
