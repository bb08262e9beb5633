"""Tests of the diffractive-layer physics functions."""

from __future__ import annotations

import math

import pytest
import torch

from photonic_dat.optics.diffractive import (
    crosstalk_blur,
    embed_image,
    gaussian_illumination,
    modulator_response,
    parametrised_phase,
    phase_modulation,
    quantize_phase,
    rotate_small,
    shift_bilinear,
    shift_subpixel,
)

TWO_PI = 2 * math.pi


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def zero_filled_roll(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    out = torch.roll(x, shifts=(dy, dx), dims=(-2, -1)).clone()
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, dx:] = 0
    if dy > 0:
        out[..., :dy, :] = 0
    elif dy < 0:
        out[..., dy:, :] = 0
    return out


def test_phase_modulation_and_parametrised_phase():
    field = torch.full((4, 4), 2.0 + 0j, dtype=torch.complex128)
    phase = torch.full((4, 4), math.pi / 3, dtype=torch.float64)
    out = phase_modulation(field, phase)
    assert torch.allclose(out, 2 * torch.exp(1j * phase))
    raw = torch.linspace(-20, 20, 101, dtype=torch.float64, requires_grad=True)
    p = parametrised_phase(raw)
    assert float(p.detach().min()) >= 0 and float(p.detach().max()) < TWO_PI
    p.sum().backward()
    assert bool((raw.grad > 0).all())
    assert torch.allclose(
        parametrised_phase(torch.tensor([7.0]), mode="mod"), torch.tensor([7.0 - TWO_PI])
    )
    with pytest.raises(ValueError, match="mode"):
        parametrised_phase(raw, mode="bad")


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.complex64])
def test_fourier_whole_pixel_shift_is_roll(dtype):
    x = torch.randn(2, 12, 16, generator=_gen(), dtype=torch.float64).to(dtype)
    out = shift_subpixel(x, 3, -2)
    assert out.dtype == dtype
    tol = 1e-5 if dtype == torch.complex64 else 1e-12
    assert torch.allclose(out, torch.roll(x, shifts=(-2, 3), dims=(-2, -1)), atol=tol)


def test_fourier_half_shifts_compose_to_one_pixel():
    x = torch.randn(12, 16, generator=_gen(1), dtype=torch.complex128)
    twice = shift_subpixel(shift_subpixel(x, 0.5, 0.5), 0.5, 0.5)
    assert torch.allclose(twice, torch.roll(x, shifts=(1, 1), dims=(0, 1)), atol=1e-12)
    # Batched, differentiable shifts.
    dx = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    out = shift_subpixel(x.expand(2, 12, 16), dx, 0.0)
    assert torch.allclose(out[1], torch.roll(x, 1, dims=-1), atol=1e-12)
    out.abs().sum().backward()
    assert dx.grad is not None


def test_bilinear_shift():
    x = torch.randn(3, 10, 9, generator=_gen(2), dtype=torch.float64)
    assert torch.equal(shift_bilinear(x, 2, -3), zero_filled_roll(x, 2, -3))
    assert torch.equal(shift_bilinear(x, -1.0, 4.0), zero_filled_roll(x, -1, 4))
    assert torch.equal(shift_bilinear(x, 20, 0), torch.zeros_like(x))
    half = shift_bilinear(x, 0.5, 0.0)
    expected = 0.5 * (zero_filled_roll(x, 0, 0) + zero_filled_roll(x, 1, 0))
    assert torch.allclose(half, expected)
    # Complex input and a differentiable tensor shift.
    z = torch.randn(10, 9, generator=_gen(3), dtype=torch.complex128)
    dx = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    out = shift_bilinear(z, dx, 1)
    assert out.dtype == torch.complex128
    assert torch.allclose(out, 0.75 * zero_filled_roll(z, 0, 1) + 0.25 * zero_filled_roll(z, 1, 1))
    assert torch.autograd.gradcheck(lambda d: shift_bilinear(z, d, 1).abs(), (dx,))


def test_rotate_small():
    x = torch.randn(2, 11, 13, generator=_gen(4), dtype=torch.float64)
    assert torch.allclose(rotate_small(x, 0.0), x, atol=1e-12)
    # Quarter turn on a square grid is an exact pixel permutation.
    sq = torch.randn(9, 9, generator=_gen(5), dtype=torch.float64)
    quarter = rotate_small(sq, math.pi / 2)
    # +angle turns +x towards +y: content at (row r, col c) moves to (row c, col W-1-r).
    assert torch.allclose(quarter, torch.rot90(sq, k=-1), atol=1e-9)
    z = torch.randn(7, 7, generator=_gen(6), dtype=torch.complex128)
    out = rotate_small(z, 0.01)
    assert out.dtype == torch.complex128 and out.shape == (7, 7)


