import math

import pytest
import torch

from photonic_dat.optics.activation import electro_optic_activation


def test_activation_matches_formula_and_loses_power(gen):
    x = torch.randn(5, 8, generator=gen, dtype=torch.complex128) * 3
    y = electro_optic_activation(x)
    phase = 0.5 * 0.05 * math.pi * x.abs() ** 2 + 0.5 * math.pi
    expected = math.sqrt(0.9) * torch.cos(phase) * torch.exp(-1j * phase) * x
    assert torch.allclose(y, expected)
    assert torch.all(y.abs() <= math.sqrt(0.9) * x.abs() + 1e-12)


def test_activation_gradient_matches_finite_differences(gen):
    x = torch.randn(3, 4, generator=gen, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: electro_optic_activation(z, gain=0.3), (x,))


def test_activation_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha"):
        electro_optic_activation(torch.ones(2, dtype=torch.complex64), alpha=1.0)
