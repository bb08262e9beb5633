"""The analog crossbar family: flattened images, crossbar layers, digital ReLU, raw scores."""

from __future__ import annotations

from photonic_dat.config.schema import RunConfig
from photonic_dat.models.crossbar import (
    CrossbarLayer,
    DigitalReLU,
    ImageVectorEncoder,
    ScaledReadout,
)
from photonic_dat.models.pnn import PNN
from photonic_dat.seeding import stream_generator

NUM_CLASSES = 10

#: image side of each data set (the crossbar's input size when crossbar.input_size is unset)
IMAGE_SIDES = {"digits": 8, "mnist": 28, "fashion-mnist": 28}


def build_crossbar(config: RunConfig) -> PNN:
    """``in -> hidden[0] -> ... -> 10`` crossbar layers with digital ReLU between (seeded)."""
    cfg = config.crossbar
    generator = stream_generator(config.seed, "init")
    side = cfg.input_size or IMAGE_SIDES[config.data.name]
    sizes = [side * side, *cfg.hidden, NUM_CLASSES]
    blocks = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        blocks.append(CrossbarLayer(fan_in, fan_out, generator))
        if k < len(sizes) - 2:
            blocks.append(DigitalReLU())
    encoder = ImageVectorEncoder(cfg.input_size)
    return PNN(encoder, blocks, ScaledReadout(cfg.readout_temperature))
