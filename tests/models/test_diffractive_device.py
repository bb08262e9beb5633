"""The simulated diffractive device on its fine grid (issue: the device is not the twin)."""

import pytest
import torch

from photonic_dat.errors.realisation import ErrorRealisation
from photonic_dat.models.diffractive import (
    DetectorReadout,
    DiffractiveLayer,
    FreeSpace,
    ImageEncoder,
)
from photonic_dat.models.diffractive_device import FineGridDevice
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import detector_layout, intensity
from photonic_dat.optics.diffractive import shift_bilinear
from photonic_dat.optics.pixelated import pixel_average

PITCH, WAVELENGTH, DISTANCE = 8e-6, 532e-9, 2e-3
N = 24


@pytest.fixture
def pnn():
    gen = torch.Generator().manual_seed(0)
    blocks = [
        DiffractiveLayer(
            N, PITCH, WAVELENGTH, DISTANCE, illuminated=True, init_std=3.0, generator=gen
        ),
        FreeSpace(N, PITCH, WAVELENGTH, DISTANCE),
    ]
    masks = detector_layout(N, 10, 2, "grid3-4-3", gap=1)
    return PNN(ImageEncoder(N, 12), blocks, DetectorReadout(masks))


def _device(pnn, s, **errors):
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in errors.items()}
    return FineGridDevice(pnn, ErrorRealisation([tensors, {}]), s)


def _field(batch=3):
    return torch.randn(
        batch, N, N, generator=torch.Generator().manual_seed(1), dtype=torch.complex64
    )


def _passed_power(transmission_of, field) -> float:
    """Power right behind a mask, relative to the power that reaches it."""
    return float(intensity(field * transmission_of).sum() / intensity(field).sum())


@pytest.mark.parametrize("shift", [0.1, 0.25, 0.5])
def test_shifted_and_rotated_random_phase_mask_passes_all_power(pnn, shift):
    s = 4
    field = _field().repeat_interleave(s, -2).repeat_interleave(s, -1)
    aligned = _passed_power(_device(pnn, s).mask(0), field)
    moved = _device(pnn, s, dx=shift * PITCH, dy=-shift * PITCH, rotation=1e-3).mask(0)
    assert _passed_power(moved, field) == pytest.approx(aligned, abs=1e-4)
    # the model it replaces (bilinear resampling of exp(i phase), one sample per pixel)
    # fails the same check
    t = torch.polar(torch.ones(N, N), pnn.blocks[0].phase().detach())
    assert _passed_power(shift_bilinear(t, shift, -shift), _field()) < 0.97


def test_whole_pixel_shift_is_a_roll_of_the_fine_mask(pnn):
    s = 3
    aligned = _device(pnn, s).mask(0)
    moved = _device(pnn, s, dx=2 * PITCH, dy=-1 * PITCH).mask(0)
    rolled = torch.roll(aligned, shifts=(-s, 2 * s), dims=(-2, -1))
    rolled[:, : 2 * s] = 1  # unmodulated glass moves in
    rolled[-s:, :] = 1
    assert torch.allclose(moved, rolled, atol=1e-6)


def test_detected_irradiance_converges_as_the_grid_refines(pnn):
    field = _field(2)
    errors = {"dx": 0.3 * PITCH, "rotation": 1e-3, "fill_factor": 0.93, "fringing_sigma": 3e-6}
    out = {s: _device(pnn, s, **errors).run(field)[0] for s in (2, 4, 8)}
    coarse = (out[4] - out[2]).norm() / out[8].norm()
    fine = (out[8] - out[4]).norm() / out[8].norm()
    assert fine < 0.5 * coarse and fine < 0.1


def test_internal_planes_are_read_at_the_twins_pitch(pnn):
    device = _device(pnn, 3)
    out, states = device.run(_field(2), taps=(0,))
    assert out.shape == states[0].shape == (2, N, N)
    # behind a phase-only mask the irradiance is the irradiance that reached it
    field = device._illuminate(_field(2).repeat_interleave(3, -2).repeat_interleave(3, -1))
    from photonic_dat.optics.free_space import propagate

    arriving = propagate(field, PITCH / 3, WAVELENGTH, DISTANCE)
    assert torch.allclose(states[0], pixel_average(intensity(arriving), 3), rtol=1e-4, atol=1e-5)
