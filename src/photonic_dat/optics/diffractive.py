"""Pure functions for diffractive layers: phase masks, their non-idealities, and inputs.

Conventions: tensors have shape ``(..., H, W)`` = (rows, columns) = (y, x). Phases are in
radians, lateral shifts in pixels (fractions allowed), pitches, waists and wavelengths in
metres. A positive ``dx`` moves content towards larger column index (like ``torch.roll``
along ``dim=-1``), a positive ``dy`` towards larger row index (``dim=-2``).

Two lateral-shift models are provided:

* :func:`shift_subpixel` - Fourier phase ramp, periodic (content wraps around), exact
  band-limited (sinc) interpolation. A whole-pixel shift is exactly ``torch.roll``.
* :func:`shift_bilinear` - bilinear interpolation with zero fill at the edges. A
  whole-pixel shift is exactly a roll whose wrapped-in pixels are zeroed.

To displace a *phase mask*, shift the complex transmission ``exp(i * phase)`` (with either
function) rather than the phase values: interpolating a phase across a 0/2pi wrap gives
spurious values near pi, and the Fourier shift rings at such jumps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from photonic_dat.optics.free_space import spatial_coordinates
from photonic_dat.optics.phase import TWO_PI, wrap_phase

__all__ = [
    "crosstalk_blur",
    "embed_image",
    "gaussian_illumination",
    "move_mask_fourier",
    "modulator_response",
    "phase_modulation",
    "quantize_phase",
    "rotate_fourier",
    "rotate_small",
    "shear_fourier",
    "shift_bilinear",
    "shift_subpixel",
    "parametrised_phase",
    "unit_modulus",
]


def _check_image_tensor(x: Tensor, name: str = "x") -> None:
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., H, W), got {tuple(x.shape)}")


def _real_dtype_for(x: Tensor) -> torch.dtype:
    if x.is_complex():
        return torch.float64 if x.dtype == torch.complex128 else torch.float32
    return x.dtype if x.is_floating_point() else torch.float32


# --------------------------------------------------------------------------- modulation


def phase_modulation(field: Tensor, phase: Tensor) -> Tensor:
    """Thin phase element: ``field * exp(i * phase)`` (phase in rad, broadcasting)."""
    if phase.is_complex():
        raise ValueError("phase must be real")
    return field * torch.polar(torch.ones_like(phase), phase)


def parametrised_phase(raw: Tensor, mode: str = "sigmoid") -> Tensor:
    """Map unconstrained parameters ``raw`` to a phase in [0, 2pi) rad.

    * ``"sigmoid"`` (default): ``2pi * sigmoid(raw)``, smooth and bounded in the open
      interval (0, 2pi). There is no wrap-around discontinuity, so the gradient
      ``2pi * s * (1 - s)`` is non-zero everywhere (it only decays for ``|raw| >> 1``).
    * ``"mod"``: ``raw mod 2pi``; gradient exactly 1 everywhere. The value jumps at the
      wrap but ``exp(i * phase)`` is continuous, so a phase-only element does not see it.
    """
    if mode == "sigmoid":
        return TWO_PI * torch.sigmoid(raw)
    if mode == "mod":
        return wrap_phase(raw)
    raise ValueError(f"mode must be 'sigmoid' or 'mod', got {mode!r}")


def quantize_phase(phase: Tensor, levels: int, *, straight_through: bool = False) -> Tensor:
    """Quantise a phase (rad) to ``levels`` equally spaced values ``k * 2pi / levels``.

    The phase is first wrapped into [0, 2pi), then rounded to the nearest level; values
    that round to 2pi map to 0. With ``straight_through`` the forward value is quantised
    but the gradient is the identity (straight-through estimator); otherwise the gradient
    is zero almost everywhere.
    """
    levels = int(levels)
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    step = TWO_PI / levels
    wrapped = torch.remainder(phase, TWO_PI)
    index = torch.remainder(torch.round(wrapped / step), levels)
    quantized = index * step
    if straight_through:
        return quantized + (phase - phase.detach())  # exact levels, identity gradient
    return quantized


def modulator_response(
    phase: Tensor,
    gain: float | Tensor = 1.0,
    gamma: float | Tensor = 1.0,
) -> Tensor:
    """Non-ideal phase modulator (look-up-table) response, in rad.

    ``realised = 2pi * gain * (phase / 2pi) ** gamma`` for a commanded ``phase`` in
    [0, 2pi) rad (negative inputs are clamped to 0). ``gain`` (dimensionless, realistic
    0.9-1.1) scales the full phase stroke, ``gamma`` (dimensionless, realistic 0.8-1.2)
    bends the voltage-to-phase curve. Both may be tensors broadcastable to ``phase``
    (e.g. per-pixel maps) and are differentiable. ``gain=1, gamma=1`` is the identity.
    """
    if isinstance(gamma, Tensor) or float(gamma) != 1.0:
        normalised = (phase / TWO_PI).clamp_min(0.0)
        if isinstance(gamma, Tensor) or float(gamma) < 1.0:
            # d/dx x**gamma is infinite at 0 for gamma < 1; keep gradients finite.
            normalised = normalised.clamp_min(1e-12)
        realised = TWO_PI * normalised**gamma
    else:
        realised = phase
    if isinstance(gain, Tensor) or float(gain) != 1.0:
        realised = realised * gain
    return realised


def crosstalk_blur(phase: Tensor, sigma_pixels: float | Tensor) -> Tensor:
    """Pixel crosstalk / fringing field: Gaussian blur of the displayed phase.

    Separable Gaussian of standard deviation ``sigma_pixels`` (pixels; realistic 0.2-1
    for LCOS SLMs) with reflect padding, applied to the last two dims. The kernel is
    truncated at ``ceil(3 sigma)`` pixels (at most ``min(H, W) - 1``) and normalised to sum
    1. ``sigma_pixels = 0`` returns the input unchanged. The phase *values* are blurred
    (not ``exp(i phase)``), which models the smoothed drive voltage including the
    fly-back region at 0/2pi wraps. Complex input is blurred part by part. A tensor
    ``sigma_pixels`` (scalar) is differentiable.
    """
    _check_image_tensor(phase, "phase")
    sigma_value = (
        float(sigma_pixels.detach()) if isinstance(sigma_pixels, Tensor) else float(sigma_pixels)
    )
    if not math.isfinite(sigma_value) or sigma_value < 0.0:
        raise ValueError(f"sigma_pixels must be >= 0, got {sigma_value!r}")
    if sigma_value == 0.0:
        return phase
    if phase.is_complex():
        return torch.complex(
            crosstalk_blur(phase.real, sigma_pixels), crosstalk_blur(phase.imag, sigma_pixels)
        )
    h, w = phase.shape[-2:]
    radius = min(math.ceil(3.0 * sigma_value), max(min(h, w) - 1, 0))
    if radius == 0:
        return phase
    dtype = phase.dtype if phase.is_floating_point() else torch.float32
    offsets = torch.arange(-radius, radius + 1, dtype=dtype, device=phase.device)
    sigma = (
        sigma_pixels.to(dtype=dtype, device=phase.device)
        if isinstance(sigma_pixels, Tensor)
        else sigma_value
    )
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = phase.to(dtype).reshape(-1, 1, h, w)
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x.reshape(phase.shape)


# --------------------------------------------------------------------------- misalignment


def _as_shift(value: float | Tensor, x: Tensor, dtype: torch.dtype) -> Tensor:
    if isinstance(value, Tensor):
        if value.is_complex():
            raise ValueError("shifts must be real")
        return value.to(dtype=dtype, device=x.device)
    return torch.tensor(float(value), dtype=dtype, device=x.device)


def shift_subpixel(x: Tensor, dx_pixels: float | Tensor, dy_pixels: float | Tensor) -> Tensor:
    """Periodic lateral shift by a Fourier phase ramp (band-limited interpolation).

    ``x`` is real or complex ``(..., H, W)``; the output has the same dtype. Shifts are in
    pixels, may be fractional, and may be tensors broadcastable to the batch dims ``...``
    (differentiable). Whole-pixel shifts equal ``torch.roll`` exactly (up to rounding).
    For a real input the real part of the shifted signal is returned; this drops the
    Nyquist component of even-sized axes for half-pixel shifts, so compose sub-pixel
    shifts on complex fields (or band-limited real ones).
    """
    _check_image_tensor(x)
    real_dtype = _real_dtype_for(x)
    h, w = x.shape[-2:]
    dx = _as_shift(dx_pixels, x, real_dtype)[..., None, None]
    dy = _as_shift(dy_pixels, x, real_dtype)[..., None, None]
    fx = torch.fft.fftfreq(w, dtype=real_dtype, device=x.device)  # cycles / pixel
    fy = torch.fft.fftfreq(h, dtype=real_dtype, device=x.device)[:, None]
    ramp_phase = -TWO_PI * (fx * dx + fy * dy)
    ramp = torch.polar(torch.ones_like(ramp_phase), ramp_phase)
    source = x if x.is_complex() else x.to(real_dtype)
    shifted = torch.fft.ifft2(torch.fft.fft2(source) * ramp)
    return shifted if x.is_complex() else shifted.real


def _shift_int_zero(x: Tensor, n: int, dim: int) -> Tensor:
    """Shift by ``n`` whole pixels along ``dim`` with zero fill (no wrap-around)."""
    size = x.shape[dim]
    if n == 0:
        return x
    if abs(n) >= size:
        return torch.zeros_like(x)
    zeros_shape = list(x.shape)
    zeros_shape[dim] = abs(n)
    zeros = x.new_zeros(zeros_shape)
    if n > 0:
        return torch.cat([zeros, x.narrow(dim, 0, size - n)], dim=dim)
    return torch.cat([x.narrow(dim, -n, size + n), zeros], dim=dim)


def _shift_linear_1d(x: Tensor, shift: float | Tensor, dim: int) -> Tensor:
    if isinstance(shift, Tensor):
        if shift.numel() != 1:
            raise ValueError("shift_bilinear supports scalar shifts only")
        base = math.floor(float(shift.detach()))
        frac = (shift.reshape(()) - base).to(dtype=_real_dtype_for(x), device=x.device)
        if not frac.requires_grad and float(frac) == 0.0:
            return _shift_int_zero(x, base, dim)
    else:
        shift = float(shift)
        base = math.floor(shift)
        frac = shift - base
        if frac == 0.0:
            return _shift_int_zero(x, base, dim)
    return (1.0 - frac) * _shift_int_zero(x, base, dim) + frac * _shift_int_zero(x, base + 1, dim)


def shift_bilinear(x: Tensor, dx: float | Tensor, dy: float | Tensor) -> Tensor:
    """Lateral shift by bilinear interpolation with zero fill at the edges.

    ``x`` is real or complex ``(..., H, W)``; ``dx``/``dy`` are scalar shifts in pixels
    (float or 0-d tensor, differentiable w.r.t. the fractional part). A whole-pixel shift
    equals ``torch.roll`` with the wrapped-in pixels set to zero. Not periodic: content
    leaving the grid is lost.
    """
    _check_image_tensor(x)
    if not (x.is_complex() or x.is_floating_point()):
        x = x.float()
    out = _shift_linear_1d(x, dx, dim=-1)
    return _shift_linear_1d(out, dy, dim=-2)


def rotate_small(x: Tensor, angle_rad: float | Tensor) -> Tensor:
    """Rotate ``x (..., H, W)`` (real or complex) about the grid centre by bilinear sampling.

    The angle is in rad; a positive angle turns the +x (column) axis towards +y (row
    index increasing), i.e. clockwise on an image displayed with row 0 at the top.
    Rotation is done in pixel units (correct for non-square grids); the centre is at
    ``((H - 1) / 2, (W - 1) / 2)``; samples from outside the grid are zero. Intended for
    small misalignment angles (interpolation blurs slightly). Differentiable w.r.t. ``x``
    and a tensor ``angle_rad`` (scalar).
    """
    _check_image_tensor(x)
    real_dtype = _real_dtype_for(x)
    h, w = x.shape[-2:]
    angle = _as_shift(angle_rad, x, real_dtype)
    if angle.numel() != 1:
        raise ValueError("rotate_small supports a scalar angle only")
    angle = angle.reshape(())
    cos, sin = torch.cos(angle), torch.sin(angle)
    ys = torch.arange(h, dtype=real_dtype, device=x.device) - (h - 1) / 2
    xs = torch.arange(w, dtype=real_dtype, device=x.device) - (w - 1) / 2
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    # Output pixel (x, y) samples the input at R(-angle) (x, y).
    src_x = cos * xx + sin * yy
    src_y = -sin * xx + cos * yy
    # Normalised coordinates for align_corners=False: pixel centre i -> (2 i + 1) / N - 1.
    grid = torch.stack(
        [
            (2.0 * (src_x + (w - 1) / 2) + 1.0) / w - 1.0,
            (2.0 * (src_y + (h - 1) / 2) + 1.0) / h - 1.0,
        ],
        dim=-1,
    )
    batch_shape = x.shape[:-2]
    flat = x.reshape(-1, h, w)
    if x.is_complex():
        channels = torch.stack([flat.real, flat.imag], dim=1)
    else:
        channels = flat.to(real_dtype).unsqueeze(1)
    grid = grid.unsqueeze(0).expand(channels.shape[0], h, w, 2)
    sampled = F.grid_sample(
        channels, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    out = torch.complex(sampled[:, 0], sampled[:, 1]) if x.is_complex() else sampled[:, 0]
    return out.reshape(*batch_shape, h, w)


def shear_fourier(x: Tensor, factor: float | Tensor, axis: int) -> Tensor:
    """Periodic shear by band-limited (Fourier) shifts: unitary, differentiable in ``factor``.

    ``axis=-1``: row ``y`` (centred coordinate ``y - (H - 1) / 2``) is shifted along x by
    ``-factor * y`` pixels, i.e. ``out(x, y) = x(x + factor * y, y)``; ``axis=-2`` is the same
    with the roles of x and y swapped. ``x`` is complex ``(..., H, W)``.
    """
    if axis not in (-1, -2):
        raise ValueError(f"axis must be -1 or -2, got {axis}")
    real_dtype = _real_dtype_for(x)
    along, across = (x.shape[-1], x.shape[-2]) if axis == -1 else (x.shape[-2], x.shape[-1])
    f = torch.fft.fftfreq(along, dtype=real_dtype, device=x.device)
    c = torch.arange(across, dtype=real_dtype, device=x.device) - (across - 1) / 2
    shift = -_as_shift(factor, x, real_dtype) * c  # per line, pixels
    ramp_phase = -TWO_PI * shift[:, None] * f[None, :]
    if axis == -2:
        ramp_phase = ramp_phase.transpose(0, 1)
    ramp = torch.polar(torch.ones_like(ramp_phase), ramp_phase)
    return torch.fft.ifft(torch.fft.fft(x, dim=axis) * ramp, dim=axis)


def rotate_fourier(x: Tensor, angle_rad: float | Tensor) -> Tensor:
    """Periodic rotation of a complex ``x (..., H, W)`` about the grid centre by three shears.

    Same convention as :func:`rotate_small` (``out(p) = x(R(-angle) p)``): shears
    ``tan(angle / 2)`` along x, ``-sin(angle)`` along y, ``tan(angle / 2)`` along x
    (Unser, Thevenaz and Yaroslavsky, IEEE TIP 4, 1371, 1995), each a Fourier shift, so the
    rotation is unitary (it conserves power exactly) and differentiable in the angle. Pad
    the field so that nothing wraps round the periodic grid.
    """
    angle = angle_rad if isinstance(angle_rad, Tensor) else torch.tensor(float(angle_rad))
    a = torch.tan(angle / 2)
    b = -torch.sin(angle)
    return shear_fourier(shear_fourier(shear_fourier(x, a, -1), b, -2), a, -1)


def unit_modulus(t: Tensor, eps: float = 1e-12) -> Tensor:
    """``t / |t|`` (a pure phase); samples with ``|t| < eps`` get phase 0."""
    magnitude = t.abs()
    return torch.where(magnitude > eps, t / magnitude.clamp_min(eps), torch.ones_like(t))


def move_mask_fourier(
    transmission: Tensor,
    dx: float | Tensor = 0.0,
    dy: float | Tensor = 0.0,
    rotation: float | Tensor = 0.0,
    margin: int = 4,
) -> Tensor:
    """A phase mask ``t (..., H, W)`` rotated about the grid centre by ``rotation`` rad, then
    shifted by ``(dx, dy)`` pixels, on the same one-sample-per-pixel grid.

    The twin's model of a misaligned layer, differentiable in ``dx``, ``dy`` and ``rotation``
    (the calibration baseline fits them): ``t - 1`` (the surround is unmodulated) is moved by
    a Fourier shift and the three-shear rotation (:func:`rotate_fourier`) on a grid padded by
    ``margin`` pixels, then the result is renormalised to unit modulus. A phase-only mask so
    moved stays phase-only: it absorbs nothing. A whole-pixel shift equals ``torch.roll``
    with 1 filling in. The simulated device renders the pixelated mask on a finer grid instead
    (:mod:`photonic_dat.optics.pixelated`).
    """
    h, w = transmission.shape[-2:]
    delta = F.pad(transmission - 1.0, (margin, margin, margin, margin))
    if isinstance(rotation, Tensor) or rotation:
        delta = rotate_fourier(delta, rotation)
    if isinstance(dx, Tensor) or isinstance(dy, Tensor) or dx or dy:
        delta = shift_subpixel(delta, dx, dy)
    return unit_modulus(delta[..., margin : margin + h, margin : margin + w] + 1.0)


# --------------------------------------------------------------------------- inputs


def gaussian_illumination(
    shape: tuple[int, int],
    pitch: float,
    waist: float,
    tilt_x_rad: float = 0.0,
    tilt_y_rad: float = 0.0,
    *,
    wavelength: float | None = None,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Non-uniform illumination envelope ``(H, W)``, peak amplitude 1.

    ``exp(-r^2 / waist^2) * exp(i 2pi/lambda (sin(tilt_x) x + sin(tilt_y) y))`` with ``r``,
    ``x``, ``y`` in m from the grid centre (pixel ``N // 2``), ``pitch``, ``waist`` and
    ``wavelength`` in m, tilts in rad. ``waist`` is the 1/e^2 intensity radius; pass
    ``math.inf`` for a uniform amplitude. ``wavelength`` is required when a tilt is
    non-zero. The envelope is computed in float64 and cast to ``dtype``.
    """
    waist = float(waist)
    if not waist > 0.0:
        raise ValueError(f"waist must be positive (or inf), got {waist!r}")
    if not dtype.is_complex:
        raise ValueError(f"dtype must be a complex dtype, got {dtype}")
    yy, xx = spatial_coordinates(shape, pitch, dtype=torch.float64, device=device)
    if math.isinf(waist):
        amplitude = torch.ones_like(xx)
    else:
        amplitude = torch.exp(-(xx**2 + yy**2) / waist**2)
    phase = torch.zeros_like(xx)
    if tilt_x_rad != 0.0 or tilt_y_rad != 0.0:
        if wavelength is None or not float(wavelength) > 0.0:
            raise ValueError("wavelength must be a positive number when a tilt is given")
        k = TWO_PI / float(wavelength)
        phase = k * (math.sin(tilt_x_rad) * xx + math.sin(tilt_y_rad) * yy)
    return torch.polar(amplitude, phase).to(dtype)


