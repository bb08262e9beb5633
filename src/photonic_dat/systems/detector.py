"""The detectors of a simulated device: one camera (or photodiode array) per measured plane.

A real detector has a fixed exposure: a pixel that receives more light than the full scale
saturates, and every frame carries shot noise, read noise and a dark offset. A lab sets the
exposure once when it commissions a plane (the brightest pixel of the first frames at a
chosen fraction of the full scale), records dark frames to subtract the offset, and lowers
the exposure when a frame saturates, measuring that frame again. This module does exactly
that, and counts the frames it spends on it (``dark:<plane>`` and re-measured frames are
charged to the measurement's query counter by :class:`~photonic_dat.systems.simulated.
SimulatedSystem`).

Realistic values (EMVA 1288 datasheets of machine-vision CMOS cameras, e.g. FLIR Blackfly S
BFS-U3-200S6M: 14,800 e- saturation capacity, 0.24 e-/count, 12-bit ADC; Sony Pregius /
STARVIS sensors: 2-3 e- rms read noise; black level set a few tens of counts above zero,
fixed-pattern dark offset of a few counts rms). Photodiode arrays with a transimpedance
amplifier and 14-16-bit ADCs have larger full-scale charges (1e5-1e6 e-) and tens of e- of
electronic noise.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from photonic_dat.optics.detectors import camera_counts, counts_to_irradiance

__all__ = ["DetectorSpec", "Detectors"]

DETECTOR_MODELS = ("ideal", "camera")


@dataclass(frozen=True)
class DetectorSpec:
    """Detector physics (the same for every plane of a device).

    Attributes:
        model: ``"ideal"`` (the irradiance itself, noiseless, never saturating) or
            ``"camera"`` (everything below).
        full_well: photo-electrons at full scale, e-; realistic 1e4-3e4 for CMOS cameras,
            1e5-1e6 for photodiodes with a transimpedance amplifier.
        read_noise: electronic noise per read, e- rms; realistic 1-3 (sCMOS, CMOS), 10-100
            (photodiode + TIA).
        adc_bits: ADC resolution; realistic 12 (cameras), 14-16 (photodiode ADCs).
        black_level: dark offset added before digitisation, counts; realistic 1-5 % of the
            range.
        dark_nonuniformity: per-pixel spread of the dark offset (fixed pattern), counts rms.
        dark_frames: dark frames averaged per plane at commissioning to measure the offset.
        exposure_fraction: at commissioning the brightest pixel of the first batch is put at
            this fraction of the full scale (a lab's usual 0.5-0.8).
        max_saturated: fraction of saturated pixels in a frame batch above which the
            exposure is halved and the batch measured again.
    """

    model: str = "ideal"
    full_well: float = 14_800.0
    read_noise: float = 2.5
    adc_bits: int = 12
    black_level: float = 64.0
    dark_nonuniformity: float = 2.0
    dark_frames: int = 16
    exposure_fraction: float = 0.5
    max_saturated: float = 1e-3

    def __post_init__(self) -> None:
        if self.model not in DETECTOR_MODELS:
            raise ValueError(f"detector model must be one of {DETECTOR_MODELS}, got {self.model!r}")
        if not self.full_well > 0 or self.read_noise < 0 or self.black_level < 0:
            raise ValueError("full_well must be > 0, read_noise and black_level >= 0")
        if not 1 <= self.adc_bits <= 24:
            raise ValueError(f"adc_bits must be in [1, 24], got {self.adc_bits}")
        if not 0 < self.exposure_fraction <= 1:
            raise ValueError(f"exposure_fraction must be in (0, 1], got {self.exposure_fraction}")
        if self.dark_frames < 1:
            raise ValueError(f"dark_frames must be >= 1, got {self.dark_frames}")

    @property
    def is_ideal(self) -> bool:
        return self.model == "ideal"


@dataclass
class _Plane:
    full_scale: float
    dark: Tensor
    offset: Tensor
    frames: int = 0
    saturated_pixels: int = 0
    pixels: int = 0
    exposure_changes: int = 0


@dataclass
class Detectors:
    """The detector of every plane of one device.

    ``read(plane, irradiance)`` returns the detected irradiance of a batch of true
    irradiances (the device's physics is deterministic, so a batch measured again sees the
    same light and fresh noise). ``charge(plane, frames)`` is called for every extra frame
    (dark frames, re-measured frames) so that the owner can count it.
    """

    spec: DetectorSpec
    noise_seed: int
    device_seed: int
    charge: Callable[[str, int], None] = lambda plane, frames: None
    planes: dict[str, _Plane] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._noise = torch.Generator().manual_seed(int(self.noise_seed))

    @property
    def max_code(self) -> float:
        return float(2**self.spec.adc_bits - 1)

    def _counts(self, irradiance: Tensor, state: _Plane) -> Tensor:
        s = self.spec
        return camera_counts(
            irradiance,
            self._noise,
            full_scale=state.full_scale,
            full_well=s.full_well,
            read_noise=s.read_noise,
            adc_bits=s.adc_bits,
            offset=state.offset,
        )

    def _commission(self, plane: str, irradiance: Tensor) -> _Plane:
        """Set the exposure from the first frames and measure the dark level."""
        s = self.spec
        brightest = float(irradiance.max())
        full_scale = (brightest if brightest > 0 else 1.0) / s.exposure_fraction
        pattern = torch.Generator().manual_seed(
            (int(self.device_seed) + zlib.crc32(plane.encode())) % (2**63)
        )
        shape = irradiance.shape[1:]
        like = {"dtype": irradiance.dtype, "device": irradiance.device}
        pattern_draw = torch.randn(shape, generator=pattern, dtype=irradiance.dtype)
        offset = s.black_level + s.dark_nonuniformity * pattern_draw.to(irradiance.device)
        state = _Plane(full_scale, torch.zeros(shape, **like), offset)
        dark = torch.zeros((s.dark_frames, *shape), **like)
        state.dark = self._counts(dark, state).mean(dim=0)
        self.charge(f"dark:{plane}", s.dark_frames)
        return state

    def read(self, plane: str, irradiance: Tensor) -> Tensor:
        """The detected irradiance of plane ``plane`` for a batch of true irradiances."""
        if self.spec.is_ideal:
            return irradiance
        state = self.planes.get(plane)
        if state is None:
            state = self.planes[plane] = self._commission(plane, irradiance)
        while True:
            counts = self._counts(irradiance, state)
            saturated = int((counts >= self.max_code).sum())
            state.frames += counts.shape[0]
            state.saturated_pixels += saturated
            state.pixels += counts.numel()
            if saturated <= self.spec.max_saturated * counts.numel():
                break
            # a lab halves the exposure and measures the batch again (new frames)
            state.full_scale *= 2.0
            state.exposure_changes += 1
            self.charge(plane, counts.shape[0])
        return counts_to_irradiance(
            counts, state.dark, full_scale=state.full_scale, adc_bits=self.spec.adc_bits
        )

    def state_dict(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything a resumed run needs (noise generator, each plane's exposure, dark level
        and counters) as tensors plus JSON."""
        tensors = {"noise": self._noise.get_state()}
        planes = {}
        for plane, st in self.planes.items():
            tensors[f"{plane}/dark"], tensors[f"{plane}/offset"] = st.dark, st.offset
            planes[plane] = {
                "full_scale": st.full_scale,
                "frames": st.frames,
                "saturated_pixels": st.saturated_pixels,
                "pixels": st.pixels,
                "exposure_changes": st.exposure_changes,
            }
        return tensors, {"planes": planes}

    def load_state_dict(self, tensors: Mapping[str, Tensor], meta: Mapping[str, Any]) -> None:
        self._noise.set_state(tensors["noise"])
        self.planes = {
            plane: _Plane(
                float(v["full_scale"]),
                tensors[f"{plane}/dark"].clone(),
                tensors[f"{plane}/offset"].clone(),
                int(v["frames"]),
                int(v["saturated_pixels"]),
                int(v["pixels"]),
                int(v["exposure_changes"]),
            )
            for plane, v in meta["planes"].items()
        }

    def summary(self) -> dict[str, dict[str, float]]:
        """Per plane: full scale, frames read, saturated fraction, exposure changes."""
        return {
            plane: {
                "full_scale": st.full_scale,
                "frames": st.frames,
                "saturated_fraction": st.saturated_pixels / st.pixels if st.pixels else 0.0,
                "exposure_changes": st.exposure_changes,
            }
            for plane, st in sorted(self.planes.items())
        }
