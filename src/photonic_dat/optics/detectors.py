"""Detection: intensity, detector-region layouts, region integration and detector noise.

Intensities are ``|field|^2`` in arbitrary detector units (a field of amplitude 1 gives
intensity 1). Detector layouts are boolean masks on the output-plane pixel grid. The detector
model (:func:`camera_counts`: fixed exposure, shot and read noise, dark offset, ADC,
saturation) is shared by the diffractive and the interference PNN.
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor

__all__ = [
    "camera_counts",
    "counts_to_irradiance",
    "detector_layout",
    "integrate_regions",
    "intensity",
]


def intensity(field: Tensor) -> Tensor:
    """Intensity ``|field|^2`` (real, same shape), in detector units."""
    if field.is_complex():
        return field.real.square() + field.imag.square()
    return field.square()


# --------------------------------------------------------------------------- layouts


def _row_layout_origins(
    grid: int, row_counts: list[int], region_size: int, gap: int
) -> list[tuple[int, int]]:
    """Top-left corners of square regions arranged in centred rows."""
    n_rows = len(row_counts)
    height = n_rows * region_size + (n_rows - 1) * gap
    width = max(row_counts) * region_size + (max(row_counts) - 1) * gap
    if height > grid or width > grid:
        raise ValueError(
            f"detector regions do not fit: layout needs {height}x{width} pixels "
            f"(region_size={region_size}, gap={gap}) but grid is {grid}x{grid}"
        )
    top = (grid - height) // 2
    origins = []
    for r, count in enumerate(row_counts):
        row_width = count * region_size + (count - 1) * gap
        left = (grid - row_width) // 2
        y0 = top + r * (region_size + gap)
        for c in range(count):
            origins.append((y0, left + c * (region_size + gap)))
    return origins


def _ring_origins(
    grid: int, num_classes: int, region_size: int, radius: float | None
) -> list[tuple[int, int]]:
    """Top-left corners of square regions centred on a circle around the grid centre."""
    if radius is None:
        radius = grid / 2 - region_size
    centre = (grid - 1) / 2
    origins = []
    for k in range(num_classes):
        theta = 2.0 * math.pi * k / num_classes - math.pi / 2  # first region at the top
        cy = centre + radius * math.sin(theta)
        cx = centre + radius * math.cos(theta)
        origins.append((round(cy - (region_size - 1) / 2), round(cx - (region_size - 1) / 2)))
    return origins


def detector_layout(
    grid: int,
    num_classes: int = 10,
    region_size: int = 10,
    layout: str = "grid3-4-3",
    *,
    gap: int | None = None,
    ring_radius: float | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Boolean masks ``(num_classes, grid, grid)`` of square detector regions.

    Layouts (all centred on the grid, sizes in pixels):

    * ``"grid3-4-3"`` - the classic 10-class arrangement, rows of 3, 4 and 3 regions.
      Any ``"gridA-B-..."`` with row counts summing to ``num_classes`` works the same way.
    * ``"grid-RxC"`` (e.g. ``"grid-2x5"``) - ``R`` rows of ``C`` regions, ``R*C`` equal
      to ``num_classes``.
    * ``"ring"`` - regions centred on a circle of ``ring_radius`` pixels (default
      ``grid / 2 - region_size``), the first at the top, going clockwise.

    ``gap`` is the spacing between neighbouring regions in grid layouts (default
    ``region_size``). Raises ``ValueError`` when regions do not fit or overlap.
    """
    grid, num_classes, region_size = int(grid), int(num_classes), int(region_size)
    if grid < 1 or num_classes < 1 or region_size < 1:
        raise ValueError("grid, num_classes and region_size must be positive integers")
    gap = region_size if gap is None else int(gap)
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")

    rows_match = re.fullmatch(r"grid(\d+(?:-\d+)*)", layout)
    rxc_match = re.fullmatch(r"grid-(\d+)x(\d+)", layout)
    if rows_match:
        row_counts = [int(c) for c in rows_match.group(1).split("-")]
    elif rxc_match:
        row_counts = [int(rxc_match.group(2))] * int(rxc_match.group(1))
    elif layout == "ring":
        row_counts = []
    else:
        raise ValueError(
            f"unknown layout {layout!r}; use 'grid3-4-3', 'gridA-B-...', 'grid-RxC' or 'ring'"
        )

    if layout == "ring":
        origins = _ring_origins(grid, num_classes, region_size, ring_radius)
    else:
        if any(c < 1 for c in row_counts) or sum(row_counts) != num_classes:
            raise ValueError(
                f"layout {layout!r} has {sum(row_counts)} regions but num_classes={num_classes}"
            )
        origins = _row_layout_origins(grid, row_counts, region_size, gap)

    masks = torch.zeros(num_classes, grid, grid, dtype=torch.bool, device=device)
    for k, (y0, x0) in enumerate(origins):
        if y0 < 0 or x0 < 0 or y0 + region_size > grid or x0 + region_size > grid:
            raise ValueError(
                f"detector region {k} at ({y0}, {x0}) of size {region_size} "
                f"does not fit in a {grid}x{grid} grid"
            )
        masks[k, y0 : y0 + region_size, x0 : x0 + region_size] = True
    if bool((masks.sum(dim=0) > 1).any()):
        raise ValueError(f"detector regions overlap for layout {layout!r}")
    return masks


