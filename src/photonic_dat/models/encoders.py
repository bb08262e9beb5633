"""Input encoders: images to the complex input field of a PNN (digital preprocessing)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def fft_crop(images: Tensor, crop: int) -> Tensor:
    """2-D FFT of ``(B, H, W)`` images, fftshift, central ``crop x crop`` window, flattened,
    each sample scaled so that its mean absolute value is 1."""
    if images.dim() != 3:
        raise ValueError(f"images must be (B, H, W), got shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    if crop > min(h, w):
        raise ValueError(f"fft crop {crop} is larger than the image ({h} x {w})")
    spectrum = torch.fft.fftshift(torch.fft.fft2(images.to(torch.float32)), dim=(-2, -1))
    top, left = h // 2 - crop // 2, w // 2 - crop // 2
    window = spectrum[:, top : top + crop, left : left + crop].reshape(images.shape[0], -1)
    scale = window.abs().mean(dim=1, keepdim=True).clamp_min(1e-12)
    return (window / scale).to(torch.complex64)


class FFTCropEncoder(nn.Module):
    """MPNN input encoding: the central ``crop x crop`` Fourier coefficients as port fields."""

    def __init__(self, crop: int = 8) -> None:
        super().__init__()
        if crop < 1:
            raise ValueError(f"crop must be >= 1, got {crop}")
        self.crop = crop

    @property
    def ports(self) -> int:
        return self.crop * self.crop

    def forward(self, images: Tensor) -> Tensor:
        return fft_crop(images, self.crop)
