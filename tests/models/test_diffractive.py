import math
from dataclasses import replace

import pytest
import torch

from photonic_dat.errors.realisation import ErrorRealisation, draw_realisation
from photonic_dat.errors.specs import DiffractiveErrorSpec, MeshErrorSpec
from photonic_dat.models.diffractive import (
    ERROR_KEYS,
    DetectorReadout,
    DiffractiveLayer,
    FreeSpace,
    ImageEncoder,
)
from photonic_dat.models.pnn import PNN
from photonic_dat.optics.detectors import detector_layout, intensity
from photonic_dat.optics.free_space import propagate

PITCH, WAVELENGTH, DISTANCE = 8e-6, 532e-9, 2e-3


def _field(gen, n=16, batch=3, dtype=torch.complex64):
    return torch.randn(batch, n, n, generator=gen, dtype=dtype)


def _layer(n=16, **kwargs):
    return DiffractiveLayer(n, PITCH, WAVELENGTH, DISTANCE, **kwargs)


def _tiny_pnn(n=16, layers=2, gen=None):
    blocks = [
        DiffractiveLayer(
            n, PITCH, WAVELENGTH, DISTANCE, illuminated=k == 0, init_std=1.0, generator=gen
        )
        for k in range(layers)
    ]
    blocks.append(FreeSpace(n, PITCH, WAVELENGTH, DISTANCE, 2.0))
    masks = detector_layout(n, 10, 2, "grid3-4-3", gap=1)
    return PNN(ImageEncoder(n, n // 2), blocks, DetectorReadout(masks, 10.0))


FULL_SPEC = DiffractiveErrorSpec(
    shift_std=3e-6,
    rotation_std=2e-3,
    distance_std=2e-4,
    phase_gain_std=0.05,
    phase_gamma_std=0.05,
    phase_levels=16,
    pixel_phase_std=0.1,
    fringing_sigma=4e-6,
    illumination_waist=1e-4,
    illumination_tilt_std=3e-4,
)


def test_zero_phase_layer_is_pure_propagation(gen):
    layer = _layer(wrap="mod")  # raw = 0 -> phase exactly 0
    x = _field(gen)
    expected = propagate(x, PITCH, WAVELENGTH, DISTANCE, pad_factor=2.0)
    assert torch.allclose(layer(x), expected, atol=1e-6)
    # the default sigmoid wrap maps raw = 0 to a uniform phase pi: a global sign
    assert torch.allclose(_layer()(x), -expected, atol=1e-5)
    assert layer.measurable and layer.field_shape == (16, 16)
    # the padded angular-spectrum method is selectable per block
    padded = _layer(wrap="mod", propagation="angular-spectrum", pad_factor=1.5)
    expected = propagate(x, PITCH, WAVELENGTH, DISTANCE, pad_factor=1.5, method="angular-spectrum")
    assert torch.allclose(padded(x), expected, atol=1e-6)
    with pytest.raises(ValueError, match="propagation"):
        _layer(propagation="fresnel")


def test_free_space_block_propagates_and_has_no_sepn(gen):
    block = FreeSpace(16, PITCH, WAVELENGTH, DISTANCE, 2.0)
    x = _field(gen)
    assert torch.allclose(block(x), propagate(x, PITCH, WAVELENGTH, DISTANCE), atol=1e-6)
    assert block.measurable and not block.has_sepn
    assert list(block.parameters()) == []
    perturbed = block(x, {"gap_error": torch.tensor(1e-4, dtype=torch.float64)})
    assert torch.allclose(perturbed, propagate(x, PITCH, WAVELENGTH, DISTANCE + 1e-4), atol=1e-6)


def test_twin_error_model_moves_a_phase_mask_without_absorbing_light(gen):
    """The twin's misaligned mask (used by the calibration baseline): whole-pixel shifts are a
    roll with unmodulated glass filling in; any shift or rotation stays phase-only."""
    layer = _layer(init_std=2.0, generator=gen)
    ideal_t = layer.transmission()
    errors = {
        "dx": torch.tensor(2 * PITCH, dtype=torch.float64),
        "dy": torch.tensor(-PITCH, dtype=torch.float64),
    }
    rolled = torch.roll(ideal_t, shifts=(-1, 2), dims=(-2, -1))
    rolled[:, :2] = 1
    rolled[-1, :] = 1
    assert torch.allclose(layer.transmission(errors), rolled, atol=1e-5)
    x = _field(gen)
    for shift in (0.1, 0.25, 0.5):
        moved = {
            "dx": torch.tensor(shift * PITCH, dtype=torch.float64),
            "rotation": torch.tensor(1e-3, dtype=torch.float64),
        }
        t = layer.transmission(moved)
        assert torch.allclose(t.abs(), torch.ones_like(t.abs()), atol=1e-5)
        ratio = intensity(x * t.detach()).sum() / intensity(x).sum()
        assert float(ratio) == pytest.approx(1.0, abs=1e-5)


def test_phase_quantisation_levels(gen):
    layer = _layer(init_std=2.0, generator=gen)
    levels = 8
    phase = layer.displayed_phase({"levels": torch.tensor(levels)})
    step = 2 * math.pi / levels
    index = phase / step
    assert torch.allclose(index, index.round(), atol=1e-5)
    assert len(torch.unique(index.round())) <= levels
    assert float(phase.detach().min()) >= 0 and float(phase.detach().max()) < 2 * math.pi
    # nearest level, on the circle
    diff = torch.remainder((phase - layer.phase()).detach() + math.pi, 2 * math.pi) - math.pi
    assert float(diff.abs().max()) <= step / 2 + 1e-5
    # straight-through: gradients still reach the raw parameters
    phase.sum().backward()
    assert layer.raw.grad is not None and float(layer.raw.grad.abs().sum()) > 0


def test_modulator_response_and_pixel_errors_in_displayed_phase(gen):
    layer = _layer(init_std=1.0, generator=gen)
    ideal = layer.phase()
    gain = layer.displayed_phase({"gain": torch.tensor(1.1, dtype=torch.float64)})
    assert torch.allclose(gain, 1.1 * ideal, atol=1e-5)
    pixel = torch.randn(16, 16, generator=gen) * 0.1
    assert torch.allclose(layer.displayed_phase({"pixel_phase": pixel}), ideal + pixel)
    blurred = layer.displayed_phase({"fringing_sigma": torch.tensor(0.5 * PITCH)})
    assert not torch.allclose(blurred, ideal)
    assert float(blurred.detach().std()) < float(ideal.detach().std())


def test_draws_are_seeded_and_round_trip(tmp_path):
    pnn = _tiny_pnn(layers=3)
    a = draw_realisation(list(pnn.blocks), FULL_SPEC, seed=5)
    b = draw_realisation(list(pnn.blocks), FULL_SPEC, seed=5)
    c = draw_realisation(list(pnn.blocks), FULL_SPEC, seed=6)
    assert a.digest() == b.digest() != c.digest()
    first, middle, last = a.block(0), a.block(1), a.block(3)
    assert {"illumination_waist", "tilt_x", "tilt_y"} <= set(first)
    assert not {"illumination_waist", "tilt_x", "tilt_y"} & set(middle)
    assert {"dx", "dy", "rotation", "gap_error", "gain", "gamma", "pixel_phase"} <= set(middle)
    assert middle["pixel_phase"].shape == (16, 16)
    assert set(last) == {"gap_error"}
    assert set().union(*a.blocks) <= set(ERROR_KEYS)
    # other specs draw nothing
    assert all(not e for e in draw_realisation(list(pnn.blocks), MeshErrorSpec(0.1), 0).blocks)
    a.save(tmp_path)
    loaded = ErrorRealisation.load(tmp_path)
    assert loaded.digest() == a.digest()
    x = pnn.encoder(torch.rand(2, 8, 8))
    with torch.no_grad():
        out_a = pnn.run(x, errors=a).output
        out_loaded = pnn.run(x, errors=loaded).output
    assert torch.equal(out_a, out_loaded)


@pytest.mark.parametrize(
    "field, value",
    [
        ("shift_std", 3e-6),
        ("rotation_std", 5e-3),
        ("distance_std", 3e-4),
        ("phase_gain_std", 0.05),
        ("phase_gamma_std", 0.05),
        ("phase_levels", 4),
        ("pixel_phase_std", 0.2),
        ("fringing_sigma", 4e-6),
        ("illumination_waist", 3e-5),
        ("illumination_tilt_std", 1e-3),
    ],
)
def test_each_error_changes_the_measured_output(field, value):
    gen = torch.Generator().manual_seed(0)
    pnn = _tiny_pnn(gen=gen)
    spec = DiffractiveErrorSpec(**{field: value})
    realisation = draw_realisation(list(pnn.blocks), spec, seed=1)
    x = pnn.encoder(torch.rand(4, 8, 8, generator=gen))
    with torch.no_grad():
        ideal = intensity(pnn.run(x).output)
        measured = intensity(pnn.run(x, errors=realisation).output)
        same = intensity(pnn.run(x, errors=draw_realisation(list(pnn.blocks), spec, 1)).output)
    assert torch.equal(measured, same)
    rel = float((measured - ideal).norm() / ideal.norm())
    assert rel > 1e-3, f"{field}={value} changed the output by only {rel:.2e}"


def test_error_spec_validation_names_the_field():
    with pytest.raises(ValueError, match="shift_std"):
        DiffractiveErrorSpec(shift_std=-1e-6)
    with pytest.raises(ValueError, match="phase_levels"):
        DiffractiveErrorSpec(phase_levels=1)
    with pytest.raises(ValueError, match="illumination_waist"):
        DiffractiveErrorSpec(illumination_waist=0.0)
    with pytest.raises(ValueError, match="rotation_std"):
        DiffractiveErrorSpec(rotation_std=0.5)
    assert DiffractiveErrorSpec().is_ideal and not FULL_SPEC.is_ideal


class _Scores(torch.nn.Module):
    """Class scores of a PNN run with a fixed error realisation (or ideal)."""

    def __init__(self, pnn: PNN, errors: ErrorRealisation | None) -> None:
        super().__init__()
        self.pnn, self.errors = pnn, errors

    def forward(self, images):
        out = self.pnn.run(self.pnn.encoder(images), errors=self.errors).output
        return self.pnn.readout(intensity(out))


def test_gradient_matches_finite_differences():
    gen = torch.Generator().manual_seed(3)
    pnn = _tiny_pnn(layers=2, gen=gen).double()
    images = torch.rand(2, 8, 8, generator=gen, dtype=torch.float64)
    assert pnn.encoder(images).dtype == torch.complex128
    smooth_errors = replace(FULL_SPEC, phase_levels=None)  # rounding: no finite differences
    realisation = draw_realisation(list(pnn.blocks), smooth_errors, seed=0)
    for errors in (None, realisation):
        model = _Scores(pnn, errors)

        def scores(r0, r1, model=model):
            params = {"pnn.blocks.0.raw": r0, "pnn.blocks.1.raw": r1}
            return torch.func.functional_call(model, params, (images,))

        r0 = pnn.blocks[0].raw.detach().clone().requires_grad_(True)
        r1 = pnn.blocks[1].raw.detach().clone().requires_grad_(True)
        assert torch.autograd.gradcheck(scores, (r0, r1), eps=1e-6, atol=1e-5)


def test_encoder_and_readout():
    enc = ImageEncoder(16, 8, "amplitude")
    images = torch.rand(3, 8, 8)
    field = enc(images)
    assert field.shape == (3, 16, 16) and field.is_complex()
    assert torch.allclose(field[:, 4:12, 4:12].real, images)
    phase = ImageEncoder(16, 8, "phase")(images)
    assert torch.allclose(phase[:, 4:12, 4:12].abs(), torch.ones(3, 8, 8))
    masks = detector_layout(16, 10, 2, "grid3-4-3", gap=1)
    readout = DetectorReadout(masks, temperature=5.0)
    value = torch.rand(3, 16, 16)
    scores = readout(value)
    assert scores.shape == (3, 10)
    assert torch.allclose(scores.norm(dim=1), torch.full((3,), 5.0))
    assert torch.allclose(readout(7.0 * value), scores, atol=1e-5)  # gain invariant
    total = DetectorReadout(masks, 1.0, normalise="total")(value)
    assert float(total.sum(dim=1).max()) <= 1.0
    assert "masks" not in readout.state_dict()  # geometry, not a trained parameter
    with pytest.raises(ValueError, match="input size"):
        ImageEncoder(8, 16)
