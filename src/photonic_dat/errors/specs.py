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
            ``sqrt((1 +/- e) / 2)``); dimensionless. Fabricated directional couplers deviate
            from 50:50 by a few percent (Fang et al., "Design of optical neural networks with
            component imprecisions", Opt. Express 27, 14009 (2019); Bandyopadhyay et al.,
            "Hardware error correction for programmable photonics", Optica 8, 1247 (2021));
            0.01-0.1. A lossless splitter stays unitary: conserves power.
        ps_std: std of the offset of each phase shifter (theta, phi, input phases), rad: the
            residual of a thermo-optic calibration, 0.01-0.1 rad. Phase-only: unitary.
        crosstalk: thermal crosstalk coefficient: a phase shifter receives this fraction of the
            displayed phase of each neighbouring shifter in the same layer; a few percent
            without compensation (Milanizadeh et al., "Canceling thermal cross-talk effects in
            photonic integrated circuits", J. Lightwave Technol. 37, 1325 (2019)); 0-0.05.
            Phase-only: unitary.
        loss_db_mean, loss_db_std: insertion loss per MZI in dB (clipped at 0); 0.1-0.5 dB
            per MZI in silicon meshes (Shen et al., Nat. Photonics 11, 441 (2017)). The only
            mesh error that removes light.
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
class DiffractiveErrorSpec:
    """Systematic errors of a diffractive PNN (phase masks in free space), fixed per device.

    All lengths in metres, angles in radians. Each std is of a zero-mean normal draw, made once
    per device (per layer, per gap or per pixel as stated); 0 disables that error. Fixed
    properties (levels, fringing, fill factor, illumination waist) are copied as they are.
    The simulated device (:class:`photonic_dat.models.diffractive_device.FineGridDevice`)
    realises every error on a grid of several samples per pixel; none of them absorbs
    light (each acts on the phase, or moves a phase-only surface, or is a propagation), so
    light is lost only where it leaves an aperture, as in the hardware.

    Attributes:
        shift_std: lateral misalignment (dx, dy) of each layer, m. A lab aligns masks with
            micrometre stages or by imaging; a few um remain (1-5 um for 8 um pixels; Mengu
            et al., "Misalignment resilient diffractive optical networks", Nanophotonics 9,
            4207 (2020), study shifts up to about a neuron). Conserves power (the mask moves).
        rotation_std: in-plane rotation of each layer about its centre, rad; below a few
            mrad with a rotation mount (0.06 deg = 1 mrad). Conserves power.
        distance_std: axial error of each gap (input -> layer 1, between layers, last layer
            -> detector), m; 0.05-0.5 mm with spacers, cage rods or printed holders.
            Propagation over the wrong distance: conserves power inside the aperture.
        phase_gain_std: relative error of each layer's full phase stroke, dimensionless; a
            look-up table calibrated at another wavelength or temperature leaves 2-5 %
            (Chen et al., "Pursuing high quality phase-only LCoS devices", Appl. Sci. 8,
            2323 (2018): phase linearity and accuracy). Phase-only: conserves power.
        phase_gamma_std: error of each layer's response-curve exponent (``gamma = 1 + N(0,
            std)``, realised phase ``2pi gain (phase / 2pi) ** gamma``); 0.02-0.05 for a
            calibrated LUT (same source). Phase-only.
        phase_levels: displayable phase levels over [0, 2pi); 256 for an 8-bit SLM (Holoeye
            PLUTO-2, Meadowlark 1920 x 1152), 4-16 for lithographic masks; ``None`` =
            continuous. Phase-only.
        pixel_phase_std: per-pixel surface / thickness error, rad; 0.02-0.1 rad after a
            flatness correction. Phase-only.
        fringing_sigma: std of the Gaussian fringing-field blur of the displayed phase, m;
            the fringing field reaches about one liquid-crystal thickness (3-4 um) into the
            neighbouring pixel, i.e. 0.3-0.6 pixel at 8 um (Persson et al., Opt. Express 20,
            22334 (2012); Moser et al., Opt. Express 27, 25046 (2019)). Blurs the phase
            values (with fly-back at 2pi wraps), not ``exp(i phase)``: phase-only.
        fill_factor: active fraction of each pixel's area; the dead border is unmodulated
            and sends light into the zero order; 0.93 (Holoeye PLUTO-2), 0.957 (Meadowlark
            1920 x 1152), 1 for a continuous fabricated mask. Phase-only.
        illumination_waist: 1/e^2 intensity radius of the Gaussian illumination beam, m
            (``None`` = uniform plane wave, as in the ideal model); a few mm for an expanded
            laser beam. Changes the input power profile.
        illumination_tilt_std: tilt of the illumination wavefront about x and y, rad; below
            0.5 mrad after alignment on an iris pair. Phase-only.
    """

    shift_std: float = 0.0
    rotation_std: float = 0.0
    distance_std: float = 0.0
    phase_gain_std: float = 0.0
    phase_gamma_std: float = 0.0
    phase_levels: int | None = None
    pixel_phase_std: float = 0.0
    fringing_sigma: float = 0.0
    fill_factor: float = 1.0
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
        if not 0 < self.fill_factor <= 1:
            raise ValueError(f"fill_factor must be in (0, 1], got {self.fill_factor}")
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
        values = asdict(self)
        return values.pop("fill_factor") == 1 and all(v in (0, 0.0, None) for v in values.values())
