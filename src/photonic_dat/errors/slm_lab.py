"""Hidden errors of a simulated SLM + camera lab setup (the ``errors.slm`` keys).

The single typed source of these keys (the configuration uses it as its ``errors.slm``
section). Drawn once per device from ``errors.seed``
(:func:`photonic_dat.systems.slmsuite_lab.draw_lab_errors`) and applied to slmsuite's
``SimulatedSLM`` and ``SimulatedCamera``. Defaults are realistic tolerances of a table-top
setup, fixed before any training (sources in each field's description).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SLMLabErrorSpec"]


class SLMLabErrorSpec(BaseModel):
    """Errors of an SLM + lens + camera setup (all drawn per device, zero-mean normal).

    SLM side:
        aberration_rms: rms wavefront error over the SLM region, in waves, shared equally by
            defocus, astigmatism (2), coma (2) and spherical aberration; an uncorrected LCoS
            panel and relay optics are typically lambda/10-lambda/3 (SLM flatness
            specifications, e.g. Holoeye PLUTO-2 and Meadowlark datasheets: lambda/3 to
            lambda/10 before wavefront correction).
        beam_waist_std: relative error of the Gaussian beam's 1/e^2 radius against the
            nominal one (beam expander / collimation tolerance, ~10 %).
        beam_offset_std: beam centre offset on the SLM region, fraction of its width
            (alignment to ~0.1 mm on a few-mm beam: ~3-5 %).
        phase_range_std: relative error of the 2 pi phase stroke of the lookup table
            (LUT calibrated at another wavelength or temperature: a few %).
        phase_gamma_std: error of the exponent of the phase response ``(level / L) ** (1 +
            e)`` (uncalibrated nonlinear LC response, ~10 %).

    Camera side:
        camera_offset_std: offset of the optical axis on the camera, pixels.
        camera_rotation_std: camera rotation about the optical axis, rad (~1 degree).
        magnification_std: relative error of the effective focal length (lens tolerance
            2-5 %).
        vignetting: relative efficiency loss at the corner of the camera window (quadratic
            fall-off; relay-optics vignetting of 10-30 %).
        gain_std: relative error of the camera gain / quantum efficiency (~10-20 %).
        black_level: mean dark offset, counts (typical 10-bit machine-vision cameras: a
            black level of tens of counts).
        read_noise: std of the read noise, counts (a few electrons at ~1 count per
            electron: 2-3 counts).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    aberration_rms: float = Field(0.1, ge=0, le=2)
    beam_waist_std: float = Field(0.1, ge=0, le=0.5)
    beam_offset_std: float = Field(0.04, ge=0, le=0.5)
    phase_range_std: float = Field(0.05, ge=0, le=0.5)
    phase_gamma_std: float = Field(0.1, ge=0, le=0.5)
    camera_offset_std: float = Field(3.0, ge=0)
    camera_rotation_std: float = Field(0.02, ge=0, le=0.5)
    magnification_std: float = Field(0.03, ge=0, le=0.3)
    vignetting: float = Field(0.2, ge=0, lt=1)
    gain_std: float = Field(0.15, ge=0, le=0.5)
    black_level: float = Field(16.0, ge=0)
    read_noise: float = Field(2.5, ge=0)