def integrate_regions(intensity_map: Tensor, masks: Tensor) -> Tensor:
    """Sum intensity ``(..., H, W)`` over each region mask ``(K, H, W)`` -> ``(..., K)``.

    Masks may be boolean or real weights; the sum is one matrix product.
    """
    if intensity_map.is_complex():
        raise ValueError("intensity_map must be real (use intensity(field) first)")
    if masks.ndim != 3 or intensity_map.shape[-2:] != masks.shape[-2:]:
        raise ValueError(
            f"masks must be (K, H, W) matching intensity (..., H, W); got "
            f"{tuple(masks.shape)} and {tuple(intensity_map.shape)}"
        )
    weights = masks.to(dtype=intensity_map.dtype, device=intensity_map.device)
    return intensity_map.flatten(-2) @ weights.flatten(-2).transpose(0, 1)


# --------------------------------------------------------------------------- noise


def camera_counts(
    irradiance: Tensor,
    generator: torch.Generator | None,
    *,
    full_scale: float,
    full_well: float,
    read_noise: float,
    adc_bits: int,
    offset: float | Tensor = 0.0,
) -> Tensor:
    """Digital counts of a linear detector (camera pixel or photodiode + ADC), any shape.

    ``irradiance`` (detector units, >= 0) is converted to expected photo-electrons by the
    exposure: ``full_scale`` irradiance fills the ``full_well`` (e-). Then, in order: shot
    noise (Poisson), read noise ``N(0, read_noise)`` e- rms, conversion to counts (the full
    well maps to the top code ``2**adc_bits - 1``), the dark offset ``offset`` (counts; a
    scalar black level or a per-pixel map: it lifts the signal so that read noise is not cut
    at zero), rounding, and clipping to ``[0, 2**adc_bits - 1]``: a pixel that receives more
    than about ``full_scale`` saturates at the top code. Returned as floats (exact integers).
    All randomness comes from ``generator``. No gradient: a detector is measured, not
    differentiated.
    """
    if irradiance.is_complex() or not irradiance.is_floating_point():
        raise ValueError("irradiance must be a real floating-point tensor")
    for name, value in (("full_scale", full_scale), ("full_well", full_well)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(read_noise) and read_noise >= 0):
        raise ValueError(f"read_noise must be >= 0, got {read_noise!r}")
    if not 1 <= int(adc_bits) <= 24:
        raise ValueError(f"adc_bits must be in [1, 24], got {adc_bits!r}")
    max_code = float(2 ** int(adc_bits) - 1)
    # the noise is drawn where the generator lives (a CPU stream: the same numbers whatever
    # device computes the light), then joins the irradiance on its device
    where = generator.device if generator is not None else irradiance.device
    with torch.no_grad():
        expected = irradiance.detach().clamp_min(0.0) * (full_well / full_scale)
        electrons = torch.poisson(expected.to(where), generator=generator)
        if read_noise > 0:
            noise = torch.randn(
                electrons.shape, generator=generator, dtype=electrons.dtype, device=where
            )
            electrons = electrons + read_noise * noise
        electrons = electrons.to(irradiance.device)
        counts = torch.round(electrons * (max_code / full_well) + offset)
        return counts.clamp_(0.0, max_code)


def counts_to_irradiance(
    counts: Tensor, dark: float | Tensor, *, full_scale: float, adc_bits: int
) -> Tensor:
    """Counts minus the measured dark level, in irradiance units (inverse of the exposure)."""
    max_code = float(2 ** int(adc_bits) - 1)
    return (counts - dark) * (full_scale / max_code)
