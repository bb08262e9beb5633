"""The per-pixel map of the field SEPN: exact zero at start, and it captures what a CNN cannot."""

from __future__ import annotations

import math

import pytest
import torch

from photonic_dat.models.field_sepn import FieldSEPN, PixelMap, square_grid
from photonic_dat.models.sepn import build_sepn


def _fit(sepn: FieldSEPN, y: torch.Tensor, target: torch.Tensor, steps: int = 200) -> float:
    """Relative error of ``y + sepn(y)`` against ``target`` after Adam steps."""
    opt = torch.optim.Adam(sepn.parameters(), lr=2e-2)
    for _ in range(steps):
        loss = (y + sepn(y) - target).abs().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((y + sepn(y) - target).norm() / (y - target).norm())


def test_fresh_pixel_map_is_an_exact_zero_residual():
    sepn = FieldSEPN(build_sepn("unet", features=(4,)), (12, 12), pixel_map=True)
    field = torch.randn(3, 12, 12, dtype=torch.complex64)
    assert torch.equal(sepn(field), torch.zeros_like(field))
    assert sepn.pixel_map.weight.shape == (2, 12, 12)


def test_pixel_map_multiplies_each_pixel_by_its_complex_factor():
    pm = PixelMap((2, 3))
    with torch.no_grad():
        pm.weight[0] = torch.arange(6.0).reshape(2, 3)
        pm.weight[1] = 1.0
    z = torch.full((1, 2, 3), 1j, dtype=torch.complex64)
    expected = 1j * torch.complex(torch.arange(6.0).reshape(2, 3), torch.ones(2, 3))
    torch.testing.assert_close(pm(z)[0], expected)


def test_pixel_map_on_port_vectors_uses_the_square_grid():
    sepn = FieldSEPN(build_sepn("unet", features=(4,)), (16,), pixel_map=True)
    assert square_grid((16,)) == (4, 4)
    assert sepn(torch.randn(2, 16, dtype=torch.complex64)).shape == (2, 16)


def test_misaligned_mask_is_learnt_only_with_the_pixel_map():
    """A mask displayed half a pixel off multiplies the field by a fixed, position-dependent
    phase pattern: a translation-equivariant CNN cannot fit it, the pixel map can."""
    torch.manual_seed(0)
    n = 16
    phase = 2 * math.pi * torch.rand(n, n)
    shifted = 0.5 * (phase + torch.roll(phase, 1, dims=1))  # blurred half-pixel shift
    y = torch.randn(64, n, n, dtype=torch.complex64)
    target = y * torch.polar(torch.ones(n, n), shifted - phase)
    cnn_only = _fit(FieldSEPN(build_sepn("unet", features=(4, 8)), (n, n)), y, target)
    torch.manual_seed(0)
    with_map = _fit(FieldSEPN(build_sepn("unet", features=(4, 8)), (n, n), True), y, target)
    assert cnn_only > 0.5, cnn_only  # at best the mean phase factor
    assert with_map < 0.1 * cnn_only, (with_map, cnn_only)


@pytest.mark.parametrize("pixel_map", [False, True])
def test_state_dict_round_trip(pixel_map):
    a = FieldSEPN(build_sepn("unet", features=(4,)), (8, 8), pixel_map)
    b = FieldSEPN(build_sepn("unet", features=(4,)), (8, 8), pixel_map)
    with torch.no_grad():
        for p in a.parameters():
            p.normal_()
    b.load_state_dict(a.state_dict())
    z = torch.randn(2, 8, 8, dtype=torch.complex64)
    torch.testing.assert_close(a(z), b(z))
