"""A pixelated phase modulator sampled finely: each modulator pixel is ``s x s`` samples.

This is the physics of the *simulated device*, not of the twin. The twin samples a phase
mask once per pixel; a real modulator (an LCOS SLM or a fabricated phase plate) is a
continuous surface whose pixels have a finite fill factor, whose phase is smoothed across
pixel borders by the fringing field of the liquid crystal, and which can sit displaced and
rotated against the optical axis. On a grid of ``s`` samples per pixel all of that can be
represented without absorbing light: every function here returns a *unit-modulus*
transmission (a phase-only element passes all the power it receives), and as ``s`` grows the
result converges to the continuous surface.

Conventions: tensors ``(..., H, W)`` = (rows, columns) = (y, x); phases in rad; lengths in
units of fine samples unless a name says ``_m`` (metres); a positive ``dx`` moves the mask
towards larger column index, a positive rotation turns +x towards +y (as
:func:`photonic_dat.optics.diffractive.rotate_small`). Outside its active area the mask is
unmodulated glass (transmission 1): light that misses the moved mask passes unmodulated.

Zero-order light: the dead space between pixels (area ``1 - fill_factor``) does not follow
the displayed phase; it reflects (or transmits) with a fixed phase, so a blazed grating
leaves part of the light in the undiffracted zero order, as a real SLM does. Together with
the phase-depth (gain) error and the fringing fly-back at phase wraps, this is the
zero-order light a lab sees.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from photonic_dat.optics.diffractive import (
    crosstalk_blur,
    rotate_small,
    shift_bilinear,
    unit_modulus,
)

__all__ = [
    "active_weights",
    "move_mask",
    "pixel_average",
    "render_mask",
    "upsample_nearest",
]


def upsample_nearest(x: Tensor, s: int) -> Tensor:
    """Repeat every pixel of ``x (..., H, W)`` as an ``s x s`` block -> ``(..., sH, sW)``."""
    s = int(s)
    if s < 1:
        raise ValueError(f"samples per pixel must be >= 1, got {s}")
    if s == 1:
        return x
    return x.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1)


def pixel_average(x: Tensor, s: int) -> Tensor:
    """Mean of every ``s x s`` block of ``x (..., sH, sW)`` -> ``(..., H, W)``.

    A camera pixel (or the twin's sample) of one modulator pitch integrates the irradiance
    over its area; the mean keeps the twin's units (a unit plane wave reads 1).
    """
    s = int(s)
    if s == 1:
        return x
    h, w = x.shape[-2] // s, x.shape[-1] // s
    if (h * s, w * s) != tuple(x.shape[-2:]):
        raise ValueError(f"grid {tuple(x.shape[-2:])} is not a multiple of {s} samples")
    blocks = x.reshape(*x.shape[:-2], h, s, w, s)
    return blocks.mean(dim=(-3, -1))


def active_weights(s: int, fill_factor: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """Fraction of each of the ``s`` samples across a pixel that lies in its active area.

    ``fill_factor`` is the *area* fraction of a square pixel that modulates (a datasheet's
    figure: 0.93 for a Holoeye PLUTO-2, 0.957 for a Meadowlark 1920 x 1152); the active
    square has side ``sqrt(fill_factor)`` pixels, centred, and the dead border is split
    evenly on both sides. Returns ``(s,)`` weights in [0, 1]; the 2-D weight of a sample is
    the outer product.
    """
    if not 0.0 < fill_factor <= 1.0:
        raise ValueError(f"fill_factor must be in (0, 1], got {fill_factor}")
    side = math.sqrt(fill_factor)
    lo, hi = (1.0 - side) / 2.0, (1.0 + side) / 2.0
    edges = torch.arange(s + 1, dtype=torch.float64) / s
    overlap = (edges[1:].clamp(max=hi) - edges[:-1].clamp(min=lo)).clamp(min=0.0)
    return (overlap * s).to(dtype)


def render_mask(
    phase: Tensor,
    s: int,
    *,
    fill_factor: float = 1.0,
    dead_phase: float = 0.0,
    fringing_samples: float | Tensor = 0.0,
) -> Tensor:
    """Transmission ``(s H, s W)`` of a pixelated phase modulator in its own frame.

    ``phase (..., H, W)`` is the phase each pixel displays (rad, after the modulator's
    response). Steps: the pixel values are spread over ``s x s`` samples; the fringing field
    blurs that phase profile (Gaussian of ``fringing_samples`` fine samples, see
    :func:`~photonic_dat.optics.diffractive.crosstalk_blur`: the phase values are smoothed,
    so a wrap from 2pi to 0 shows the fly-back a real SLM has); then the dead border of each
    pixel (``1 - fill_factor`` of its area) is mixed in with the fixed ``dead_phase``. A
    sample straddling active and dead area takes the phase of the area-weighted mean of the
    two phasors, renormalised: unit modulus everywhere, so nothing is absorbed, and the
    straddling samples vanish as ``s`` grows.
    """
    fine = upsample_nearest(phase, s)
    if float(fringing_samples) > 0.0:
        fine = crosstalk_blur(fine, fringing_samples)
    t = torch.polar(torch.ones_like(fine), fine)
    if fill_factor >= 1.0:
        return t
    w1 = active_weights(s, fill_factor, dtype=fine.dtype).to(fine.device)
    w = torch.outer(w1, w1).repeat(phase.shape[-2], phase.shape[-1])
    dead = complex(math.cos(dead_phase), math.sin(dead_phase))
    return unit_modulus(w * t + (1.0 - w) * dead)


def move_mask(t: Tensor, dx: float, dy: float, rotation: float = 0.0) -> Tensor:
    """Displace a finely sampled transmission ``t (..., H, W)`` by ``(dx, dy)`` samples and
    rotate it by ``rotation`` rad about the grid centre, on the same grid.

    The surround is unmodulated (transmission 1), so the function acts on ``t - 1``: bilinear
    resampling (:func:`~photonic_dat.optics.diffractive.shift_bilinear` without rotation,
    :func:`~photonic_dat.optics.diffractive.rotate_small` with it) with zero fill, plus 1,
    renormalised to unit modulus. A move by whole samples without rotation is an exact roll
    (with 1 filling in); any move conserves the transmitted power exactly.
    """
    delta = t - 1.0
    if rotation:
        delta = rotate_small(delta, rotation)
    if dx or dy:
        delta = shift_bilinear(delta, dx, dy)
    return unit_modulus(delta + 1.0)