def test_quantize_phase_levels():
    ramp = torch.linspace(0, TWO_PI, 10001, dtype=torch.float64)[:-1]
    for levels in (2, 4, 8, 256):
        q = quantize_phase(ramp, levels)
        assert torch.unique(q).numel() == levels
        assert float(q.max()) < TWO_PI and float(q.min()) == 0.0
        assert float((q - ramp).abs().clamp_max(TWO_PI - (q - ramp).abs()).max()) <= (
            math.pi / levels + 1e-12
        )
    # Wrapping: 2pi - tiny -> 0, negative phases wrap into [0, 2pi).
    q = quantize_phase(torch.tensor([TWO_PI - 1e-6, -math.pi / 2], dtype=torch.float64), 4)
    assert torch.allclose(q, torch.tensor([0.0, 3 * math.pi / 2], dtype=torch.float64))
    p = ramp[:50].clone().requires_grad_()
    quantize_phase(p, 8, straight_through=True).sum().backward()
    assert torch.equal(p.grad, torch.ones_like(p))
    st = quantize_phase(ramp, 8, straight_through=True)
    assert torch.equal(st, quantize_phase(ramp, 8))
    with pytest.raises(ValueError, match="levels"):
        quantize_phase(ramp, 1)


def test_modulator_response():
    phase = torch.linspace(0, TWO_PI, 33, dtype=torch.float64)[:-1]
    assert torch.equal(modulator_response(phase), phase)
    out = modulator_response(phase, gain=1.05, gamma=0.9)
    assert torch.allclose(out, TWO_PI * 1.05 * (phase / TWO_PI).clamp_min(1e-12) ** 0.9)
    g = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    p = phase.clone().requires_grad_()
    modulator_response(p, gain=1.0, gamma=g).sum().backward()
    assert torch.isfinite(p.grad).all() and torch.isfinite(g.grad)


def test_crosstalk_blur():
    phase = torch.rand(2, 16, 16, generator=_gen(7), dtype=torch.float64)
    assert crosstalk_blur(phase, 0.0) is phase
    const = torch.full((8, 8), 1.7, dtype=torch.float64)
    assert torch.allclose(crosstalk_blur(const, 0.7), const)  # normalised kernel
    delta = torch.zeros(21, 21, dtype=torch.float64)
    delta[10, 10] = 1.0
    blurred = crosstalk_blur(delta, 1.0)
    assert float(blurred.sum()) == pytest.approx(1.0, abs=1e-12)
    idx = torch.arange(21, dtype=torch.float64) - 10
    var_x = float((blurred.sum(0) * idx**2).sum())
    assert var_x == pytest.approx(1.0, rel=0.05)  # truncated at 3 sigma
    assert torch.allclose(blurred, blurred.T)
    sigma = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    small = phase[0, :6, :6]
    assert torch.autograd.gradcheck(lambda s: crosstalk_blur(small, s), (sigma,), fast_mode=True)
    with pytest.raises(ValueError, match="sigma"):
        crosstalk_blur(phase, -1.0)


def test_gaussian_illumination():
    pitch, waist, wl = 8e-6, 200e-6, 532e-9
    env = gaussian_illumination((64, 64), pitch, waist)
    assert env.dtype == torch.complex64
    assert float(env[32, 32].abs()) == pytest.approx(1.0)
    r = 25 * pitch
    assert float(env[32, 57].abs()) == pytest.approx(math.exp(-(r**2) / waist**2), rel=1e-5)
    tilted = gaussian_illumination((64, 64), pitch, math.inf, 1e-3, 0.0, wavelength=wl)
    assert torch.allclose(tilted.abs(), torch.ones(64, 64))
    step = torch.angle(tilted[:, 1:] * tilted[:, :-1].conj())
    assert torch.allclose(step, torch.full_like(step, 2 * math.pi / wl * math.sin(1e-3) * pitch))
    with pytest.raises(ValueError, match="wavelength"):
        gaussian_illumination((8, 8), pitch, waist, 1e-3)


def test_embed_image():
    images = torch.rand(3, 28, 28, generator=_gen(8))
    amp = embed_image(images, grid=64, size=28)
    assert amp.shape == (3, 64, 64) and amp.dtype == torch.complex64
    assert torch.equal(amp[:, 18:46, 18:46].real, images)
    assert float(amp[:, :18].abs().max()) == 0.0 and float(amp[:, 46:].abs().max()) == 0.0
    resized = embed_image(images, grid=64, size=40)
    assert float(resized.abs()[:, 12:52, 12:52].sum()) > 0
    assert float(resized.abs()[:, :12].sum()) == 0.0
    ph = embed_image(images, grid=64, size=28, mode="phase")
    assert torch.allclose(ph[:, 18:46, 18:46].abs(), torch.ones(3, 28, 28))
    assert torch.allclose(torch.angle(ph[:, 18:46, 18:46]), math.pi * images, atol=1e-5)
    assert float(ph[:, :18].abs().max()) == 0.0
    area = embed_image(torch.ones(1, 56, 56), grid=32, size=28, interpolation="area")
    assert torch.allclose(area[0, 2:30, 2:30].real, torch.ones(28, 28))
    with pytest.raises(ValueError, match="size"):
        embed_image(images, grid=20, size=28)
