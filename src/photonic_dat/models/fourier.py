"""The single-mask Fourier-plane PNN: input and trainable mask on one SLM, a lens, a camera.

Each image is phase-encoded on the SLM (``phase_depth * pixel`` inside a centred square),
the trainable mask's phase is added to it on the same SLM, a lens forms the Fourier transform
on a camera, and ten detector regions on the camera are the class scores
(:class:`~photonic_dat.models.diffractive.DetectorReadout`). The twin is this ideal optics
(:mod:`photonic_dat.optics.fourier`); a physical system shows ``mask + input`` on a real SLM.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonic_dat.optics.fourier import fourier_plane, gaussian_beam

__all__ = ["FourierMask", "PhaseImageEncoder"]


class PhaseImageEncoder(nn.Module):
    """Images ``(B, h, w)`` in [0, 1] -> SLM input phases ``(B, n, n)`` (rad, real): each image
    resized to ``size x size`` (bilinear), times ``depth``, centred; zero phase elsewhere."""

    def __init__(self, neurons: int, size: int, depth: float = math.pi) -> None:
        super().__init__()
        if not 1 <= size <= neurons:
            raise ValueError(f"input size must be in [1, neurons={neurons}], got {size}")
        self.neurons, self.size, self.depth = int(neurons), int(size), float(depth)

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 3:
            raise ValueError(f"images must be (B, H, W), got shape {tuple(images.shape)}")
        x = images.to(torch.float32)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(
                x[:, None], size=(self.size, self.size), mode="bilinear", align_corners=False
            )[:, 0]
        top = (self.neurons - self.size) // 2
        pad = (top, self.neurons - self.size - top, top, self.neurons - self.size - top)
        return F.pad(x * self.depth, pad)

    def extra_repr(self) -> str:
        return f"neurons={self.neurons}, size={self.size}, depth={self.depth:.4g}"


class FourierMask(nn.Module):
    """SLM (input phase + trainable mask ``phase``) -> lens -> camera window.

    Input: the SLM input phases ``(B, n, n)``; output: the complex camera-plane field
    ``(B, window, window)``, measurable. ``beam_waist`` is the nominal 1/e^2 radius of the
    Gaussian illumination in pixels (``None``: uniform).
    """

    measurable = True
    has_sepn = True

    def __init__(
        self,
        neurons: int,
        pad: int = 2,
        window: int = 24,
        beam_waist: float | None = None,
        init_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.neurons, self.pad, self.window = int(neurons), int(pad), int(window)
        if self.window > self.pad * self.neurons:
            raise ValueError(
                f"window {self.window} exceeds the Fourier grid {self.pad * self.neurons}"
            )
        phase = init_std * torch.randn(self.neurons, self.neurons, generator=generator)
        self.phase = nn.Parameter(phase)
        self.register_buffer("beam", gaussian_beam(self.neurons, beam_waist), persistent=False)

    @property
    def field_shape(self) -> tuple[int, ...]:
        return (self.window, self.window)

    def slm_phase(self, inputs: Tensor) -> Tensor:
        """What the SLM displays for each sample: input phase plus mask (rad, unwrapped)."""
        return inputs + self.phase

    def forward(self, inputs: Tensor, errors: object = None) -> Tensor:
        field = self.beam * torch.exp(1j * self.slm_phase(inputs))
        return fourier_plane(field, self.pad, self.window)

    def extra_repr(self) -> str:
        return f"neurons={self.neurons}, pad={self.pad}, window={self.window}"
