"""Phase conventions shared by every modulator: radians, displayed in ``[0, 2 pi)``."""

from __future__ import annotations

import math

import torch
from torch import Tensor

TWO_PI = 2.0 * math.pi


def wrap_phase(phase: Tensor, period: float = TWO_PI) -> Tensor:
    """Phases as a modulator displays them, in ``[0, period)`` (gradient passes unchanged)."""
    return torch.remainder(phase, period)
