"""Specifications of systematic errors: the standard deviations and ranges a user sets.

A specification is drawn into a realisation (:mod:`photonic_dat.errors.realisation`) by each
block, which knows which of the errors apply to its physics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MeshErrorSpec:
    """Errors of an MZI mesh, fixed per device (drawn once).

    Attributes:
        bs_std: std of each beamsplitter's power-split error ``e`` (amplitudes
            ``sqrt((1 +/- e) / 2)``); dimensionless, realistic 0.01-0.1.
        ps_std: std of the phase offset of each phase shifter (theta, phi, input phases), rad.
        crosstalk: thermal crosstalk coefficient: a phase shifter receives this fraction of the
            displayed phase of each neighbouring shifter in the same layer; realistic 0-0.05.
        loss_db_mean, loss_db_std: insertion loss per MZI in dB (clipped at 0); realistic
            0.1-0.5 dB mean.
    """

    bs_std: float = 0.0
    ps_std: float = 0.0
    crosstalk: float = 0.0
    loss_db_mean: float = 0.0
    loss_db_std: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.bs_std >= 0.5:
            raise ValueError(
                f"bs_std must be < 0.5 (split errors live in (-1, 1)), got {self.bs_std}"
            )


@dataclass(frozen=True)
class DetectorNoiseSpec:
    """Detector noise, drawn anew at every measurement.

    Attributes:
        shot_photons: expected photon count at unit intensity (Poisson noise in its Gaussian
            approximation); ``None`` or 0 disables shot noise.
        read_std: std of additive read noise, in intensity units.
        adc_bits: ADC resolution over ``[0, max of the frame]``; ``None`` disables quantisation.
    """

    shot_photons: float | None = None
    read_std: float = 0.0
    adc_bits: int | None = None

    def __post_init__(self) -> None:
        if self.shot_photons is not None and self.shot_photons < 0:
            raise ValueError(f"shot_photons must be >= 0, got {self.shot_photons}")
        if self.read_std < 0:
            raise ValueError(f"read_std must be >= 0, got {self.read_std}")
        if self.adc_bits is not None and not 1 <= self.adc_bits <= 24:
            raise ValueError(f"adc_bits must be in [1, 24], got {self.adc_bits}")

    @property
    def is_noiseless(self) -> bool:
        return not self.shot_photons and self.read_std == 0 and self.adc_bits is None


@dataclass(frozen=True)
class DiffractiveErrorSpec:
    """Systematic errors of a diffractive PNN (phase masks in free space), fixed per device.

    All lengths in metres, angles in radians. Each std is of a zero-mean normal draw, made once
    per device (per layer, per gap or per pixel as stated); 0 disables that error.

    Attributes:
        shift_std: lateral misalignment (dx, dy) of each layer, m; realistic 1-10 um
            (0.1-1 pixel of an 8 um SLM).
        rotation_std: in-plane rotation of each layer about its centre, rad; realistic
            below 5 mrad.
        distance_std: axial error of each gap (input -> layer 1, between layers, last layer
            -> detector), m; realistic 0.1-2 mm.
        phase_gain_std: relative error of each layer's full phase stroke (modulator gain
            ``1 + N(0, std)``), dimensionless; realistic 0.02-0.1 (2-10 %).
        phase_gamma_std: error of each layer's response-curve exponent (``gamma = 1 + N(0,
            std)``, realised phase ``2pi gain (phase / 2pi) ** gamma``); realistic gamma
            0.9-1.1, i.e. std 0.02-0.1.
        phase_levels: number of displayable phase levels over [0, 2pi) (SLM grey levels or
            fabricated thickness steps); ``None`` = continuous; realistic 8-256.
        pixel_phase_std: per-pixel fabrication / thickness error of the phase, rad; realistic
            0.05-0.3.
        fringing_sigma: std of the Gaussian pixel crosstalk (fringing field) blur of the
            displayed phase, m; realistic 0.2-1 pixel (1.6-8 um at 8 um pitch).
        illumination_waist: 1/e^2 intensity radius of the Gaussian illumination beam, m
            (``None`` = uniform plane wave, as in the ideal model); realistic a few mm,
            comparable to the aperture for visible-light setups.
        illumination_tilt_std: tilt of the illumination wavefront about x and y, rad;
            realistic below 1 mrad.
    """

    shift_std: float = 0.0
    rotation_std: float = 0.0
    distance_std: float = 0.0
    phase_gain_std: float = 0.0
    phase_gamma_std: float = 0.0
    phase_levels: int | None = None
    pixel_phase_std: float = 0.0
    fringing_sigma: float = 0.0
    illumination_waist: float | None = None
    illumination_tilt_std: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is None:
                continue
            if not math.isfinite(float(value)) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if self.phase_levels is not None and (
            int(self.phase_levels) != self.phase_levels or self.phase_levels < 2
        ):
            raise ValueError(f"phase_levels must be an integer >= 2, got {self.phase_levels}")
        if self.illumination_waist is not None and self.illumination_waist <= 0:
            raise ValueError(f"illumination_waist must be > 0, got {self.illumination_waist}")
        if self.phase_gain_std >= 0.5:
            raise ValueError(
                f"phase_gain_std must be < 0.5 (a fraction), got {self.phase_gain_std}"
            )
        if self.phase_gamma_std >= 0.5:
            raise ValueError(f"phase_gamma_std must be < 0.5, got {self.phase_gamma_std}")
        if self.rotation_std > 0.1:
            raise ValueError(
                f"rotation_std must be <= 0.1 rad (small misalignments), got {self.rotation_std}"
            )

    @property
    def is_ideal(self) -> bool:
        """True when no error is enabled."""
        return all(v in (0, 0.0, None) for v in asdict(self).values())
