"""The twin of an analog in-memory crossbar MLP: ideal matrix products and digital layers.

An analog layer computes ``y = W x`` on a crossbar; its output (the ADC reading of every
column) is a real-valued state that can be measured, so DAT w/ IS applies to it. Between
layers a digital nonlinearity runs on the chip's digital periphery (exact, not measured
separately). The twin holds the weights; a physical system realises them with its own errors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonic_dat.errors.crossbar import CrossbarErrorSpec

__all__ = ["CrossbarLayer", "DigitalReLU", "ImageVectorEncoder", "ScaledReadout"]


class CrossbarLayer(nn.Module):
    """``y = x @ W.T`` (no bias), ``W`` of shape (out, in); its output state is measurable.

    Initialised like ``nn.Linear`` (uniform in ``+-1/sqrt(in)``) from ``generator``.
    """

    measurable = True
    has_sepn = True

    def __init__(
        self, in_features: int, out_features: int, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        weight = (torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound
        self.weight = nn.Parameter(weight)

    @property
    def field_shape(self) -> tuple[int, ...]:
        return (self.weight.shape[0],)

    def forward(self, x: Tensor, errors: object = None) -> Tensor:
        return x @ self.weight.t()

    def draw_errors(self, spec: object, generator: torch.Generator) -> dict[str, Tensor]:
        """Fixed per-cell errors of the positive and negative arrays, each (2, in, out)."""
        if not isinstance(spec, CrossbarErrorSpec):
            return {}
        shape = (2, self.weight.shape[1], self.weight.shape[0])
        stuck = torch.rand(shape, generator=generator)
        return {
            "gain": spec.gain_std * torch.randn(shape, generator=generator),
            "offset": (spec.offset_std * torch.randn(shape, generator=generator)).abs(),
            "stuck_on": stuck < spec.stuck_on,
            "stuck_off": (stuck >= spec.stuck_on) & (stuck < spec.stuck_on + spec.stuck_off),
        }

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}"


class DigitalReLU(nn.Module):
    """The digital nonlinearity between analog layers (exact; no SEPN, not measured)."""

    measurable = False
    has_sepn = False

    def forward(self, x: Tensor, errors: object = None) -> Tensor:
        return F.relu(x)


class ImageVectorEncoder(nn.Module):
    """Images ``(B, h, w)`` in [0, 1] -> input vectors ``(B, size*size)`` (bilinear resize
    when ``size`` is given), the DAC inputs of the first crossbar."""

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.size = size

    def forward(self, images: Tensor) -> Tensor:
        if self.size is not None and images.shape[-1] != self.size:
            images = F.interpolate(
                images[:, None], size=(self.size, self.size), mode="bilinear", align_corners=False
            )[:, 0]
        return images.reshape(images.shape[0], -1)


class ScaledReadout(nn.Module):
    """Class scores = ``temperature`` x the last layer's output (already digital values)."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, values: Tensor) -> Tensor:
        return self.temperature * values
