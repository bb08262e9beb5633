"""The diffractive PNN family: image encoder, phase-mask layers in free space, detectors.

Geometry (all planes ``neurons x neurons`` pixels of ``pitch`` m): input plane ->
``input_distance`` -> layer 1 -> ``distance`` -> ... -> layer L -> ``output_distance`` ->
detector plane with 10 square detector regions of ``detector_size`` pixels.
"""

from __future__ import annotations

from photonic_dat.config.schema import RunConfig
from photonic_dat.errors.specs import DiffractiveErrorSpec
from photonic_dat.exceptions import ConfigError
from photonic_dat.models.diffractive import (
    DetectorReadout,
    DiffractiveLayer,
    FreeSpace,
    ImageEncoder,
)
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import detector_layout
from photonic_dat.seeding import stream_generator

NUM_CLASSES = 10


def default_input_size(neurons: int) -> int:
    """Image side on the input plane when ``dpnn.input_size`` is unset: half the grid."""
    return max(1, neurons // 2)


def default_detector_size(neurons: int) -> int:
    """Detector square side when ``dpnn.detector_size`` is unset: a tenth of the grid."""
    return max(1, neurons // 10)


def build_dpnn(config: RunConfig) -> PNN:
    """The configured DPNN (ideal physics); phases from the ``init`` stream of ``config.seed``."""
    cfg = config.dpnn
    generator = stream_generator(config.seed, "init")
    n = cfg.neurons
    size = cfg.input_size if cfg.input_size is not None else default_input_size(n)
    if size > n:
        raise ConfigError(f"dpnn.input_size={size} is larger than dpnn.neurons={n}")
    encoder = ImageEncoder(n, size, cfg.encoding)
    first_gap = cfg.input_distance if cfg.input_distance is not None else cfg.distance
    last_gap = cfg.output_distance if cfg.output_distance is not None else cfg.distance
    blocks = [
        DiffractiveLayer(
            n,
            cfg.pitch,
            cfg.wavelength,
            first_gap if k == 0 else cfg.distance,
            pad_factor=cfg.pad_factor,
            propagation=cfg.propagation,
            illuminated=k == 0,
            wrap=cfg.phase_wrap,
            init_std=cfg.init_std,
            generator=generator,
        )
        for k in range(cfg.layers)
    ]
    blocks.append(
        FreeSpace(n, cfg.pitch, cfg.wavelength, last_gap, cfg.pad_factor, cfg.propagation)
    )
    region = cfg.detector_size if cfg.detector_size is not None else default_detector_size(n)
    try:
        masks = detector_layout(n, NUM_CLASSES, region, cfg.detector_layout)
    except ValueError as exc:
        raise ConfigError(
            f"dpnn.detector_layout={cfg.detector_layout!r} / dpnn.detector_size={region}: {exc}"
        ) from None
    return PNN(encoder, blocks, DetectorReadout(masks, cfg.readout_temperature))


def dpnn_error_spec(config: RunConfig) -> DiffractiveErrorSpec:
    """The DPNN's systematic errors from ``config.errors`` (SI units)."""
    e = config.errors
    return DiffractiveErrorSpec(
        shift_std=e.shift_std,
        rotation_std=e.rotation_std,
        distance_std=e.distance_std,
        phase_gain_std=e.phase_gain_std,
        phase_gamma_std=e.phase_gamma_std,
        phase_levels=e.phase_levels,
        pixel_phase_std=e.pixel_phase_std,
        fringing_sigma=e.fringing_sigma,
        fill_factor=e.fill_factor,
        illumination_waist=e.illumination_waist,
        illumination_tilt_std=e.illumination_tilt_std,
    )
