"""How long a device takes: the timings a physical system declares, in seconds.

A measurement of ``B`` samples at ``P`` planes costs ``B * P`` frames; each frame takes
``frame_s`` (exposure / integration) plus ``readout_s`` (reading the frame out), and every new
parameter set costs ``upload_s`` (writing it and letting it settle: an LC SLM settles in
10-30 ms, a thermal phase shifter in about 1-100 us to ms). Frames are taken one after another
(a conservative model: a setup that exposes several planes at once is faster).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["DeviceTimings"]


@dataclass(frozen=True)
class DeviceTimings:
    """Declared device timings (s); all zero means unknown / not modelled."""

    upload_s: float = 0.0
    frame_s: float = 0.0
    readout_s: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value >= 0 or value == float("inf"):
                raise ValueError(f"device timing {name} must be a finite number >= 0, got {value}")

    @property
    def declared(self) -> bool:
        return any(v > 0 for v in asdict(self).values())

    def seconds(self, frames: int, uploads: int = 0) -> float:
        """Device time of ``frames`` frames and ``uploads`` parameter uploads."""
        return frames * (self.frame_s + self.readout_s) + uploads * self.upload_s

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
