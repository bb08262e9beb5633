"""The transfer matrix of a rectangular mesh from its layers of 2x2 blocks, fast on a CPU.

A layer of a rectangular mesh mixes disjoint pairs of neighbouring ports with 2x2 blocks, so
applying it to an ``N x K`` matrix costs one batched product of ``2 x 2`` blocks with
``2 x K`` row pairs (``O(N K)``), where a dense layer matrix costs ``O(N^2 K)``. The layers
are cut into ``G`` consecutive groups; every group is swept over an identity matrix (all
groups at once, as a batch), and the ``G`` group products are then multiplied by a log-depth
tree of dense products (:func:`photonic_dat.optics.mzi.chain_product`). Small meshes cost
tensor operations more than arithmetic, so this does in ``L / G + log2(G)`` batched steps
what a dense product of every layer does with ``L`` dense layer matrices.

The sweep runs in real arithmetic: a complex 2x2 block acting on the rows ``(p, p + 1)`` is a
real 4x4 matrix acting on ``(Re x_p, Im x_p, Re x_{p+1}, Im x_{p+1})`` (PyTorch's complex
products on a CPU are several times slower than real ones of the same size). It is one
:class:`torch.autograd.Function` with a hand-written backward (a reverse sweep), so autograd
records one node for all layers of a group instead of several per layer.

Slot ``m`` of layer ``l`` couples ports ``p = 2 m + (l % 2)`` and ``p + 1``; slots with
``p + 1 >= N`` are empty: their blocks are ignored and get zero gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["group_products", "real_blocks"]


def real_blocks(blocks: Tensor) -> Tensor:
    """Complex ``(..., 2, 2)`` blocks as real ``(..., 4, 4)`` matrices acting on
    ``(Re x0, Im x0, Re x1, Im x1)``."""
    re, im = blocks.real, blocks.imag
    rows = []
    for i in range(2):
        top = [torch.stack((re[..., i, j], -im[..., i, j]), -1) for j in range(2)]
        bottom = [torch.stack((im[..., i, j], re[..., i, j]), -1) for j in range(2)]
        rows += [torch.cat(top, -1), torch.cat(bottom, -1)]
    return torch.stack(rows, -2)


def _pairs(layer: int, ports: int) -> tuple[int, int]:
    """First port and number of used slots of ``layer``."""
    offset = layer % 2
    return offset, (ports - offset) // 2


def _rows(x: Tensor, offset: int, used: int) -> Tensor:
    """The rows one layer mixes, ``(..., N, 2, K)`` -> ``(..., used, 4, K)``."""
    part = x[..., offset : offset + 2 * used, :, :]
    return part.reshape(*x.shape[:-3], used, 4, x.shape[-1])


def _apply(block: Tensor, x: Tensor, offset: int, used: int) -> Tensor:
    """Apply one layer's real ``(..., used, 4, 4)`` blocks to ``x`` (``(..., N, 2, K)``)."""
    stop = offset + 2 * used
    mixed = (block @ _rows(x, offset, used)).reshape(*x.shape[:-3], 2 * used, 2, x.shape[-1])
    if offset == 0 and stop == x.shape[-3]:
        return mixed
    return torch.cat((x[..., :offset, :, :], mixed, x[..., stop:, :, :]), dim=-3)


class _LayerSweep(torch.autograd.Function):
    """``x -> D[L-1] ... D[0] x`` for real 4x4 blocks ``(..., L, N // 2, 4, 4)`` and real
    states ``(..., N, 2, K)`` (the real and imaginary part of each row)."""

    @staticmethod
    def forward(ctx, blocks: Tensor, start: Tensor) -> Tensor:
        ports = start.shape[-3]
        inputs = []
        x = start
        for layer in range(blocks.shape[-4]):
            offset, used = _pairs(layer, ports)
            inputs.append(x)
            x = _apply(blocks[..., layer, :used, :, :], x, offset, used)
        ctx.save_for_backward(blocks, *inputs)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        blocks, *inputs = ctx.saved_tensors
        ports = grad.shape[-3]
        grad_blocks = torch.zeros_like(blocks) if ctx.needs_input_grad[0] else None
        for layer in reversed(range(blocks.shape[-4])):
            offset, used = _pairs(layer, ports)
            block = blocks[..., layer, :used, :, :]
            if grad_blocks is not None:
                rows = _rows(inputs[layer], offset, used)
                grad_blocks[..., layer, :used, :, :] = _rows(grad, offset, used) @ rows.mT
            grad = _apply(block.mT, grad, offset, used)
        return grad_blocks, grad if ctx.needs_input_grad[1] else None


def _groups(layers: int) -> int:
    """Number of layer groups: about ``sqrt(layers)``, a power of two, each group even-sized."""
    groups = 1
    while groups * 2 <= math.isqrt(layers) and layers // (groups * 2) >= 2:
        groups *= 2
    return groups


def group_products(blocks: Tensor, ports: int, groups: int | None = None) -> Tensor:
    """The products of ``groups`` consecutive groups of mesh layers, ``(G, N, N)`` complex.

    Group ``g`` holds layers ``g * size`` to ``(g + 1) * size - 1`` (``size`` even; identity
    layers pad the last group), so the mesh's transfer matrix is
    ``out[G-1] @ ... @ out[1] @ out[0]``.

    Args:
        blocks: ``(L, ports // 2, 2, 2)`` complex; ``blocks[l, m]`` is the transfer of slot
            ``m`` of layer ``l`` (ports ``2 m + l % 2`` and the next one; empty slots are
            ignored).
        ports: number of ports ``N``.
        groups: number of groups swept side by side (default about ``sqrt(L)``).
    """
    if blocks.dim() != 4 or blocks.shape[-2:] != (2, 2) or blocks.shape[1] != ports // 2:
        raise ValueError(
            f"blocks must be (L, {ports // 2}, 2, 2) for {ports} ports, got {tuple(blocks.shape)}"
        )
    layers = blocks.shape[0]
    groups = _groups(layers) if groups is None else groups
    size = -(-layers // groups)
    size += size % 2  # every group starts with an even layer
    real = real_blocks(blocks)
    pad = groups * size - layers
    if pad:  # identity layers after the last one
        eye = torch.eye(4, dtype=real.dtype, device=real.device)
        real = torch.cat((real, eye.expand(pad, real.shape[1], 4, 4)))
    real = real.reshape(groups, size, *real.shape[1:])
    eye = torch.eye(ports, dtype=real.dtype, device=real.device)
    start = torch.stack((eye, torch.zeros_like(eye)), 1).expand(groups, ports, 2, ports)
    swept = _LayerSweep.apply(real, start.contiguous())
    return torch.complex(swept[..., 0, :], swept[..., 1, :])
