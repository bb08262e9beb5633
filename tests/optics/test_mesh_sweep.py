import pytest
import torch

from photonic_dat.optics.mesh_sweep import _LayerSweep, group_products, real_blocks
from photonic_dat.optics.mzi import chain_product, mzi_transfer


def _blocks(layers, ports, gen):
    theta = torch.rand(layers, ports // 2, generator=gen, dtype=torch.float64) * 6.3
    phi = torch.rand(layers, ports // 2, generator=gen, dtype=torch.float64) * 6.3
    bs = 0.1 * torch.randn(layers, ports // 2, generator=gen, dtype=torch.float64)
    return mzi_transfer(theta, phi, bs, -bs, 0.9 + 0.1 * torch.rand_like(theta))


def _dense_product(blocks, ports):
    """Reference: each layer as a dense matrix, multiplied in order."""
    m = torch.eye(ports, dtype=blocks.dtype)
    for layer in range(blocks.shape[0]):
        d = torch.eye(ports, dtype=blocks.dtype)
        for slot in range(blocks.shape[1]):
            p = 2 * slot + layer % 2
            if p + 1 < ports:
                d[p : p + 2, p : p + 2] = blocks[layer, slot]
        m = d @ m
    return m


def test_real_blocks_act_like_the_complex_blocks(gen):
    blocks = _blocks(3, 4, gen)
    x = torch.randn(3, 2, 2, 5, generator=gen, dtype=torch.complex128)
    y = blocks @ x
    stacked = torch.stack((x.real, x.imag), -2).reshape(3, 2, 4, 5)
    out = real_blocks(blocks) @ stacked
    assert torch.allclose(torch.complex(out[..., 0::2, :], out[..., 1::2, :]), y, atol=1e-12)


@pytest.mark.parametrize(
    "layers,ports,groups", [(1, 2, 1), (3, 5, 1), (8, 8, 2), (9, 7, 2), (16, 16, None), (13, 6, 4)]
)
def test_group_products_multiply_to_the_mesh(layers, ports, groups, gen):
    blocks = _blocks(layers, ports, gen)
    mesh = chain_product(group_products(blocks, ports, groups))
    assert torch.allclose(mesh, _dense_product(blocks, ports), atol=1e-12)


def test_sweep_backward_matches_finite_differences(gen):
    blocks = real_blocks(_blocks(4, 5, gen)).reshape(2, 2, 2, 4, 4).requires_grad_()
    start = torch.randn(2, 5, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_LayerSweep.apply, (blocks, start))


def test_bad_block_shape_is_rejected():
    with pytest.raises(ValueError, match="blocks must be"):
        group_products(torch.zeros(4, 3, 2, 2, dtype=torch.complex64), 8)
