"""Fit a twin's error parameters to probe measurements of the physical system.

The probes are what a lab would display: the current design and a few random settings of
the optical parameters (random settings decorrelate the errors from one design), each with a
batch of training inputs, measured at the output and at every internal plane the system
offers. One batch per setting is held out first: the similarity of the ideal and of the fitted twin
on it measures how much of the device the calibration explains. The rest of the probes are
measured in rounds and fitted as they arrive (measuring everything first would hold
gigabytes of frames): each round displays one setting, measures one batch and takes
``steps_per_batch`` Adam steps (cosine-decayed learning rate) on the error parameters,
minimising the same gain-invariant similarity DAT uses (MSE of L2-normalised intensities,
summed over planes). Every frame is counted by the system like any other.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from photonic_dat.calibration.parameters import ErrorModel
from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.models.pnn import PNN
from photonic_dat.models.readout import l2_normalise
from photonic_dat.optics.detectors import intensity
from photonic_dat.systems.base import PhysicalSystem

__all__ = ["CalibrationSettings", "calibrate", "similarity"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationSettings:
    """``frames``: probe frames to spend (all planes together). ``settings``: random settings
    of the optical parameters probed besides the current design. ``batch_size`` inputs per
    round, ``steps_per_batch`` fitting steps per measured round, Adam ``lr``."""

    frames: int
    settings: int = 8
    batch_size: int = 100
    steps_per_batch: int = 2
    lr: float = 0.02

    def __post_init__(self) -> None:
        if self.frames < 1 or self.settings < 0 or self.batch_size < 1:
            raise ValueError("calibration needs frames >= 1, settings >= 0, batch_size >= 1")


def similarity(twin: Tensor, measured: Tensor) -> Tensor:
    """MSE of L2-normalised intensities (insensitive to the unknown detector gain)."""
    return torch.nn.functional.mse_loss(l2_normalise(twin), l2_normalise(measured))


def _probe_settings(twin: PNN, count: int, generator: torch.Generator) -> list[dict[str, Tensor]]:
    current = {k: v.detach().clone() for k, v in twin.optical_parameters().items()}
    settings = [current]
    for _ in range(count):
        setting = {}
        for k, block in enumerate(twin.blocks):
            for name, value in block.probe_parameters(generator).items():
                setting[f"blocks.{k}.{name}"] = value
        settings.append(setting)
    return settings


def calibrate(
    twin: PNN,
    system: PhysicalSystem,
    images: Tensor,
    encode: Callable[[Tensor], Tensor],
    settings: CalibrationSettings,
    generator: torch.Generator,
) -> tuple[ErrorRealisation, dict[str, Any]]:
    """Fit the error parameters of ``twin``'s blocks from probes of ``system`` driven with
    training ``images``; returns the fitted errors and a record (frames, losses)."""
    taps = tuple(system.capabilities.internal_taps)
    planes = 1 + len(taps)
    probes = _probe_settings(twin, settings.settings, generator)
    probe = copy.deepcopy(twin).requires_grad_(False)
    probe.known_errors = None
    own = dict(probe.named_parameters())

    def display(params: dict[str, Tensor]) -> None:
        with torch.no_grad():
            for name, value in params.items():
                own[name].copy_(value)

    def residual(fields: Tensor, measured, errors: ErrorRealisation | None) -> Tensor:
        trace = probe.run(fields, errors=errors)
        loss = similarity(probe.measured_output(intensity(trace.output)), measured.output)
        for k in taps:
            loss = loss + similarity(intensity(trace.states[k]), measured.taps[k])
        return loss

    def draw(size: int) -> Tensor:
        return encode(images[torch.randint(len(images), (size,), generator=generator)])

    frames_before = system.queries.total_frames
    held = min(settings.batch_size, max(1, settings.frames // (planes * 20 * len(probes))))
    holdout = []
    for params in probes:
        fields = draw(held)
        holdout.append((params, fields, system.measure(params, fields, taps)))
    samples = max(1, settings.frames // planes - held * len(probes))
    rounds = math.ceil(samples / settings.batch_size)
    model = ErrorModel(twin)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    # cosine decay over the rounds: large steps first, a settled fit at the end
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, rounds))
    losses: list[float] = []
    sent = 0
    for r in range(rounds):
        params = probes[r % len(probes)]
        fields = draw(min(settings.batch_size, samples - sent))
        measured = system.measure(params, fields, taps)
        sent += len(fields)
        display(params)
        for _ in range(settings.steps_per_batch):
            loss = residual(fields, measured, model.realisation())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if r % max(1, rounds // 10) == 0:
            log.info("calibration round %d/%d: similarity %.3e", r + 1, rounds, losses[-1])
    fitted = model.realisation(detach=True)
    before = after = 0.0
    with torch.no_grad():
        for params, fields, measured in holdout:
            display(params)
            before += float(residual(fields, measured, None)) / len(holdout)
            after += float(residual(fields, measured, fitted)) / len(holdout)
    record = {
        "probe_frames": system.queries.total_frames - frames_before,
        "probe_samples": sent,
        "probe_settings": len(probes),
        "rounds": rounds,
        "fitted_parameters": model.num_parameters,
        "holdout_similarity_ideal": before,
        "holdout_similarity_fitted": after,
    }
    return fitted, record
