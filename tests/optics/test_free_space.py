"""Analytic checks of the band-limited angular spectrum propagation."""

from __future__ import annotations

import math

import pytest
import torch

from photonic_dat.optics.diffractive import phase_modulation
from photonic_dat.optics.free_space import (
    angular_spectrum_transfer,
    band_limit_frequencies,
    clear_transfer_cache,
    crop_center,
    pad_center,
    padded_shape,
    propagate,
    propagate_padded,
    spatial_coordinates,
    transfer_function,
)

WL = 532e-9
PITCH = 8e-6
W0 = 100e-6
Z_R = math.pi * W0**2 / WL  # Rayleigh range, ~5.9 cm


def gaussian(n: int, w0: float = W0, dtype=torch.complex128) -> torch.Tensor:
    yy, xx = spatial_coordinates((n, n), PITCH)
    return torch.exp(-(xx**2 + yy**2) / w0**2).to(dtype)


def second_moment_radius(field: torch.Tensor) -> float:
    """1/e^2 intensity radius from the second moment, w = 2 sqrt(<x^2>)."""
    n = field.shape[-1]
    _, xx = spatial_coordinates((n, n), PITCH)
    inten = field.abs() ** 2
    return 2.0 * math.sqrt(float((xx**2 * inten).sum() / inten.sum()))


