"""The Fourier-plane PNN's twin: lens = padded Fourier transform, gratings land where due."""

import math

import pytest
import torch

from photonic_dat.config.factory import build_pnn
from photonic_dat.config.loading import load_config
from photonic_dat.exceptions import ConfigError
from photonic_dat.models.fourier import FourierMask, PhaseImageEncoder
from photonic_dat.optics.fourier import fourier_plane, gaussian_beam


@pytest.mark.parametrize("ky, kx", [(0, 0), (3, 0), (-2, 4)])
def test_grating_order_lands_pad_times_k_off_axis(ky, kx):
    n, pad, window = 16, 2, 20
    rows, cols = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    field = torch.exp(2j * math.pi * (kx * cols + ky * rows) / n)[None]
    intensity = fourier_plane(field, pad, window).abs().square()[0]
    peak = divmod(int(intensity.argmax()), window)
    assert peak == (window // 2 + pad * ky, window // 2 + pad * kx)


def test_power_is_conserved_by_the_full_transform():
    field = torch.randn(2, 8, 8, dtype=torch.complex64)
    plane = fourier_plane(field, 3, 24)  # the whole padded grid
    torch.testing.assert_close(
        plane.abs().square().sum((1, 2)), 576 * field.abs().square().sum((1, 2)), rtol=1e-4, atol=0
    )


def test_encoder_and_mask_shapes_and_gradient():
    enc = PhaseImageEncoder(neurons=12, size=8, depth=math.pi)
    phases = enc(torch.ones(3, 4, 4))
    assert phases.shape == (3, 12, 12)
    assert float(phases[0, 6, 6]) == pytest.approx(math.pi) and float(phases[0, 0, 0]) == 0.0
    block = FourierMask(12, pad=2, window=10, beam_waist=6.0)
    out = block(phases)
    assert out.shape == (3, 10, 10) and out.is_complex()
    out.abs().square()[:, 5, 5].sum().backward()
    assert block.phase.grad is not None and float(block.phase.grad.abs().sum()) > 0
    assert float(gaussian_beam(12, 6.0).max()) < 1.0  # centred between pixels


def test_family_builds_from_config_and_names_bad_geometry():
    pnn = build_pnn(load_config("slm-digits"))
    assert pnn.measurable == (True,) and pnn.internal_taps == ()
    with pytest.raises(ConfigError, match="fourier.window"):
        build_pnn(load_config("slm-digits", ["fourier.window=100"]))
