"""Tests for the systematic error prediction networks (SEPNs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from photonic_dat.models.sepn import (
    SEPN_KINDS,
    ComplexResNet,
    ComplexUNet,
    ResampledSEPN,
    build_sepn,
    count_complex_parameters,
    count_parameters,
)


def _field(b: int, h: int, w: int, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    return torch.randn(b, h, w, dtype=dtype)


def _randomise_output_layer(net: nn.Module) -> nn.Module:
    """Break the zero init so that shape/dependency tests see non-trivial outputs."""
    last = net.out_conv if isinstance(net, ComplexUNet) else net.out_proj
    with torch.no_grad():
        for p in last.parameters():
            p.normal_()
    return net


def _make(kind: str) -> nn.Module:
    return ComplexUNet() if kind == "unet" else ComplexResNet()


@pytest.mark.parametrize("kind", SEPN_KINDS)
@pytest.mark.parametrize("size", [(8, 8), (28, 28), (50, 50), (7, 13)])
def test_shapes(kind: str, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    net = _randomise_output_layer(_make(kind))
    z = _field(2, *size)
    out = net(z)
    assert out.shape == z.shape
    assert out.dtype == torch.complex64
    assert torch.count_nonzero(out) > 0


@pytest.mark.parametrize("kind", SEPN_KINDS)
@pytest.mark.parametrize("working_size", [None, (10, 10)])
def test_fresh_sepn_is_exact_zero_residual(kind: str, working_size: tuple[int, int] | None) -> None:
    torch.manual_seed(1)
    net = build_sepn(kind, working_size=working_size)
    for size in [(8, 8), (28, 28), (50, 50)]:
        z = _field(3, *size)
        out = net(z)
        assert out.shape == z.shape
        assert torch.equal(out, torch.zeros_like(z))
        assert torch.equal(z + 0.5 * out, z)


def test_fresh_sepn_trains_from_output_layer() -> None:
    torch.manual_seed(7)
    net = ComplexUNet()
    loss = (net(_field(4, 8, 8)) - _field(4, 8, 8)).abs().pow(2).mean()
    loss.backward()
    assert net.out_conv.weight_real.grad.abs().sum() > 0
    assert net.out_conv.bias_imag.grad.abs().sum() > 0


def test_parameter_counts() -> None:
    big = ComplexUNet(features=(4, 8, 16), kernel_size=3, convs_per_level=3)
    small = ComplexUNet(features=(4, 6, 8), kernel_size=3, convs_per_level=3)
    # Real scalars (a complex weight counts 2); measured 19434 and 8150.
    assert 18_000 <= count_parameters(big) <= 21_000
    assert 7_000 <= count_parameters(small) <= 9_000
    # Complex weights, the usual way SEPN sizes are quoted (~10k and ~4k): 9717 and 4075.
    assert 8_000 <= count_complex_parameters(big) <= 12_000
    assert 3_000 <= count_complex_parameters(small) <= 5_500
    # ResNet: 1x1 in (1->8), 3 blocks x 2 convs (8->8, 3x3), 1x1 out (8->1).
    expected = 2 * ((1 * 8 + 8) + 6 * (8 * 8 * 9 + 8) + (8 * 1 + 1))
    assert count_parameters(ComplexResNet(channels=8, num_blocks=3)) == expected


def test_count_parameters_native_complex() -> None:
    lin = nn.Linear(3, 2, bias=False)
    lin.weight = nn.Parameter(torch.zeros(2, 3, dtype=torch.complex64))
    assert count_parameters(lin) == 12


def test_unet_is_generic_in_levels() -> None:
    torch.manual_seed(2)
    for features in [(4,), (4, 8), (2, 4, 6, 8)]:
        net = _randomise_output_layer(ComplexUNet(features=features, convs_per_level=2))
        for size in [(8, 8), (11, 6)]:
            assert net(_field(2, *size)).shape == (2, *size)


def test_no_mixing_across_batch() -> None:
    torch.manual_seed(3)
    net = _randomise_output_layer(ComplexUNet())
    z = _field(5, 28, 28)
    with torch.no_grad():
        full = net(z)
        single = net(z[2:3])
    torch.testing.assert_close(full[2:3], single, atol=1e-5, rtol=1e-5)


def test_complex128_inputs() -> None:
    torch.manual_seed(4)
    net = _randomise_output_layer(ComplexUNet()).double()
    out = net(_field(2, 8, 8, dtype=torch.complex128))
    assert out.dtype == torch.complex128


def test_resampled_sepn_noop_and_resampling() -> None:
    torch.manual_seed(5)
    inner = _randomise_output_layer(ComplexResNet(channels=4, num_blocks=1))
    z = _field(2, 20, 20)
    with torch.no_grad():
        for ws in (None, (20, 20)):
            assert torch.equal(ResampledSEPN(inner, ws)(z), inner(z))

    seen: list[tuple[int, ...]] = []
    inner.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape)))
    wrapped = ResampledSEPN(inner, (5, 5))
    out = wrapped(z)
    assert seen[-1] == (2, 5, 5)
    assert out.shape == z.shape and out.dtype == z.dtype

    # A constant field survives down- and up-sampling exactly (identity inner).
    class Identity(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    const = torch.full((1, 12, 18), 0.3 - 0.7j, dtype=torch.complex64)
    torch.testing.assert_close(ResampledSEPN(Identity(), (4, 6))(const), const)
    # Upsampling working sizes also work.
    assert ResampledSEPN(Identity(), (16, 16))(const).shape == const.shape


def test_build_sepn_kinds_and_errors() -> None:
    unet = build_sepn("unet", features=(4, 6, 8), kernel_size=3, convs_per_level=3)
    assert isinstance(unet, ResampledSEPN) and isinstance(unet.inner, ComplexUNet)
    assert count_parameters(unet) == count_parameters(ComplexUNet(features=(4, 6, 8)))
    resnet = build_sepn("resnet", channels=6, num_blocks=2, working_size=(50, 50))
    assert isinstance(resnet.inner, ComplexResNet) and resnet.working_size == (50, 50)
    with pytest.raises(ValueError, match="unet.*resnet"):
        build_sepn("transformer")


def test_invalid_inputs() -> None:
    net = ComplexUNet()
    with pytest.raises(TypeError):
        net(torch.randn(2, 8, 8))
    with pytest.raises(ValueError):
        net(_field(2, 8, 8)[0])
    with pytest.raises(ValueError):
        ComplexUNet(features=())


def test_unet_learns_smooth_nonlinear_residual() -> None:
    torch.manual_seed(6)
    noise = torch.randn(64, 2, 4, 4)
    smooth = F.interpolate(noise, size=(8, 8), mode="bilinear", align_corners=False)
    y = torch.complex(smooth[:, 0], smooth[:, 1])
    y = y / y.abs().pow(2).mean().sqrt()
    target = 0.1 * y.abs() ** 2 * y

    net = ComplexUNet(features=(4, 8, 16))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    with torch.no_grad():
        initial = (net(y) - target).abs().pow(2).mean().item()
    for _ in range(150):
        loss = (net(y) - target).abs().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = (net(y) - target).abs().pow(2).mean().item()
    assert final * 5 <= initial, (initial, final)
