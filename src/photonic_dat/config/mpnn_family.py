"""The interference PNN family: FFT-crop encoder, MZI meshes, EO activations, port readout."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from photonic_dat.config.schema import RunConfig
from photonic_dat.errors.specs import MeshErrorSpec
from photonic_dat.models.activation import EOActivation
from photonic_dat.models.encoders import FFTCropEncoder
from photonic_dat.models.mesh import MeshBlock
from photonic_dat.models.pnn import PNN
from photonic_dat.models.readout import PortReadout
from photonic_dat.seeding import stream_generator


class PaddedEncoder(torch.nn.Module):
    """An encoder whose output is zero-padded to the PNN's number of ports."""

    def __init__(self, inner: torch.nn.Module, ports: int) -> None:
        super().__init__()
        self.inner, self.ports = inner, ports

    def forward(self, images: Tensor) -> Tensor:
        fields = self.inner(images)
        pad = self.ports - fields.shape[1]
        return torch.nn.functional.pad(fields, (0, pad)) if pad else fields


def build_mpnn(config: RunConfig) -> PNN:
    cfg = config.mpnn
    generator = stream_generator(config.seed, "init")
    crop = cfg.fft_crop or math.isqrt(cfg.ports)
    encoder = PaddedEncoder(FFTCropEncoder(crop), cfg.ports)
    blocks = []
    for k in range(cfg.meshes):
        blocks.append(
            MeshBlock(
                cfg.ports,
                cfg.layers,
                init=cfg.init,
                generator=generator,
                internal_phase=cfg.internal_phase,
            )
        )
        if k != cfg.meshes - 1:
            blocks.append(
                EOActivation(
                    cfg.ports, cfg.activation_alpha, cfg.activation_gain, cfg.activation_bias
                )
            )
    return PNN(
        encoder, blocks, PortReadout(10, cfg.readout_temperature, config.system.output_ports)
    )


def mesh_error_spec(config: RunConfig) -> MeshErrorSpec:
    e = config.errors
    return MeshErrorSpec(e.bs_std, e.ps_std, e.crosstalk, e.loss_db_mean, e.loss_db_std)