def embed_image(
    images: Tensor,
    grid: int,
    size: int,
    mode: str = "amplitude",
    *,
    interpolation: str = "bilinear",
) -> Tensor:
    """Place images ``(..., h, w)`` (real, in [0, 1]) at the centre of a ``grid x grid`` field.

    Each image is resized to ``size x size`` with ``F.interpolate`` (``interpolation`` is
    ``"bilinear"`` (antialiased) or ``"area"``), placed at offset ``(grid - size) // 2``
    in a zero grid and encoded as

    * ``"amplitude"``: field = image value (phase 0);
    * ``"phase"``: field = ``exp(i pi x)`` inside the image square, 0 outside.

    Returns complex ``(..., grid, grid)`` (complex128 for float64 input, else complex64).
    """
    if images.is_complex():
        raise ValueError("images must be real")
    _check_image_tensor(images, "images")
    grid, size = int(grid), int(size)
    if size < 1 or grid < size:
        raise ValueError(f"need 1 <= size <= grid, got size={size}, grid={grid}")
    if mode not in ("amplitude", "phase"):
        raise ValueError(f"mode must be 'amplitude' or 'phase', got {mode!r}")
    if interpolation not in ("bilinear", "area"):
        raise ValueError(f"interpolation must be 'bilinear' or 'area', got {interpolation!r}")
    real_dtype = images.dtype if images.dtype == torch.float64 else torch.float32
    h, w = images.shape[-2:]
    batch_shape = images.shape[:-2]
    flat = images.to(real_dtype).reshape(-1, 1, h, w)
    if (h, w) != (size, size):
        if interpolation == "bilinear":
            flat = F.interpolate(
                flat, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        else:
            flat = F.interpolate(flat, size=(size, size), mode="area")
    flat = flat[:, 0]
    if mode == "amplitude":
        inner = torch.complex(flat, torch.zeros_like(flat))
    else:
        inner = torch.polar(torch.ones_like(flat), math.pi * flat)
    before = (grid - size) // 2
    after = grid - size - before
    field = F.pad(inner, (before, after, before, after))
    return field.reshape(*batch_shape, grid, grid)