def test_plane_wave_gets_exp_ikz():
    z = 0.123456
    field = torch.ones(2, 32, 32, dtype=torch.complex128)
    out = propagate(field, PITCH, WL, z, pad_factor=1.0, band_limit=True, method="angular-spectrum")
    expected_phase = (2 * math.pi * z / WL) % (2 * math.pi)
    expected = torch.full_like(field, complex(math.cos(expected_phase), math.sin(expected_phase)))
    assert torch.allclose(out.abs(), torch.ones(2, 32, 32, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(out, expected, atol=1e-9)


@pytest.mark.parametrize("z", [0.05, Z_R])
def test_gaussian_beam_spreading(z):
    field = gaussian(128)
    out = propagate(field, PITCH, WL, z, pad_factor=2.0)
    w_expected = W0 * math.sqrt(1 + (z / Z_R) ** 2)
    assert second_moment_radius(out) == pytest.approx(w_expected, rel=0.01)
    peak = float(out[64, 64].abs())
    assert peak == pytest.approx(W0 / w_expected, rel=0.01)  # 2-D beam: A0 w0 / w(z)
    # Gouy phase: on-axis phase relative to the plane wave is -atan(z / z_R).
    rel = out[64, 64] * complex(math.cos(-2 * math.pi * z / WL), math.sin(-2 * math.pi * z / WL))
    assert math.atan2(rel.imag, rel.real) == pytest.approx(-math.atan(z / Z_R), abs=0.01)


def test_energy_conservation():
    field = gaussian(128)
    out = propagate(field, PITCH, WL, 0.04, pad_factor=2.0)
    e_in = float((field.abs() ** 2).sum())
    e_out = float((out.abs() ** 2).sum())
    assert abs(e_out - e_in) / e_in < 1e-4


def test_semigroup_on_padded_grid():
    big = padded_shape((64, 64), 2.0)
    field = pad_center(gaussian(64, w0=60e-6), big)
    z1, z2 = 0.013, 0.021
    two_step = propagate_padded(propagate_padded(field, PITCH, WL, z1), PITCH, WL, z2)
    one_step = propagate_padded(field, PITCH, WL, z1 + z2)
    err = (two_step - one_step).norm() / one_step.norm()
    assert float(err) < 1e-3
    assert crop_center(one_step, (64, 64)).shape == (64, 64)


def test_band_limit_mask_is_exact():
    shape, z = (96, 128), 1.0  # rectangular: per-axis du
    h = angular_spectrum_transfer(shape, PITCH, WL, z, band_limit=True, dtype=torch.complex128)
    fy = torch.fft.fftfreq(shape[0], d=PITCH, dtype=torch.float64)
    fx = torch.fft.fftfreq(shape[1], d=PITCH, dtype=torch.float64)
    fy_max = 1 / (WL * math.sqrt((2 * z / (shape[0] * PITCH)) ** 2 + 1))
    fx_max = 1 / (WL * math.sqrt((2 * z / (shape[1] * PITCH)) ** 2 + 1))
    assert band_limit_frequencies(shape, PITCH, WL, z) == pytest.approx((fy_max, fx_max))
    expected = (fy.abs() <= fy_max)[:, None] & (fx.abs() <= fx_max)[None, :]
    assert 0 < int(expected.sum()) < expected.numel()
    assert torch.equal(h.abs() > 0.5, expected)
    assert torch.allclose(h.abs()[expected], torch.ones(()).double())
    assert torch.all(h[~expected] == 0)
    # Negative distance uses |z| for the limit and conjugates the transfer function.
    h_back = angular_spectrum_transfer(shape, PITCH, WL, -z, dtype=torch.complex128)
    assert torch.allclose(h_back, h.conj())


def test_evanescent_components_removed_without_band_limit():
    pitch = 0.2e-6  # Nyquist 2.5e6 cycles/m > 1/lambda: evanescent waves exist
    h = angular_spectrum_transfer((32, 32), pitch, WL, 1e-6, band_limit=False)
    f = torch.fft.fftfreq(32, d=pitch, dtype=torch.float64)
    prop = (f[:, None] ** 2 + f[None, :] ** 2) <= 1 / WL**2
    assert torch.all(h[~prop] == 0)
    assert torch.allclose(h.abs()[prop], torch.ones(()))
    assert h.dtype == torch.complex64


def test_transfer_cache_keyed_by_exact_distance():
    clear_transfer_cache()
    a = transfer_function((16, 16), PITCH, WL, 0.01)
    b = transfer_function((16, 16), PITCH, WL, 0.01)
    c = transfer_function((16, 16), PITCH, WL, 0.01 + 1e-12)
    assert a is b
    assert c is not a
    info = transfer_function.cache_info()
    assert info.hits == 1 and info.misses == 2
    clear_transfer_cache()


def test_cached_transfer_usable_after_inference_mode():
    clear_transfer_cache()
    with torch.inference_mode():
        propagate(torch.ones(8, 8, dtype=torch.complex64), PITCH, WL, 0.02)
    field = torch.ones(8, 8, dtype=torch.complex64, requires_grad=True)
    propagate(field, PITCH, WL, 0.02).abs().sum().backward()
    assert field.grad is not None
    clear_transfer_cache()


def test_tensor_distance_matches_float_and_is_differentiable():
    field = gaussian(16, w0=30e-6)
    z = torch.tensor(0.004, dtype=torch.float64, requires_grad=True)
    out_t = propagate(field, PITCH, WL, z)
    out_f = propagate(field, PITCH, WL, 0.004, method="angular-spectrum")
    assert torch.allclose(out_t, out_f, atol=1e-12)
    # Batched distances broadcast against the batch dim.
    zs = torch.tensor([0.002, 0.004], dtype=torch.float64)
    out_b = propagate(field.expand(2, 16, 16), PITCH, WL, zs)
    assert torch.allclose(out_b[1], out_f, atol=1e-12)

    def f(dist):
        return propagate(field, PITCH, WL, dist * 1e-3).abs() ** 2

    assert torch.autograd.gradcheck(
        f, (torch.tensor(4.0, dtype=torch.float64, requires_grad=True),)
    )
    assert z.grad is None


def test_gradcheck_phase_mask_through_propagation():
    field = gaussian(8, w0=20e-6)

    def f(phase):
        return propagate(phase_modulation(field, phase), PITCH, WL, 0.002).abs() ** 2

    phase = torch.rand(8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.autograd.gradcheck(f, (phase.requires_grad_(),))


def test_pad_crop_roundtrip_and_validation():
    x = torch.randn(3, 5, 7, dtype=torch.complex64)
    big = padded_shape((5, 7), 1.5)
    assert big == (8, 11)
    assert padded_shape((100, 100), 1.1) == (110, 110)
    assert torch.equal(crop_center(pad_center(x, big), (5, 7)), x)
    with pytest.raises(ValueError, match="pitch"):
        propagate(x, -1.0, WL, 0.1)
    with pytest.raises(ValueError, match="wavelength"):
        propagate(x, PITCH, 0.0, 0.1)
    with pytest.raises(ValueError, match="pad_factor"):
        propagate(x, PITCH, WL, 0.1, pad_factor=0.5, method="angular-spectrum")
    with pytest.raises(ValueError, match="distance"):
        propagate(x, PITCH, WL, float("nan"))


def test_complex64_default_and_shapes():
    x = torch.ones(4, 20, 24)  # real input is promoted
    out = propagate(x, PITCH, WL, 0.01)
    assert out.shape == (4, 20, 24)
    assert out.dtype == torch.complex64


def test_convolution_method_is_exact_where_padding_by_two_is_not():
    # 8 um pixels over 5 cm: light spreads ~200 pixels, far beyond a 2x padded 64 grid.
    n, z = 64, 0.05
    g = torch.Generator().manual_seed(0)
    field = torch.zeros(1, n, n, dtype=torch.complex128)
    phase = 2 * math.pi * torch.rand(32, 32, generator=g, dtype=torch.float64)
    field[0, 16:48, 16:48] = torch.exp(1j * phase)
    reference = propagate(field, PITCH, WL, z, pad_factor=16, method="angular-spectrum")

    def error(out):
        return float((out - reference).norm() / reference.norm())

    assert error(propagate(field, PITCH, WL, z)) < 5e-3
    assert error(propagate(field, PITCH, WL, z, pad_factor=2, method="angular-spectrum")) > 5e-2


def test_convolution_method_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        propagate(torch.ones(4, 4, dtype=torch.complex64), PITCH, WL, 0.01, method="fresnel")
