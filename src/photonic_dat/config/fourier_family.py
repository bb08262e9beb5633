"""The single-mask Fourier-plane PNN family: phase-encoded input and trainable mask on one
SLM, a lens, ten detector regions on a camera in the back focal plane."""

from __future__ import annotations

from photonic_dat.config.schema import RunConfig
from photonic_dat.exceptions import ConfigError
from photonic_dat.models.diffractive import DetectorReadout
from photonic_dat.models.fourier import FourierMask, PhaseImageEncoder
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import detector_layout
from photonic_dat.seeding import stream_generator

NUM_CLASSES = 10


def nominal_waist_pixels(config: RunConfig) -> float | None:
    """The twin's beam 1/e^2 radius in SLM pixels (``fourier.beam_waist`` x half the width)."""
    cfg = config.fourier
    return None if cfg.beam_waist is None else cfg.beam_waist * cfg.neurons / 2


def build_fourier(config: RunConfig) -> PNN:
    """The configured Fourier-plane PNN (ideal optics; mask from the ``init`` stream)."""
    cfg = config.fourier
    if cfg.input_size > cfg.neurons:
        raise ConfigError(
            f"fourier.input_size={cfg.input_size} is larger than fourier.neurons={cfg.neurons}"
        )
    if cfg.window > cfg.pad * cfg.neurons:
        raise ConfigError(
            f"fourier.window={cfg.window} exceeds the Fourier grid "
            f"(fourier.pad x fourier.neurons = {cfg.pad * cfg.neurons})"
        )
    generator = stream_generator(config.seed, "init")
    encoder = PhaseImageEncoder(cfg.neurons, cfg.input_size, cfg.input_phase)
    block = FourierMask(
        cfg.neurons,
        cfg.pad,
        cfg.window,
        nominal_waist_pixels(config),
        cfg.init_std,
        generator,
    )
    try:
        masks = detector_layout(cfg.window, NUM_CLASSES, cfg.detector_size, cfg.detector_layout)
    except ValueError as exc:
        raise ConfigError(
            f"fourier.detector_layout={cfg.detector_layout!r} / "
            f"fourier.detector_size={cfg.detector_size}: {exc}"
        ) from None
    return PNN(encoder, [block], DetectorReadout(masks, cfg.readout_temperature))
