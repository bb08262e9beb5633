"""Adapting an SEPN (which works on 2-D fields) to a block's field shape."""

from __future__ import annotations

import math

import torch
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


class PixelMap(nn.Module):
    """A learned complex factor per pixel, ``m(x, y)``, zero at initialisation: ``z -> m * z``.

    A convolutional SEPN is translation-equivariant, so it cannot represent an error that
    depends on position but not on the field: a laterally misaligned, blurred or
    fabrication-perturbed phase mask multiplies the field by a fixed pattern
    ``exp(i (phi_device - phi_twin))``. This map holds such a pattern at full resolution
    (2 real scalars per pixel), next to the CNN which models field-dependent errors.
    """

    def __init__(self, grid: tuple[int, int]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2, *grid))

    def forward(self, z: Tensor) -> Tensor:
        return z * torch.complex(self.weight[0], self.weight[1])


class FieldSEPN(nn.Module):
    """Reshape a block's output field to a 2-D grid, apply the SEPN, reshape back.

    With ``pixel_map=True`` the residual is ``sepn(y) + m * y`` (see :class:`PixelMap`).
    """

    def __init__(self, sepn: nn.Module, field_shape: tuple[int, ...], pixel_map: bool = False):
        super().__init__()
        self.sepn = sepn
        self.field_shape = tuple(field_shape)
        self.grid = square_grid(self.field_shape)
        self.pixel_map = PixelMap(self.grid) if pixel_map else None

    def forward(self, field: Tensor) -> Tensor:
        batch = field.shape[0]
        grid = field.reshape(batch, *self.grid)
        out = self.sepn(grid)
        if self.pixel_map is not None:
            out = out + self.pixel_map(grid)
        return out.reshape(batch, *self.field_shape)
