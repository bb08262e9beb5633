"""Specifications of systematic errors: the standard deviations and ranges a user sets.

A specification is drawn into a realisation (:mod:`photonic_dat.errors.realisation`) by each
block, which knows which of the errors apply to its physics.
"""

from __future__ import annotations

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
