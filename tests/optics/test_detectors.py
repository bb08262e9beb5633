"""Tests of intensity detection, detector layouts and the detector noise model."""

from __future__ import annotations

import pytest
import torch

from photonic_dat.optics.detectors import (
    camera_counts,
    counts_to_irradiance,
    detector_layout,
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


def test_camera_counts_shot_and_read_noise_offset_and_saturation():
    kwargs = {"full_scale": 2.0, "full_well": 10_000.0, "read_noise": 3.0, "adc_bits": 12}
    light = torch.full((200, 500), 1.0, dtype=torch.float64)  # half of full scale
    a = camera_counts(light, torch.Generator().manual_seed(3), offset=50.0, **kwargs)
    b = camera_counts(light, torch.Generator().manual_seed(3), offset=50.0, **kwargs)
    c = camera_counts(light, torch.Generator().manual_seed(4), offset=50.0, **kwargs)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, a.round())  # integer codes
    gain = 4095 / 10_000  # counts per e-
    # mean: 5,000 e- plus the offset; variance: Poisson (5,000 e-) + read noise + rounding
    assert float(a.mean()) == pytest.approx(5000 * gain + 50, abs=0.5)  # 5 sigma
    expected_var = (5000 + 3.0**2) * gain**2 + 1 / 12
    assert float(a.var()) == pytest.approx(expected_var, rel=0.03)
    back = counts_to_irradiance(a, 50.0, full_scale=2.0, adc_bits=12)
    assert float(back.mean()) == pytest.approx(1.0, rel=1e-3)
    # a fixed full scale: brighter light saturates at the top code, dark light reads the offset
    ramp = torch.tensor([0.0, 1.2, 2.5, 10.0], dtype=torch.float64)
    noiseless = {**kwargs, "read_noise": 0.0, "full_well": 1e12}
    codes = camera_counts(ramp, None, offset=0.0, **noiseless)
    assert codes.tolist() == [0.0, 2457.0, 4095.0, 4095.0]
    with pytest.raises(ValueError, match="full_scale"):
        camera_counts(ramp, None, offset=0.0, **{**kwargs, "full_scale": 0.0})
