"""Scalar free-space propagation by the band-limited angular spectrum method.

All lengths are in metres, phases in radians and frequencies in cycles per metre.
Fields are complex tensors whose last two dimensions are ``(H, W)`` = (rows, columns) =
(y, x); leading dimensions are batch dimensions. The time convention is ``exp(-i w t)``,
so a plane wave travelling towards ``+z`` picks up the phase ``exp(+i k z)``.

Reference: K. Matsushima and T. Shimobaba, "Band-limited angular spectrum method for
numerical simulation of free-space propagation in far and near fields", Opt. Express 17,
19662 (2009).

Two ways to propagate an ``H x W`` aperture field:

* ``method="convolution"`` (default): an exact *linear* convolution of the field with the
  band-limited impulse response. The impulse response is computed once (cached) by the
  angular spectrum method on a grid large enough to hold its whole geometric spread (set by
  the largest angle the pixel pitch supports, ``sin = wavelength / (2 pitch)``), cut to the
  ``(2H - 1) x (2W - 1)`` offsets that connect two aperture pixels, and applied with FFTs of
  size ``2H x 2W``. Same cost per call as angular spectrum with ``pad_factor = 2``, but no
  wrap-around and no band-limit truncation when the light spreads further than the padding
  (e.g. 8 um pixels over 5 cm spread about 200 pixels).
* ``method="angular-spectrum"``: zero-pad by ``pad_factor``, multiply by the band-limited
  transfer function, crop. Needed for a differentiable (tensor) distance.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "angular_spectrum_transfer",
    "band_limit_frequencies",
    "clear_transfer_cache",
    "convolution_transfer",
    "crop_center",
    "pad_center",
    "padded_shape",
    "propagate",
    "propagate_padded",
    "spatial_coordinates",
    "transfer_function",
]

_TRANSFER_CACHE_SIZE = 32


# --------------------------------------------------------------------------- validation


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"shape must be a (H, W) pair, got {shape!r}")
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1 or h != shape[0] or w != shape[1]:
        raise ValueError(f"shape must contain positive integers, got {shape!r}")
    return h, w


def _check_distance(distance: float | Tensor) -> None:
    if isinstance(distance, Tensor):
        if distance.is_complex():
            raise ValueError("distance must be real")
        if not bool(torch.isfinite(distance.detach()).all()):
            raise ValueError("distance must be finite")
    elif not math.isfinite(float(distance)):
        raise ValueError(f"distance must be finite, got {distance!r}")


def _check_field(field: Tensor) -> None:
    if field.ndim < 2:
        raise ValueError(f"field must have shape (..., H, W), got {tuple(field.shape)}")


def _complex_dtype_for(t: Tensor) -> torch.dtype:
    if t.is_complex():
        return t.dtype
    return torch.complex128 if t.dtype == torch.float64 else torch.complex64


# --------------------------------------------------------------------------- grids


def padded_shape(shape: tuple[int, int], pad_factor: float) -> tuple[int, int]:
    """Padded grid size ``ceil(pad_factor * N)`` per axis (``pad_factor >= 1``)."""
    h, w = _check_shape(shape)
    pad_factor = float(pad_factor)
    if not math.isfinite(pad_factor) or pad_factor < 1.0:
        raise ValueError(f"pad_factor must be >= 1, got {pad_factor!r}")
    # round() guards against e.g. 1.1 * 100 = 110.00000000000001 -> 111.
    return (math.ceil(round(pad_factor * h, 9)), math.ceil(round(pad_factor * w, 9)))


def _pad_offsets(n: int, n_padded: int) -> tuple[int, int]:
    before = (n_padded - n) // 2
    return before, n_padded - n - before


def pad_center(field: Tensor, shape: tuple[int, int]) -> Tensor:
    """Zero-pad the last two dims of ``field`` to ``shape``, keeping it centred.

    The padding is split as ``before = (P - N) // 2`` and ``after = P - N - before``;
    :func:`crop_center` uses the same split, so ``crop_center(pad_center(u, s), u.shape)``
    returns ``u`` exactly.
    """
    _check_field(field)
    hp, wp = _check_shape(shape)
    h, w = field.shape[-2:]
    if hp < h or wp < w:
        raise ValueError(f"cannot pad {(h, w)} to the smaller shape {(hp, wp)}")
    top, bottom = _pad_offsets(h, hp)
    left, right = _pad_offsets(w, wp)
    if top == bottom == left == right == 0:
        return field
    return F.pad(field, (left, right, top, bottom))


def crop_center(field: Tensor, shape: tuple[int, int]) -> Tensor:
    """Crop the last two dims of ``field`` to ``shape`` (inverse of :func:`pad_center`)."""
    _check_field(field)
    h, w = _check_shape(shape)
    hp, wp = field.shape[-2:]
    if hp < h or wp < w:
        raise ValueError(f"cannot crop {(hp, wp)} to the larger shape {(h, w)}")
    top, _ = _pad_offsets(h, hp)
    left, _ = _pad_offsets(w, wp)
    return field[..., top : top + h, left : left + w]


def spatial_coordinates(
    shape: tuple[int, int],
    pitch: float,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates ``(y, x)`` in metres as two ``(H, W)`` grids.

    Pixel index ``N // 2`` sits at coordinate 0 along each axis (the same origin as
    ``torch.fft.fftshift``), so a centred beam has a pixel exactly on its axis.
    """
    h, w = _check_shape(shape)
    pitch = _check_positive("pitch", pitch)
    y = (torch.arange(h, dtype=torch.float64, device=device) - h // 2) * pitch
    x = (torch.arange(w, dtype=torch.float64, device=device) - w // 2) * pitch
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return yy.to(dtype), xx.to(dtype)


def band_limit_frequencies(
    shape: tuple[int, int], pitch: float, wavelength: float, distance: float
) -> tuple[float, float]:
    """Band limits ``(fy_max, fx_max)`` in cycles/m for a grid of ``shape`` (the padded grid).

    ``f_max = 1 / (wavelength * sqrt((2 * du * |z|)**2 + 1))`` with ``du = 1 / (N * pitch)``
    (Matsushima & Shimobaba 2009, eq. 13). Frequencies with ``|f| <= f_max`` are kept.
    """
    h, w = _check_shape(shape)
    pitch = _check_positive("pitch", pitch)
    wavelength = _check_positive("wavelength", wavelength)
    z = abs(float(distance))
    limits = []
    for n in (h, w):
        du = 1.0 / (n * pitch)
        limits.append(1.0 / (wavelength * math.sqrt((2.0 * du * z) ** 2 + 1.0)))
    return limits[0], limits[1]


# --------------------------------------------------------------------------- transfer function


def angular_spectrum_transfer(
    shape: tuple[int, int],
    pitch: float,
    wavelength: float,
    distance: float | Tensor,
    *,
    band_limit: bool = True,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Angular-spectrum transfer function ``H(fy, fx)`` in FFT (unshifted) order.

    ``H = exp(i 2 pi z sqrt(1/lambda^2 - fx^2 - fy^2))`` for propagating components and
    0 for evanescent ones (``fx^2 + fy^2 > 1/lambda^2``). With ``band_limit`` the
    rectangular mask ``|fx| <= fx_max, |fy| <= fy_max`` of :func:`band_limit_frequencies`
    is applied as well. ``shape`` is the (padded) grid the FFT is taken on, ``pitch`` the
    sampling interval in m, ``wavelength`` and ``distance`` in m (a negative distance
    back-propagates). The phase is computed in float64 and cast to ``dtype`` at the end.

    ``distance`` may be a real tensor (differentiable; any shape ``D``), in which case the
    result has shape ``(*D, H, W)``; for a Python float it has shape ``(H, W)``.
    """
    h, w = _check_shape(shape)
    pitch = _check_positive("pitch", pitch)
    wavelength = _check_positive("wavelength", wavelength)
    _check_distance(distance)
    if not dtype.is_complex:
        raise ValueError(f"dtype must be a complex dtype, got {dtype}")
    if isinstance(distance, Tensor) and device is None:
        device = distance.device

    fy = torch.fft.fftfreq(h, d=pitch, dtype=torch.float64, device=device)
    fx = torch.fft.fftfreq(w, d=pitch, dtype=torch.float64, device=device)
    fyy, fxx = torch.meshgrid(fy, fx, indexing="ij")
    arg = 1.0 / wavelength**2 - fxx**2 - fyy**2
    propagating = arg >= 0.0
    kz = 2.0 * math.pi * torch.sqrt(arg.clamp_min(0.0))  # rad/m

    if isinstance(distance, Tensor):
        z = distance.to(device=device, dtype=torch.float64)[..., None, None]
        phase = z * kz
        mask = propagating.expand(phase.shape)
        if band_limit:
            du_y, du_x = 1.0 / (h * pitch), 1.0 / (w * pitch)
            az = z.detach().abs()
            fy_max = 1.0 / (wavelength * torch.sqrt((2.0 * du_y * az) ** 2 + 1.0))
            fx_max = 1.0 / (wavelength * torch.sqrt((2.0 * du_x * az) ** 2 + 1.0))
            mask = mask & (fyy.abs() <= fy_max) & (fxx.abs() <= fx_max)
    else:
        phase = float(distance) * kz
        mask = propagating
        if band_limit:
            fy_max, fx_max = band_limit_frequencies((h, w), pitch, wavelength, float(distance))
            mask = mask & (fyy.abs() <= fy_max) & (fxx.abs() <= fx_max)

    transfer = torch.polar(mask.to(torch.float64), phase)
    return transfer.to(dtype)


@functools.lru_cache(maxsize=_TRANSFER_CACHE_SIZE)
def _cached_transfer(
    shape: tuple[int, int],
    pitch: float,
    wavelength: float,
    distance: float,
    band_limit: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    # Built outside inference mode / autograd so that the cached tensor can be used by
    # any later caller, including ones that record a graph.
    with torch.inference_mode(False), torch.no_grad():
        return angular_spectrum_transfer(
            shape, pitch, wavelength, distance, band_limit=band_limit, dtype=dtype, device=device
        )


def transfer_function(
    shape: tuple[int, int],
    pitch: float,
    wavelength: float,
    distance: float,
    *,
    band_limit: bool = True,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Cached :func:`angular_spectrum_transfer` for a Python-float ``distance``.

    Results live in an LRU cache (``functools.lru_cache``, at most 32 entries) keyed by
    ``(shape, pitch, wavelength, distance, band_limit, dtype, device)`` with the exact
    float values, so perturbed distances (error realisations) get their own entries and
    never reuse a neighbour's transfer function. The returned tensor is shared between
    callers: do not modify it in place. :func:`clear_transfer_cache` empties the cache.
    """
    key_shape = _check_shape(shape)
    key_device = torch.device(device) if device is not None else torch.device("cpu")
    if key_device.type == "cuda" and key_device.index is None:
        key_device = torch.device("cuda", torch.cuda.current_device())
    return _cached_transfer(
        key_shape,
        float(pitch),
        float(wavelength),
        float(distance),
        bool(band_limit),
        dtype,
        key_device,
    )


def clear_transfer_cache() -> None:
    """Empty the LRU caches behind :func:`transfer_function` and :func:`convolution_transfer`."""
    _cached_transfer.cache_clear()
    _cached_convolution_transfer.cache_clear()


transfer_function.cache_info = _cached_transfer.cache_info  # type: ignore[attr-defined]
transfer_function.cache_clear = _cached_transfer.cache_clear  # type: ignore[attr-defined]


def spread_pixels(pitch: float, wavelength: float, distance: float) -> int:
    """Lateral reach (pixels) of light over ``distance`` at the largest angle a grid of
    ``pitch`` samples, ``sin(theta) = wavelength / (2 pitch)`` (capped at 89 degrees)."""
    sin_max = min(wavelength / (2 * pitch), math.sin(math.radians(89)))
    return math.ceil(abs(distance) * sin_max / math.sqrt(1 - sin_max**2) / pitch)


def _next_fast_size(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


@functools.lru_cache(maxsize=_TRANSFER_CACHE_SIZE)
def _cached_convolution_transfer(
    shape: tuple[int, int],
    pitch: float,
    wavelength: float,
    distance: float,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    h, w = shape
    reach = spread_pixels(pitch, wavelength, distance)
    big = (_next_fast_size(2 * h + 2 * reach + 16), _next_fast_size(2 * w + 2 * reach + 16))
    with torch.inference_mode(False), torch.no_grad():
        transfer = angular_spectrum_transfer(
            big, pitch, wavelength, distance, band_limit=True, dtype=torch.complex128
        )
        impulse = torch.fft.ifft2(transfer)
        dy = torch.arange(-(h - 1), h)
        dx = torch.arange(-(w - 1), w)
        kernel = torch.zeros(2 * h, 2 * w, dtype=torch.complex128)
        kernel[(dy % (2 * h))[:, None], (dx % (2 * w))[None, :]] = impulse[
            (dy % big[0])[:, None], (dx % big[1])[None, :]
        ]
        return torch.fft.fft2(kernel).to(dtype=dtype, device=device)


def convolution_transfer(
    shape: tuple[int, int],
    pitch: float,
    wavelength: float,
    distance: float,
    *,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Fourier transform, on a ``(2H, 2W)`` grid, of the band-limited impulse response cut to
    the offsets between two pixels of an ``H x W`` aperture (cached like
    :func:`transfer_function`). Multiplying the FFT of the aperture field placed at the
    top-left of that grid gives the exact linear convolution."""
    key_device = torch.device(device) if device is not None else torch.device("cpu")
    return _cached_convolution_transfer(
        _check_shape(shape),
        _check_positive("pitch", pitch),
        _check_positive("wavelength", wavelength),
        float(distance),
        dtype,
        key_device,
    )


# --------------------------------------------------------------------------- propagation


def propagate_padded(
    field: Tensor,
    pitch: float,
    wavelength: float,
    distance: float | Tensor,
    *,
    band_limit: bool = True,
) -> Tensor:
    """Propagate ``field (..., H, W)`` on its own grid (periodic, no padding or cropping).

    Use this to chain several propagations on one padded grid (pad once with
    :func:`pad_center`, crop once with :func:`crop_center`). A float ``distance`` uses the
    cached :func:`transfer_function`; a tensor ``distance`` (shape broadcastable against
    the batch dims ``...``) is differentiable. Differentiable w.r.t. ``field``.
    """
    _check_field(field)
    pitch = _check_positive("pitch", pitch)
    wavelength = _check_positive("wavelength", wavelength)
    _check_distance(distance)
    dtype = _complex_dtype_for(field)
    field = field.to(dtype)
    shape = (field.shape[-2], field.shape[-1])
    if isinstance(distance, Tensor):
        transfer = angular_spectrum_transfer(
            shape,
            pitch,
            wavelength,
            distance,
            band_limit=band_limit,
            dtype=dtype,
            device=field.device,
        )
    else:
        transfer = transfer_function(
            shape,
            pitch,
            wavelength,
            float(distance),
            band_limit=band_limit,
            dtype=dtype,
            device=field.device,
        )
    spectrum = torch.fft.fft2(field)
    return torch.fft.ifft2(spectrum * transfer)


def propagate(
    field: Tensor,
    pitch: float,
    wavelength: float,
    distance: float | Tensor,
    *,
    pad_factor: float = 2.0,
    band_limit: bool = True,
    method: str = "convolution",
) -> Tensor:
    """Propagate ``field (..., H, W)`` over ``distance`` m; returns ``(..., H, W)``.

    ``method="convolution"`` (default, float distances): exact linear convolution with the
    band-limited impulse response (see the module docstring); ``pad_factor`` and
    ``band_limit`` are then not used. ``method="angular-spectrum"``: the field is zero-padded
    (centred) to ``ceil(pad_factor * N)`` per axis, multiplied in the Fourier domain by the
    band-limited angular-spectrum transfer function, and cropped back. ``pad_factor = 2``
    doubles each side length; ``pad_factor = 1`` gives periodic propagation.
    ``pitch`` and ``wavelength`` in m. A real field is promoted to complex.
    ``distance`` may be a real tensor (angular spectrum, see :func:`propagate_padded`) for
    gradients w.r.t. axial position.
    """
    _check_field(field)
    pitch = _check_positive("pitch", pitch)
    wavelength = _check_positive("wavelength", wavelength)
    if method not in ("convolution", "angular-spectrum"):
        raise ValueError(f"method must be 'convolution' or 'angular-spectrum', got {method!r}")
    shape = (field.shape[-2], field.shape[-1])
    if method == "convolution" and not isinstance(distance, Tensor):
        _check_distance(distance)
        dtype = _complex_dtype_for(field)
        transfer = convolution_transfer(
            shape, pitch, wavelength, float(distance), dtype=dtype, device=field.device
        )
        h, w = shape
        spectrum = torch.fft.fft2(field.to(dtype), s=(2 * h, 2 * w))
        return torch.fft.ifft2(spectrum * transfer)[..., :h, :w].contiguous()
    big = padded_shape(shape, pad_factor)
    padded = pad_center(field.to(_complex_dtype_for(field)), big)
    out = propagate_padded(padded, pitch, wavelength, distance, band_limit=band_limit)
    return crop_center(out, shape).contiguous()
