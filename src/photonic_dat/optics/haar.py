"""Haar-random initialisation of rectangular MZI meshes (Pai et al., PRApplied 2019).

In a Haar-random unitary decomposed onto a rectangular mesh, the MZI phases are independent;
the cross-state power ``s = cos^2(theta / 2)`` of the MZI at a given position follows
``Beta(alpha, 1)`` (density ``alpha s^(alpha - 1)``), where the *sensitivity index* ``alpha``
counts the modes the MZI has to mix at that position: 1 at the corners of the mesh, growing to
about ``N`` in its centre. Central MZIs therefore sit near the cross state, which carries light
ballistically across the mesh. Uniformly random ``theta`` instead makes light diffuse only over
about ``sqrt(L)`` ports, so each output sees few inputs and training suffers.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _tent(length: int, odd_layers: bool) -> list[int]:
    """Indices along a diagonal of ``length`` MZIs: 1, 3, 5, ... rising, then even falling."""
    rising = list(range(1, length + 1, 2))
    falling = [length + 1 - 2 * k for k in range(1, length - len(rising) + 1)]
    seq = rising + falling
    return seq[::-1] if odd_layers else seq


def sensitivity_index(ports: int, layers: int) -> Tensor:
    """``alpha`` of every slot ``(layers, ports // 2)``; 1 for empty slots."""
    if layers > ports:
        raise ValueError("Haar initialisation needs layers <= ports")
    alpha = torch.ones(layers, ports // 2)
    square = int(ports == layers)
    for j in range(layers):
        for m in range(ports // 2):
            i = 2 * m + j % 2  # top port of the MZI
            if i + 1 >= ports:
                continue
            if i < layers and j > i:
                diag = layers - (j - i)
            elif i > ports - layers and j < i - ports + layers:
                diag = layers - abs(i - j - ports + layers) - square
            else:
                diag = layers - square
            alpha[j, m] = 1 if diag <= 1 else _tent(diag, layers % 2 == 1)[min(i, j)]
    if ports != layers:  # symmetrise top-bottom as the geometry is
        alpha = 0.5 * (alpha + _flip_ports(alpha, ports))
    return alpha


def _flip_ports(alpha: Tensor, ports: int) -> Tensor:
    out = torch.ones_like(alpha)
    layers = alpha.shape[0]
    for j in range(layers):
        for m in range(ports // 2):
            i = 2 * m + j % 2
            if i + 1 >= ports:
                continue
            i_mirror = ports - 2 - i
            if (i_mirror - j % 2) % 2 == 0:
                out[j, m] = alpha[j, (i_mirror - j % 2) // 2]
    return out


def haar_theta(ports: int, layers: int, generator: torch.Generator | None = None) -> Tensor:
    """Internal phases with ``cos^2(theta / 2) ~ Beta(alpha, 1)`` (theta in [0, pi])."""
    alpha = sensitivity_index(ports, layers)
    u = torch.rand(alpha.shape, generator=generator)
    return 2 * torch.arccos(u.pow(1 / (2 * alpha)))
