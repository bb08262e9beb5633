"""Custom autograd functions that let physical measurements into a differentiable graph.

* :func:`measured_forward` (PAT): the forward value is the physical measurement; the backward
  pass is the vector-Jacobian product through the numerical twin that produced ``twin``.
* :func:`fuse_amplitude` (DAT's state fusion): the forward value has the measured amplitude and
  the twin's phase; the backward pass again goes through the twin's field.
* :func:`fuse_state`: state fusion for either kind of state: a complex field keeps its phase
  and takes the measured amplitude; a real state (no phase) takes the measured value.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _MeasuredForward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, twin: Tensor, measured: Tensor) -> Tensor:
        if twin.shape != measured.shape:
            raise ValueError(
                f"twin output {tuple(twin.shape)} and measurement {tuple(measured.shape)} differ"
            )
        return measured.detach().to(twin.dtype).clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


class _FuseAmplitude(torch.autograd.Function):
    @staticmethod
    def forward(ctx, twin_field: Tensor, measured_intensity: Tensor) -> Tensor:
        if twin_field.shape != measured_intensity.shape:
            raise ValueError(
                f"field {tuple(twin_field.shape)} and intensity "
                f"{tuple(measured_intensity.shape)} differ"
            )
        amplitude = measured_intensity.detach().clamp_min(0).sqrt()
        magnitude = twin_field.abs()
        unit = torch.where(
            magnitude > 0, twin_field / magnitude.clamp_min(1e-30), torch.ones_like(twin_field)
        )
        return amplitude * unit

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def measured_forward(twin: Tensor, measured: Tensor) -> Tensor:
    """Value of ``measured``, gradient routed to ``twin`` (physics-aware training)."""
    return _MeasuredForward.apply(twin, measured)


def fuse_amplitude(twin_field: Tensor, measured_intensity: Tensor) -> Tensor:
    """``sqrt(measured) * exp(i angle(twin))`` forward; identity to ``twin_field`` backward."""
    return _FuseAmplitude.apply(twin_field, measured_intensity)


def fuse_state(twin_state: Tensor, measured: Tensor) -> Tensor:
    """State fusion: the measured state where the twin's was, gradients through the twin.

    A complex optical field keeps the twin's phase and takes the measured amplitude
    (:func:`fuse_amplitude`, ``measured`` is an intensity); a real state has no phase and is
    replaced by the measured value (:func:`measured_forward`).
    """
    if twin_state.is_complex():
        return fuse_amplitude(twin_state, measured)
    return measured_forward(twin_state, measured)
