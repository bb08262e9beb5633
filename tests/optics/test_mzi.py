import math

import pytest
import torch

from photonic_dat.optics.mzi import (
    MeshLayout,
    apply_transfer,
    beamsplitter,
    chain_product,
    mesh_transfer_matrix,
    mzi_transfer,
)


def _random_phases(layout, gen, dtype=torch.float32):
    theta = torch.rand(layout.shape, generator=gen, dtype=dtype) * 2 * math.pi
    phi = torch.rand(layout.shape, generator=gen, dtype=dtype) * 2 * math.pi
    phi_in = torch.rand(layout.ports, generator=gen, dtype=dtype) * 2 * math.pi
    return theta, phi, phi_in


def _naive_mesh(layout, theta, phi, phi_in, bs=None, amp=None):
    """Reference: multiply the layers one 2x2 block at a time."""
    n = layout.ports
    dtype = torch.complex128
    m = torch.diag(torch.polar(torch.ones(n, dtype=torch.float64), phi_in.double())).to(dtype)
    for layer in range(layout.layers):
        lm = torch.eye(n, dtype=dtype)
        for slot in range(layout.slots):
            p = 2 * slot + layer % 2
            if p + 1 >= n:
                continue
            args = [theta[layer, slot].double(), phi[layer, slot].double()]
            b1 = bs[layer, slot, 0].double() if bs is not None else None
            b2 = bs[layer, slot, 1].double() if bs is not None else None
            a = amp[layer, slot].double() if amp is not None else None
            lm[p : p + 2, p : p + 2] = mzi_transfer(*args, b1, b2, a)
        m = lm @ m
    return m


def test_beamsplitter_is_unitary_for_any_split_error():
    e = torch.tensor([-0.3, 0.0, 0.1, 0.45], dtype=torch.float64)
    b = beamsplitter(e)
    eye = torch.eye(2, dtype=torch.complex128)
    assert torch.allclose(b @ b.conj().transpose(-1, -2), eye.expand_as(b), atol=1e-12)
    assert torch.allclose(b[:, 0, 0].abs() ** 2, (1 + e) / 2)


def test_ideal_mzi_split_follows_sin_half_theta():
    theta = torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64)
    t = mzi_transfer(theta, torch.zeros_like(theta))
    assert torch.allclose(t[:, 0, 0].abs(), torch.sin(theta / 2).abs(), atol=1e-12)
    assert torch.allclose(t[:, 0, 1].abs(), torch.cos(theta / 2).abs(), atol=1e-12)


@pytest.mark.parametrize("ports,layers", [(2, 3), (5, 5), (8, 8), (9, 4)])
def test_mesh_matches_layer_by_layer_reference(ports, layers, gen):
    layout = MeshLayout(ports, layers)
    theta, phi, phi_in = _random_phases(layout, gen, torch.float64)
    bs = 0.1 * torch.randn(*layout.shape, 2, generator=gen, dtype=torch.float64)
    amp = 1 - 0.05 * torch.rand(layout.shape, generator=gen, dtype=torch.float64)
    fast = mesh_transfer_matrix(layout, theta, phi, phi_in, bs_error=bs, amplitude=amp)
    slow = _naive_mesh(layout, theta, phi, phi_in, bs, amp)
    assert torch.allclose(fast, slow, atol=1e-12)


def test_mesh_is_unitary_without_loss_in_complex64(gen):
    layout = MeshLayout(64, 64)
    for _ in range(3):
        u = mesh_transfer_matrix(layout, *_random_phases(layout, gen))
        assert u.dtype == torch.complex64
        err = (u @ u.conj().T - torch.eye(64, dtype=u.dtype)).abs().max()
        assert err < 1e-5


def test_mesh_stays_unitary_with_beamsplitter_and_phase_errors(gen):
    layout = MeshLayout(16, 16)
    theta, phi, phi_in = _random_phases(layout, gen, torch.float64)
    bs = (0.1 * torch.randn(*layout.shape, 2, generator=gen, dtype=torch.float64)).clamp(-0.9, 0.9)
    u = mesh_transfer_matrix(layout, theta + 0.1, phi - 0.05, phi_in, bs_error=bs)
    assert torch.allclose(u @ u.conj().T, torch.eye(16, dtype=u.dtype), atol=1e-12)
    ideal = mesh_transfer_matrix(layout, theta, phi, phi_in)
    assert (u - ideal).abs().max() > 1e-2  # the errors do change the matrix


def test_uniform_loss_energy_bookkeeping(gen):
    # Two ports: only even layers hold an MZI, so power falls by a^2 per even layer exactly.
    layout = MeshLayout(2, 5)
    a = 10 ** (-0.3 / 20)
    theta, phi, phi_in = _random_phases(layout, gen, torch.float64)
    amp = torch.full(layout.shape, a, dtype=torch.float64)
    u = mesh_transfer_matrix(layout, theta, phi, phi_in, amplitude=amp)
    x = torch.randn(7, 2, generator=gen, dtype=torch.complex128)
    p_in = (x.abs() ** 2).sum(1)
    p_out = (apply_transfer(u, x).abs() ** 2).sum(1)
    assert torch.allclose(p_out, p_in * a ** (2 * 3), rtol=1e-12)


