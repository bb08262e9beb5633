import pytest
import torch

from photonic_dat.config.factory import build_pnn
from photonic_dat.config.loading import load_config
from photonic_dat.config.mpnn_family import build_mpnn
from photonic_dat.models.encoders import fft_crop
from photonic_dat.models.field_sepn import FieldSEPN
from photonic_dat.models.mesh import MeshBlock
from photonic_dat.models.readout import PortReadout, l2_normalise
from photonic_dat.models.sepn import build_sepn
from tests.helpers import small_config


def test_fft_crop_of_8x8_is_the_full_shifted_spectrum(gen):
    images = torch.rand(3, 8, 8, generator=gen)
    fields = fft_crop(images, 8)
    spectrum = torch.fft.fftshift(torch.fft.fft2(images), dim=(-2, -1)).reshape(3, 64)
    scale = spectrum.abs().mean(1, keepdim=True)
    assert torch.allclose(fields, (spectrum / scale).to(torch.complex64), atol=1e-5)
    assert torch.allclose(fields.abs().mean(1), torch.ones(3), atol=1e-5)


def test_fft_crop_takes_the_centre_of_28x28(gen):
    images = torch.zeros(1, 28, 28)
    images[0, 14, 14] = 1.0  # a delta: flat spectrum
    fields = fft_crop(images, 8)
    assert fields.shape == (1, 64)
    assert torch.allclose(fields.abs(), torch.ones(1, 64), atol=1e-6)


def test_port_readout_normalises_and_takes_first_classes(gen):
    intensity = torch.rand(4, 16, generator=gen)
    scores = PortReadout(10, temperature=2.0)(intensity)
    assert scores.shape == (4, 10)
    assert torch.allclose(scores, 2.0 * l2_normalise(intensity)[:, :10])
    assert torch.allclose(l2_normalise(intensity).norm(dim=1), torch.ones(4))


def test_mpnn_structure_and_taps():
    pnn = build_mpnn(small_config("mpnn.meshes=3"))
    kinds = [type(b).__name__ for b in pnn.blocks]
    assert kinds == ["MeshBlock", "EOActivation", "MeshBlock", "EOActivation", "MeshBlock"]
    assert pnn.internal_taps == (0, 2)
    x = torch.randn(5, 16, dtype=torch.complex64)
    trace = pnn.run(x)
    assert set(trace.states) == {0, 2}
    # meshes are lossless and the activation loses at least alpha of the power
    p_in = (x.abs() ** 2).sum(1)
    assert torch.all((trace.states[0].abs() ** 2).sum(1) <= p_in * 1.0001)


def test_field_sepn_reshapes_ports_to_a_square_and_starts_at_zero(gen):
    sepn = FieldSEPN(build_sepn("unet", features=(4, 8)), (16,))
    y = torch.randn(3, 16, generator=gen, dtype=torch.complex64)
    out = sepn(y)
    assert out.shape == (3, 16)
    assert torch.count_nonzero(out) == 0  # identity residual before any training


def test_mesh_keeps_its_matrix_only_while_caching_and_parameters_and_errors_unchanged():
    pnn = build_mpnn(small_config())
    mesh = pnn.blocks[0]
    assert mesh.transfer_matrix() is not mesh.transfer_matrix()  # off: built every time
    errors = {"theta_offset": torch.full(mesh.layout.shape, 0.1)}
    with pnn.caching_physics():
        first = mesh.transfer_matrix()
        assert first.requires_grad and mesh.transfer_matrix() is first
        with torch.no_grad():
            assert torch.equal(mesh.transfer_matrix(), first.detach())
        with torch.no_grad():
            mesh.theta.add_(0.1)  # an optimiser step changes the parameters in place
        second = mesh.transfer_matrix()
        assert second is not first and not torch.equal(second, first)
        known = mesh.transfer_matrix(errors)  # a calibrated twin's errors: its own matrix
        assert not torch.equal(known, second) and mesh.transfer_matrix(errors) is known
        errors["theta_offset"].add_(0.1)  # a refit error changes in place as well
        assert not torch.equal(mesh.transfer_matrix(errors), known)
    assert mesh._kept is None and not mesh._caching


def test_mpnn_internal_phase_drive_is_configurable():
    sets = ["mpnn.ports=16", "mpnn.meshes=2"]
    single = build_pnn(load_config("mpnn-digits", sets))
    push_pull = build_pnn(load_config("mpnn-digits", [*sets, "mpnn.internal_phase=differential"]))
    meshes = [[b for b in p.blocks if isinstance(b, MeshBlock)] for p in (single, push_pull)]
    assert [m.differential for m in meshes[0]] == [False, False]
    assert [m.differential for m in meshes[1]] == [True, True]
    a, b = (m[0].transfer_matrix().detach() for m in meshes)
    assert not torch.allclose(a.abs(), b.abs(), atol=1e-3)  # same phases, another matrix
    with pytest.raises(ValueError, match="internal phase drive"):
        MeshBlock(4, internal_phase="both")


@pytest.mark.parametrize("internal_phase", ["single", "differential"])
def test_a_device_without_offsets_is_the_twin_whatever_the_phase_range(internal_phase):
    mesh = MeshBlock(8, internal_phase=internal_phase)
    with torch.no_grad():  # phases far outside one period, as training leaves them
        mesh.theta.mul_(7.0).sub_(20.0)
        mesh.phi.mul_(5.0).add_(9.0)
        zero = {"theta_offset": torch.zeros(mesh.layout.shape)}
        assert torch.allclose(mesh.transfer_matrix(zero), mesh.transfer_matrix(), atol=1e-5)
