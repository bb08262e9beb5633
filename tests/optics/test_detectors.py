"""Tests of intensity detection, detector layouts and the detector noise model."""

from __future__ import annotations

import pytest
import torch

from photonic_dat.optics.detectors import (
    detector_layout,
    detector_noise,
    integrate_regions,
    intensity,
)


def test_intensity():
    field = torch.tensor([[3 + 4j, 1j]], dtype=torch.complex128)
    assert torch.equal(intensity(field), torch.tensor([[25.0, 1.0]], dtype=torch.float64))
    assert torch.equal(intensity(torch.tensor([-2.0])), torch.tensor([4.0]))


@pytest.mark.parametrize(
    ("layout", "num_classes"),
    [("grid3-4-3", 10), ("grid-2x5", 10), ("ring", 10), ("grid2-3-2", 7), ("ring", 6)],
)
def test_layout_regions_disjoint_and_sized(layout, num_classes):
    masks = detector_layout(100, num_classes, 10, layout)
    assert masks.shape == (num_classes, 100, 100) and masks.dtype == torch.bool
    assert torch.equal(masks.sum(dim=(1, 2)), torch.full((num_classes,), 100))
    assert int(masks.sum(dim=0).max()) == 1


def test_grid343_is_centred_rows():
    masks = detector_layout(100, 10, 10, "grid3-4-3")
    rows = [int(torch.nonzero(m)[:, 0].min()) for m in masks]
    assert rows == [25] * 3 + [45] * 4 + [65] * 3
    cols = sorted({int(torch.nonzero(m)[:, 1].min()) for m in masks[3:7]})
    assert cols == [15, 35, 55, 75]
    # Symmetric about the centre.
    assert torch.equal(masks.any(0), masks.any(0).flip(0, 1))


def test_layout_validation():
    with pytest.raises(ValueError, match="fit"):
        detector_layout(50, 10, 10, "grid3-4-3")
    with pytest.raises(ValueError, match="num_classes"):
        detector_layout(100, 9, 5, "grid3-4-3")
    with pytest.raises(ValueError, match="overlap"):
        detector_layout(100, 10, 20, "ring", ring_radius=20)
    with pytest.raises(ValueError, match="fit"):
        detector_layout(100, 10, 20, "ring", ring_radius=45)
    with pytest.raises(ValueError, match="unknown layout"):
        detector_layout(100, 10, 5, "hexagon")


def test_integrate_regions_equals_loop():
    g = torch.Generator().manual_seed(0)
    inten = torch.rand(4, 60, 60, generator=g, dtype=torch.float64)
    masks = detector_layout(60, 10, 6, "grid3-4-3")
    out = integrate_regions(inten, masks)
    loop = torch.stack(
        [torch.stack([inten[b][masks[k]].sum() for k in range(10)]) for b in range(4)]
    )
    assert out.shape == (4, 10)
    assert torch.allclose(out, loop)


def test_detector_noise_reproducible_unbiased_and_quantised():
    clean = torch.full((200, 500), 0.8, dtype=torch.float64)
    kwargs = {"shot_photons": 1000.0, "read_std": 0.01}
    a = detector_noise(clean, torch.Generator().manual_seed(3), **kwargs)
    b = detector_noise(clean, torch.Generator().manual_seed(3), **kwargs)
    c = detector_noise(clean, torch.Generator().manual_seed(4), **kwargs)
    assert torch.equal(a, b) and not torch.equal(a, c)
    expected_std = (0.8 / 1000.0 + 0.01**2) ** 0.5
    assert float(a.mean()) == pytest.approx(0.8, abs=5 * expected_std / 316)
    assert float(a.std()) == pytest.approx(expected_std, rel=0.03)

    ramp = torch.linspace(0, 2, 5000, dtype=torch.float64)
    q = detector_noise(ramp, torch.Generator().manual_seed(0), read_std=0.05, adc_bits=3)
    assert torch.unique(q).numel() <= 8
    assert float(q.min()) >= 0.0
    fixed = detector_noise(ramp, None, adc_bits=2, full_scale=1.0)
    assert set(torch.unique(fixed).tolist()) == {0.0, 1 / 3, 2 / 3, 1.0}  # saturates at 1

    noiseless = detector_noise(ramp, None)
    assert torch.equal(noiseless, ramp)


def test_detector_noise_gradients_pass_through():
    x = torch.rand(3, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = (x + 0.1).requires_grad_()
    out = detector_noise(
        x, torch.Generator().manual_seed(0), shot_photons=100.0, read_std=0.001, adc_bits=8
    )
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert float(x.grad.sum()) > 0