def test_random_loss_energy_bounds(gen):
    layout = MeshLayout(12, 12)
    theta, phi, phi_in = _random_phases(layout, gen, torch.float64)
    amp = 10 ** (-torch.rand(layout.shape, generator=gen, dtype=torch.float64) * 0.5 / 20)
    u = mesh_transfer_matrix(layout, theta, phi, phi_in, amplitude=amp)
    s = torch.linalg.svdvals(u)
    # every path crosses at most `layers` MZIs: power lies between min(a)^(2L) and 1
    assert s.max() <= 1 + 1e-12
    assert s.min() >= amp.min() ** layout.layers - 1e-12
    assert s.min() < 1 - 1e-3


@pytest.mark.parametrize("differential", [False, True])
def test_mesh_gradient_matches_finite_differences(gen, differential):
    layout = MeshLayout(4, 4)
    theta, phi, phi_in = (t.requires_grad_() for t in _random_phases(layout, gen, torch.float64))
    x = torch.randn(3, 4, generator=gen, dtype=torch.complex128)
    bs = 0.05 * torch.randn(*layout.shape, 2, generator=gen, dtype=torch.float64)

    def f(th, ph, pin):
        u = mesh_transfer_matrix(layout, th, ph, pin, bs_error=bs, differential=differential)
        y = apply_transfer(u, x)
        return y.abs() ** 2

    assert torch.autograd.gradcheck(f, (theta, phi, phi_in))


def test_chain_product_order(gen):
    mats = torch.randn(7, 3, 3, generator=gen, dtype=torch.float64)
    expected = mats[0]
    for m in mats[1:]:
        expected = m @ expected
    assert torch.allclose(chain_product(mats), expected)


def test_neighbour_sum_ignores_empty_slots():
    layout = MeshLayout(5, 2)
    values = torch.ones(layout.shape)
    s = layout.neighbour_sum(values)
    # layer 0 has slots 0,1 used (ports 0-1, 2-3); layer 1 has slots 0,1 (ports 1-2, 3-4)
    assert s.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_layout_validation():
    with pytest.raises(ValueError, match="ports"):
        MeshLayout(1, 3)
    with pytest.raises(ValueError, match="theta and phi"):
        mesh_transfer_matrix(MeshLayout(4, 4), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4))


def test_differential_mzi_is_the_push_pull_product_of_its_parts(gen):
    # definition: BS2 @ diag(exp(i theta/2), exp(-i theta/2)) @ BS1 @ diag(exp(i phi), 1)
    theta = torch.rand(6, generator=gen, dtype=torch.float64) * 2 * math.pi
    phi = torch.rand(6, generator=gen, dtype=torch.float64) * 2 * math.pi
    e1, e2 = (0.1 * torch.randn(6, generator=gen, dtype=torch.float64) for _ in range(2))

    def diag(a, b):
        return torch.diag_embed(torch.stack([torch.polar(torch.ones_like(a), a), b], -1))

    one = torch.ones_like(theta, dtype=torch.complex128)
    inner = diag(theta / 2, torch.polar(torch.ones_like(theta), -theta / 2))
    expected = beamsplitter(e2) @ inner @ beamsplitter(e1) @ diag(phi, one)
    got = mzi_transfer(theta, phi, e1, e2, differential=True)
    assert torch.allclose(got, expected, atol=1e-12)
    eye = torch.eye(2, dtype=torch.complex128)
    assert torch.allclose(got @ got.conj().transpose(-1, -2), eye.expand_as(got), atol=1e-12)
    # the split is the single-arm MZI's: the push-pull drive only adds a common phase
    assert torch.allclose(got.abs(), mzi_transfer(theta, phi, e1, e2).abs(), atol=1e-12)


def test_phase_offsets_perturb_a_push_pull_mesh_less():
    # a theta offset d moves one arm by d (heater) or each arm by d / 2 (push-pull): per MZI
    # the squared deviation is d^2 + d^2 (theta, phi) against d^2 / 2 + d^2, a ratio of 4 / 3
    gen = torch.Generator().manual_seed(7)
    layout = MeshLayout(32, 32)
    ratios = []
    for _ in range(6):
        theta, phi, phi_in = _random_phases(layout, gen, torch.float64)
        d_theta, d_phi = (0.01 * torch.randn(layout.shape, generator=gen, dtype=torch.float64)
                          for _ in range(2))  # fmt: skip
        dev = []
        for differential in (False, True):
            ideal = mesh_transfer_matrix(layout, theta, phi, phi_in, differential=differential)
            off = mesh_transfer_matrix(
                layout, theta + d_theta, phi + d_phi, phi_in, differential=differential
            )
            assert torch.allclose(off @ off.conj().T, torch.eye(32, dtype=off.dtype), atol=1e-12)
            dev.append(torch.linalg.norm(off - ideal) ** 2)
        ratios.append(float(dev[0] / dev[1]))
    assert sum(ratios) / len(ratios) == pytest.approx(4 / 3, rel=0.06)
