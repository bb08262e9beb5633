import math

import pytest
import torch

from photonic_dat.optics.haar import haar_theta, sensitivity_index
from photonic_dat.optics.mzi import MeshLayout, mesh_transfer_matrix


def _mean_power(sample, n=24, trials=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.zeros(n, n)
    for _ in range(trials):
        p += sample(g).abs() ** 2 / trials
    return p * n  # 1 everywhere for a Haar-random unitary


def test_haar_initialised_mesh_spreads_power_like_a_haar_unitary():
    n = 24
    layout = MeshLayout(n, n)

    def mesh(init):
        def sample(g):
            theta = (
                haar_theta(n, n, g)
                if init == "haar"
                else torch.rand(layout.shape, generator=g) * 2 * math.pi
            )
            phi = torch.rand(layout.shape, generator=g) * 2 * math.pi
            return mesh_transfer_matrix(
                layout, theta, phi, torch.rand(n, generator=g) * 2 * math.pi
            )

        return sample

    def haar(g):
        z = torch.randn(n, n, generator=g, dtype=torch.complex64)
        return torch.linalg.qr(z)[0]

    reference = _mean_power(haar)
    ours = _mean_power(mesh("haar"))
    uniform = _mean_power(mesh("uniform"))
    # spread of the mean |U_ij|^2 over (i, j): Haar-like for our init, localised for uniform theta
    assert abs(float(ours.std()) - float(reference.std())) < 0.1
    assert float(uniform.std()) > 2 * float(reference.std())
    assert float(ours.min()) > 0.2


def test_sensitivity_index_shape_and_range():
    alpha = sensitivity_index(8, 8)
    assert alpha.shape == (8, 4)
    assert float(alpha.min()) == 1
    assert float(alpha.max()) <= 8
    with pytest.raises(ValueError, match="layers <= ports"):
        sensitivity_index(4, 6)
