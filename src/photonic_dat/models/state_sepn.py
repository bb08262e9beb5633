"""SEPNs for any block state: optical fields and real-valued (electronic) states.

DAT models a measurable block as ``y = f(x) + w * s(f(x))``; the SEPN ``s`` must fit the
kind of state ``y`` the block produces:

* a complex field on a 2-D grid (or on a square number of ports): the complex U-Net / ResNet
  of :mod:`photonic_dat.models.sepn`, through :class:`~photonic_dat.models.field_sepn.FieldSEPN`;
* a real (or non-square complex) vector ``(B, N)``, such as a crossbar's pre-activations:
  :class:`VectorSEPN`, a small residual MLP;
* a real map ``(B, H, W)`` or ``(B, C, H, W)``: :class:`ConvSEPN`, a small real CNN.

Every SEPN returns exactly zero at initialisation (zero output layer), so training starts
from the twin's physics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonic_dat.exceptions import ConfigError
from photonic_dat.models.field_sepn import FieldSEPN
from photonic_dat.models.sepn import build_sepn

__all__ = ["ConvSEPN", "SEPNOptions", "VectorSEPN", "default_sepns", "sepn_for_state"]


class VectorSEPN(nn.Module):
    """Residual MLP on a flat state ``(B, N)``: ``N -> hidden -> ... -> N``, SiLU between.

    A complex state is fed as its stacked real and imaginary parts and returned complex.
    The last layer starts at zero.
    """

    def __init__(self, size: int, hidden: int = 64, depth: int = 2, complex_state: bool = False):
        super().__init__()
        if size < 1 or hidden < 1 or depth < 1:
            raise ConfigError("VectorSEPN needs size, hidden and depth >= 1")
        self.size, self.complex_state = int(size), bool(complex_state)
        width = 2 * self.size if self.complex_state else self.size
        layers: list[nn.Module] = []
        fan_in = width
        for _ in range(depth - 1):
            layers += [nn.Linear(fan_in, hidden), nn.SiLU()]
            fan_in = hidden
        last = nn.Linear(fan_in, width)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, y: Tensor) -> Tensor:
        flat = y.reshape(y.shape[0], -1)
        if self.complex_state:
            out = self.net(torch.cat((flat.real, flat.imag), dim=1))
            return torch.complex(out[:, : self.size], out[:, self.size :]).reshape(y.shape)
        return self.net(flat).reshape(y.shape)


class ConvSEPN(nn.Module):
    """Residual real CNN on a map ``(B, H, W)`` or ``(B, C, H, W)``: ``depth`` convolutions of
    ``channels`` feature maps (SiLU between, same padding), the last one zero."""

    def __init__(self, in_channels: int = 1, channels: int = 8, depth: int = 3, kernel: int = 3):
        super().__init__()
        if min(in_channels, channels, depth, kernel) < 1:
            raise ConfigError("ConvSEPN needs in_channels, channels, depth and kernel >= 1")
        self.in_channels = int(in_channels)
        convs = []
        ch = self.in_channels
        for _ in range(depth - 1):
            convs.append(nn.Conv2d(ch, channels, kernel, padding=kernel // 2))
            ch = channels
        last = nn.Conv2d(ch, self.in_channels, kernel, padding=kernel // 2)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.convs = nn.ModuleList([*convs, last])

    def forward(self, y: Tensor) -> Tensor:
        x = y.unsqueeze(1) if y.dim() == 3 else y
        for conv in self.convs[:-1]:
            x = F.silu(conv(x))
        out = self.convs[-1](x)
        return out.reshape(y.shape)


@dataclass(frozen=True)
class SEPNOptions:
    """Architecture choices for :func:`sepn_for_state` (the ``dat.sepn.*`` keys).

    ``kind``, ``features``, ``kernel_size``, ``convs_per_level``, ``channels``,
    ``num_blocks``, ``working_size`` and ``pixel_map`` shape the complex field SEPN;
    ``hidden`` and ``depth`` the :class:`VectorSEPN`; ``channels``, ``depth`` and
    ``kernel_size`` the :class:`ConvSEPN`.
    """

    kind: str = "unet"
    features: Sequence[int] = field(default=(4, 8, 16))
    kernel_size: int = 3
    convs_per_level: int = 3
    channels: int = 8
    num_blocks: int = 3
    working_size: int | None = None
    pixel_map: bool = False
    hidden: int = 64
    depth: int = 2


def _square_side(n: int) -> int | None:
    side = math.isqrt(n)
    return side if side * side == n else None


def sepn_for_state(state: Tensor, options: SEPNOptions | None = None) -> nn.Module:
    """An SEPN for states shaped like ``state`` (one batch ``(B, ...)`` of the block's output)."""
    o = options or SEPNOptions()
    shape = tuple(state.shape[1:])
    if state.is_complex() and (
        len(shape) == 2 or (len(shape) == 1 and _square_side(shape[0]) is not None)
    ):
        grid = shape if len(shape) == 2 else (_square_side(shape[0]),) * 2
        working = None
        if o.working_size is not None and o.working_size < min(grid):
            working = (o.working_size, o.working_size)
        inner = build_sepn(
            o.kind,
            features=tuple(o.features),
            kernel_size=o.kernel_size,
            convs_per_level=o.convs_per_level,
            channels=o.channels,
            num_blocks=o.num_blocks,
            working_size=working,
        )
        return FieldSEPN(inner, shape, pixel_map=o.pixel_map)
    if len(shape) == 1:
        return VectorSEPN(shape[0], o.hidden, o.depth, complex_state=state.is_complex())
    if not state.is_complex() and len(shape) in (2, 3):
        return ConvSEPN(1 if len(shape) == 2 else shape[0], o.channels, o.depth + 1, o.kernel_size)
    kind = "complex" if state.is_complex() else "real"
    raise ConfigError(
        f"no default SEPN for a {kind} state of shape {shape}; pass your own SEPN for this block"
    )


def default_sepns(
    pnn: nn.Module,
    inputs: Tensor | None = None,
    options: SEPNOptions | None = None,
) -> dict[int, nn.Module]:
    """One SEPN per measurable block of ``pnn`` (``pnn.sepn_blocks``), fitted to its state.

    Args:
        pnn: a :class:`~photonic_dat.models.pnn.PNN`.
        inputs: an encoded input batch ``(B, ...)`` (``pnn.encoder(images)``); the twin is run
            once to see each block's state. Without it each block must give ``field_shape``
            (the library's optical blocks do) and its state is taken as a complex field.
        options: architecture choices (:class:`SEPNOptions`).
    """
    blocks = pnn.sepn_blocks
    if inputs is not None:
        states: Mapping[int, Tensor] = pnn.probe(inputs[:2])
    else:
        states = {}
        for k in blocks:
            shape = getattr(pnn.blocks[k], "field_shape", None)
            if shape is None:
                raise ConfigError(
                    f"block {k} ({type(pnn.blocks[k]).__name__}) has no field_shape; give "
                    "default_sepns an example input batch"
                )
            states[k] = torch.zeros((1, *shape), dtype=torch.complex64)
    return {k: sepn_for_state(states[k], options) for k in blocks}
