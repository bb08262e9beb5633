"""The electro-optic activation between interference meshes (Williamson et al. 2019)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def electro_optic_activation(
    field: Tensor, *, alpha: float = 0.1, gain: float = 0.05 * math.pi, bias: float = math.pi
) -> Tensor:
    """``y = sqrt(1 - alpha) * cos(p) * exp(-i p) * x`` with ``p = gain |x|^2 / 2 + bias / 2``.

    ``alpha`` is the fraction of power tapped to the photodiode, ``gain`` (rad per unit
    intensity) and ``bias`` (rad) set the modulator phase.
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    phase = 0.5 * gain * (field.real**2 + field.imag**2) + 0.5 * bias
    return (
        math.sqrt(1 - alpha)
        * torch.cos(phase)
        * torch.polar(torch.ones_like(phase), -phase)
        * field
    )
