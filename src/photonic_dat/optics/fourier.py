"""A phase-only SLM imaged through a lens onto a camera in its back focal plane.

Conventions: the SLM region has ``n x n`` pixels (row = y, column = x); a displayed phase
``phi`` (rad) multiplies the incident beam amplitude ``a`` by ``exp(i phi)``. The lens maps
the SLM field to its Fourier transform: the camera plane is sampled on the ``pad * n`` grid of
the zero-padded discrete Fourier transform (fftshift: zero spatial frequency at index
``pad * n // 2``), so one sample is ``lambda f / (pad n pitch)`` wide at the camera; a grating
of ``k`` periods over the region puts its first order ``pad * k`` samples off axis (the sign
convention of ``torch.fft.fft2``). Only a centred ``window x window`` part of that grid (the
camera's field of view) is kept. Intensities are in units where an ideal uniform beam of
amplitude 1 over the region gives total power ``n**2 * (pad n)**2`` on the full grid (the
unnormalised transform; readouts normalise).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fourier_plane", "gaussian_beam", "window_slice"]


def gaussian_beam(n: int, waist: float | None, center: tuple[float, float] = (0.0, 0.0)) -> Tensor:
    """Amplitude ``exp(-r^2 / w^2)`` on the ``n x n`` region (``w``: 1/e^2 intensity radius in
    pixels, ``center`` offset in pixels from the region's centre); ``None``: uniform."""
    if waist is None:
        return torch.ones(n, n)
    if not waist > 0:
        raise ValueError(f"beam waist must be > 0 pixels, got {waist}")
    coords = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
    y = (coords - center[0])[:, None]
    x = (coords - center[1])[None, :]
    return torch.exp(-(x.square() + y.square()) / waist**2)


def window_slice(size: int, window: int) -> slice:
    """The centred ``window`` samples of a grid of ``size`` (zero frequency at ``size // 2``)."""
    if not 1 <= window <= size:
        raise ValueError(f"window {window} must lie in [1, {size}]")
    start = size // 2 - window // 2
    return slice(start, start + window)


def fourier_plane(field: Tensor, pad: int, window: int) -> Tensor:
    """Camera-plane field ``(B, window, window)`` of SLM-plane fields ``(B, n, n)``."""
    if not field.is_complex() or field.dim() != 3 or field.shape[-1] != field.shape[-2]:
        raise ValueError(f"field must be complex (B, n, n), got {field.dtype} {tuple(field.shape)}")
    if pad < 1:
        raise ValueError(f"pad must be >= 1, got {pad}")
    size = pad * field.shape[-1]
    spectrum = torch.fft.fftshift(torch.fft.fft2(field, s=(size, size)), dim=(-2, -1))
    cut = window_slice(size, window)
    return spectrum[:, cut, cut]
