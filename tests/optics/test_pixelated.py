import math

import pytest
import torch

from photonic_dat.optics.pixelated import (
    active_weights,
    move_mask,
    pixel_average,
    render_mask,
    upsample_nearest,
)


def _random_phase(n=12, seed=0):
    return torch.rand(n, n, generator=torch.Generator().manual_seed(seed)) * 2 * math.pi


def test_upsample_and_pixel_average_are_inverse():
    x = torch.rand(2, 5, 7)
    up = upsample_nearest(x, 3)
    assert up.shape == (2, 15, 21) and torch.equal(up[:, 3:6, 6:9], x[:, 1:2, 2:3].expand(2, 3, 3))
    assert torch.allclose(pixel_average(up, 3), x)
    with pytest.raises(ValueError, match="multiple"):
        pixel_average(torch.rand(10, 10), 3)


def test_fill_factor_weights_cover_the_active_area():
    for s in (1, 3, 4, 8):
        w = active_weights(s, 0.81)  # active side 0.9 pixel
        assert float(w.sum()) / s == pytest.approx(0.9)
        assert float(w.min()) >= 0 and float(w.max()) <= 1
    assert torch.equal(active_weights(4, 1.0), torch.ones(4, dtype=torch.float64))


def test_rendered_mask_is_phase_only_and_leaves_zero_order_light():
    phase = _random_phase()
    for fill, fringing in ((1.0, 0.0), (0.9, 0.0), (0.9, 1.5)):
        t = render_mask(phase, 4, fill_factor=fill, fringing_samples=fringing)
        assert t.shape == (48, 48)
        assert torch.allclose(t.abs(), torch.ones(48, 48), atol=1e-6)
    # a blazed grating of period 4 pixels: a dead border between pixels sends light into the
    # undiffracted zero order (what a lab sees as the SLM's zero-order spot)
    ramp = (torch.arange(16) % 4) * (math.pi / 2)
    grating = ramp.repeat(16, 1)

    def zero_order(fill: float) -> float:
        t = render_mask(grating, 8, fill_factor=fill)
        return float(t.mean().abs() ** 2)

    assert zero_order(1.0) < 1e-6 < 0.01 < zero_order(0.85)


def test_moving_a_mask_absorbs_nothing_and_whole_pixels_are_a_roll():
    t = render_mask(_random_phase(), 4)
    for dx, dy, rot in ((0.4, 0.0, 0.0), (1.0, 2.0, 0.0), (2.0, -1.0, 0.0), (0.3, 1.7, 1e-3)):
        moved = move_mask(t, dx, dy, rot)
        assert torch.allclose(moved.abs(), torch.ones_like(moved.abs()), atol=1e-6)
    rolled = torch.roll(t, shifts=(-4, 8), dims=(-2, -1))  # one pixel = 4 samples
    rolled[:, :8] = 1
    rolled[-4:, :] = 1
    assert torch.allclose(move_mask(t, 8.0, -4.0), rolled, atol=1e-6)
