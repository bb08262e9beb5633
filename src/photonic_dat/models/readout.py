"""Readouts: detected output intensity to class scores (digital, after the camera)."""

from __future__ import annotations

from torch import Tensor, nn


def l2_normalise(intensity: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each sample's intensities (flattened) to unit L2 norm."""
    flat = intensity.reshape(intensity.shape[0], -1)
    return (flat / flat.norm(dim=1, keepdim=True).clamp_min(eps)).reshape(intensity.shape)


class PortReadout(nn.Module):
    """MPNN readout: L2-normalised port intensities, the first ``num_classes`` as scores,
    multiplied by ``temperature`` (1 in the reference code)."""

    def __init__(self, num_classes: int = 10, temperature: float = 1.0) -> None:
        super().__init__()
        self.num_classes, self.temperature = num_classes, temperature

    def forward(self, intensity: Tensor) -> Tensor:
        return self.temperature * l2_normalise(intensity)[:, : self.num_classes]
