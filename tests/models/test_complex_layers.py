"""Tests for the complex convolution layers."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from photonic_dat.models.complex_layers import (
    ComplexConv2d,
    ComplexConvTranspose2d,
    complex_relu,
    from_stacked,
    to_stacked,
)


def _randc(*shape: int, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype)


def _randomise_bias(layer: torch.nn.Module) -> None:
    with torch.no_grad():
        layer.bias_real.normal_()
        layer.bias_imag.normal_()


def _naive_conv(layer: ComplexConv2d, z: torch.Tensor) -> torch.Tensor:
    """Reference: four real convolutions plus the complex bias."""
    wr, wi = layer.weight_real, layer.weight_imag
    kw = {"stride": layer.stride, "padding": layer.padding}
    real = F.conv2d(z.real, wr, **kw) - F.conv2d(z.imag, wi, **kw)
    imag = F.conv2d(z.real, wi, **kw) + F.conv2d(z.imag, wr, **kw)
    real = real + layer.bias_real[:, None, None]
    imag = imag + layer.bias_imag[:, None, None]
    return torch.complex(real, imag)


def _naive_conv_transpose(layer: ComplexConvTranspose2d, z: torch.Tensor) -> torch.Tensor:
    wr, wi = layer.weight_real, layer.weight_imag
    kw = {"stride": layer.stride, "padding": layer.padding}
    real = F.conv_transpose2d(z.real, wr, **kw) - F.conv_transpose2d(z.imag, wi, **kw)
    imag = F.conv_transpose2d(z.real, wi, **kw) + F.conv_transpose2d(z.imag, wr, **kw)
    real = real + layer.bias_real[:, None, None]
    imag = imag + layer.bias_imag[:, None, None]
    return torch.complex(real, imag)


@pytest.mark.parametrize(("kernel", "stride", "size"), [(3, 1, 8), (1, 1, 5), (3, 2, 8), (5, 2, 7)])
def test_conv_matches_naive_complex_convolution(kernel: int, stride: int, size: int) -> None:
    torch.manual_seed(0)
    layer = ComplexConv2d(3, 5, kernel, stride=stride)
    _randomise_bias(layer)
    z = _randc(4, 3, size, size)
    out = layer(z)
    ref = _naive_conv(layer, z)
    assert out.shape == ref.shape
    assert out.dtype == torch.complex64
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_conv_matches_native_complex_kernel() -> None:
    """Independent reference: y = sum over taps of W * x with complex arithmetic."""
    torch.manual_seed(1)
    layer = ComplexConv2d(2, 3, 3, bias=False)
    z = _randc(2, 2, 6, 6)
    cols = F.unfold(z.real, 3, padding=1) + 1j * F.unfold(z.imag, 3, padding=1)
    ref = (layer.weight.detach().reshape(3, -1).to(cols.dtype) @ cols).reshape(2, 3, 6, 6)
    torch.testing.assert_close(layer(z).detach(), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_same_padding_shapes() -> None:
    z = _randc(2, 1, 9, 10)
    assert ComplexConv2d(1, 4, 3)(z).shape == (2, 4, 9, 10)
    assert ComplexConv2d(1, 4, 2)(z).shape == (2, 4, 9, 10)  # even kernel, stride 1
    assert ComplexConv2d(1, 4, 3, stride=2)(z).shape == (2, 4, 5, 5)  # ceil(H / 2)
    assert ComplexConv2d(1, 4, 3, padding=0)(z).shape == (2, 4, 7, 8)
    with pytest.raises(ValueError):
        ComplexConv2d(1, 4, 3, padding="valid")


def test_conv_transpose_matches_naive_and_upsamples() -> None:
    torch.manual_seed(2)
    layer = ComplexConvTranspose2d(4, 3)  # 2x2 kernel, stride 2
    _randomise_bias(layer)
    z = _randc(2, 4, 3, 5)
    out = layer(z)
    assert out.shape == (2, 3, 6, 10)
    torch.testing.assert_close(out, _naive_conv_transpose(layer, z), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [ComplexConv2d, ComplexConvTranspose2d])
def test_complex_linearity_without_bias(cls: type) -> None:
    torch.manual_seed(3)
    layer = cls(2, 3, 3, stride=2, bias=False) if cls is ComplexConv2d else cls(2, 3, bias=False)
    x, y = _randc(2, 2, 6, 6), _randc(2, 2, 6, 6)
    a, b = torch.tensor(0.7 - 1.3j), torch.tensor(-0.2 + 0.5j)
    with torch.no_grad():
        torch.testing.assert_close(layer(a * x), a * layer(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            layer(a * x + b * y), a * layer(x) + b * layer(y), atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("cls", [ComplexConv2d, ComplexConvTranspose2d])
def test_gradcheck_float64(cls: type) -> None:
    torch.manual_seed(4)
    layer = (cls(2, 1, 3) if cls is ComplexConv2d else cls(1, 2)).double()
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(
        p.detach().clone().normal_().requires_grad_() for _, p in layer.named_parameters()
    )
    z = _randc(1, layer.in_channels, 3, 3, dtype=torch.complex128).requires_grad_()

    def fn(z: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return functional_call(layer, dict(zip(names, ps, strict=True)), (z,))

    assert torch.autograd.gradcheck(fn, (z, *params))
    assert torch.autograd.gradcheck(fn, (z, *params), fast_mode=True)


def test_follows_input_precision() -> None:
    torch.manual_seed(5)
    layer = ComplexConv2d(1, 2, 3)
    z = _randc(2, 1, 4, 4, dtype=torch.complex128)
    assert layer(z).dtype == torch.complex128
    ref = layer.double()(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Complex modules are a new feature ..."
        layer.to(torch.complex128)
    out = layer(z)
    assert out.dtype == torch.complex128
    torch.testing.assert_close(out, ref)


def test_complex_relu_and_stacking() -> None:
    z = torch.tensor([[1.0 - 2.0j, -3.0 + 4.0j]])
    torch.testing.assert_close(complex_relu(z), torch.tensor([[1.0 + 0.0j, 0.0 + 4.0j]]))
    w = _randc(2, 3, 4, 5)
    s = to_stacked(w)
    assert s.shape == (2, 6, 4, 5) and not s.is_complex()
    torch.testing.assert_close(from_stacked(s), w)
    with pytest.raises(TypeError):
        to_stacked(w.real)


def test_init_scale_and_zero() -> None:
    torch.manual_seed(6)
    layer = ComplexConv2d(16, 16, 3)
    var = layer.weight.detach().abs().pow(2).mean().item()
    assert var == pytest.approx(2.0 / (16 * 9), rel=0.2)  # complex He: E|w|^2 = 2 / fan_in
    layer.zero_()
    assert all(torch.count_nonzero(p) == 0 for p in layer.parameters())
