"""Readouts: detected output intensity to class scores (digital, after the camera)."""

from __future__ import annotations

from torch import Tensor, nn


def l2_normalise(intensity: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each sample's intensities (flattened) to unit L2 norm."""
    flat = intensity.reshape(intensity.shape[0], -1)
    return (flat / flat.norm(dim=1, keepdim=True).clamp_min(eps)).reshape(intensity.shape)


class PortReadout(nn.Module):
    """MPNN readout: L2-normalised port intensities, the first ``num_classes`` as scores,
    multiplied by ``temperature`` (1 in the reference code).

    ``ports="all"``: photodiodes on every output port, normalised over all of them (the
    reference code's readout). ``ports="readout"``: photodiodes on the ``num_classes``
    readout ports only, normalised over those; the device then measures only those ports and
    :meth:`measured_ports` maps the twin's output plane to the same view.
    """

    def __init__(self, num_classes: int = 10, temperature: float = 1.0, ports: str = "all"):
        super().__init__()
        if ports not in ("all", "readout"):
            raise ValueError(f"ports must be 'all' or 'readout', got {ports!r}")
        self.num_classes, self.temperature, self.ports = num_classes, temperature, ports

    def measured_ports(self, intensity: Tensor) -> Tensor:
        """The output-plane intensities the photodiodes see ``(B, ports)``."""
        return intensity[:, : self.num_classes] if self.ports == "readout" else intensity

    def forward(self, intensity: Tensor) -> Tensor:
        scores = l2_normalise(
            intensity[:, : self.num_classes] if self.ports == "readout" else intensity
        )
        return self.temperature * scores[:, : self.num_classes]
