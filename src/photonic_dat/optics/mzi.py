"""Interference optics: beamsplitters, Mach-Zehnder interferometers and rectangular meshes.

Conventions (all phases in radians):

* A beamsplitter with power split error ``e`` has the transfer ``[[r, i t], [i t, r]]`` with
  ``r = sqrt((1 + e) / 2)`` and ``t = sqrt((1 - e) / 2)``; ``e = 0`` is the ideal 50:50 splitter.
* An MZI is ``T = BS2 @ diag(exp(i theta), 1) @ BS1 @ diag(exp(i phi), 1)``: an external phase
  ``phi`` on the upper input arm, then an internal phase ``theta`` between the splitters. With
  ideal splitters ``|T[0, 0]| = |sin(theta / 2)|`` (cross state at ``theta = 0``).
* ``differential=True`` drives the internal phase push-pull, ``diag(exp(i theta / 2),
  exp(-i theta / 2))`` (the "Bloch" basis of neurophox and the paper's reference code): the
  same MZI times ``exp(-i theta / 2)``. An offset of ``theta`` then moves each arm by half
  of it, so at equal offset std a mesh is perturbed about 1 / 1.16 as much as with the
  single-arm heater.
* A rectangular (Clements) mesh of ``N`` ports has ``L`` layers of MZI *slots*, stored as
  ``(L, N // 2)`` tensors. Slot ``m`` of layer ``l`` couples ports ``p = 2 m + (l % 2)`` and
  ``p + 1``; slots with ``p + 1 >= N`` are empty (masked). An input phase layer
  ``diag(exp(i phi_in))`` acts before the first layer.

The mesh transfer matrix is built once per parameter update: groups of layers are swept over
the identity (2x2 blocks on row pairs, :mod:`photonic_dat.optics.mesh_sweep`) and the group
products multiplied by a log-depth tree, so a batch of fields is then propagated by a single
matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from photonic_dat.optics.mesh_sweep import group_products


def beamsplitter(split_error: Tensor) -> Tensor:
    """Transfer matrices ``(..., 2, 2)`` of beamsplitters with power-split errors ``e``."""
    if torch.is_complex(split_error):
        raise TypeError("split_error must be real")
    r = torch.sqrt((1 + split_error) / 2)
    t = torch.sqrt((1 - split_error) / 2)
    zero = torch.zeros_like(r)
    r_c = torch.complex(r, zero)
    it = torch.complex(zero, t)
    return torch.stack([torch.stack([r_c, it], -1), torch.stack([it, r_c], -1)], -2)


def mzi_elements(
    theta: Tensor,
    phi: Tensor,
    bs1_error: Tensor | None = None,
    bs2_error: Tensor | None = None,
    amplitude: Tensor | None = None,
    differential: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The four entries ``(T00, T01, T10, T11)`` of MZI transfer matrices, elementwise.

    ``amplitude`` is an optional real amplitude transmission (insertion loss) of each MZI;
    ``differential`` drives ``theta`` push-pull (see the module docstring).
    """
    if bs1_error is None:
        bs1_error = torch.zeros_like(theta)
    if bs2_error is None:
        bs2_error = torch.zeros_like(theta)
    r1, t1 = torch.sqrt((1 + bs1_error) / 2), torch.sqrt((1 - bs1_error) / 2)
    r2, t2 = torch.sqrt((1 + bs2_error) / 2), torch.sqrt((1 - bs2_error) / 2)
    e_theta = torch.polar(torch.ones_like(theta), theta)
    e_phi = torch.polar(torch.ones_like(phi), phi)
    i = 1j
    t00 = e_phi * (r1 * r2 * e_theta - t1 * t2)
    t01 = i * (r2 * t1 * e_theta + t2 * r1)
    t10 = i * e_phi * (t2 * r1 * e_theta + r2 * t1)
    t11 = r1 * r2 - t1 * t2 * e_theta
    if differential:
        common = torch.polar(torch.ones_like(theta), -theta / 2)
        amplitude = common if amplitude is None else amplitude * common
    if amplitude is not None:
        t00, t01, t10, t11 = (amplitude * t for t in (t00, t01, t10, t11))
    return t00, t01, t10, t11


def mzi_transfer(
    theta: Tensor, phi: Tensor, bs1_error=None, bs2_error=None, amplitude=None, differential=False
):
    """MZI transfer matrices ``(..., 2, 2)``; see :func:`mzi_elements`."""
    t00, t01, t10, t11 = mzi_elements(theta, phi, bs1_error, bs2_error, amplitude, differential)
    return torch.stack([torch.stack([t00, t01], -1), torch.stack([t10, t11], -1)], -2)


@dataclass(frozen=True)
class MeshLayout:
    """Slot geometry of a rectangular mesh of ``ports`` ports and ``layers`` layers."""

    ports: int
    layers: int

    def __post_init__(self) -> None:
        if self.ports < 2:
            raise ValueError(f"a mesh needs at least 2 ports, got ports={self.ports}")
        if self.layers < 1:
            raise ValueError(f"a mesh needs at least 1 layer, got layers={self.layers}")

    @property
    def slots(self) -> int:
        return self.ports // 2

    @property
    def shape(self) -> tuple[int, int]:
        return (self.layers, self.slots)

    def mask(self) -> Tensor:
        """Boolean ``(L, N // 2)``: which slots hold an MZI."""
        return _slot_mask(self.ports, self.layers)

    @property
    def num_mzis(self) -> int:
        return int(self.mask().sum())

    def neighbour_sum(self, values: Tensor) -> Tensor:
        """Sum of the values of the adjacent slots in the same layer (zero at the edges)."""
        values = values * self.mask().to(device=values.device, dtype=values.dtype)
        padded = torch.nn.functional.pad(values, (1, 1))
        return padded[..., :-2] + padded[..., 2:]


@lru_cache(maxsize=32)
def _slot_mask(ports: int, layers: int) -> Tensor:
    layer = torch.arange(layers)[:, None]
    slot = torch.arange(ports // 2)[None, :]
    return 2 * slot + (layer % 2) + 1 < ports


def chain_product(matrices: Tensor) -> Tensor:
    """``M[L-1] @ ... @ M[1] @ M[0]`` by a log-depth tree of batched products."""
    while matrices.shape[0] > 1:
        if matrices.shape[0] % 2:
            last = matrices[-1:]
            paired = matrices[1:-1:2] @ matrices[0:-1:2]
            matrices = torch.cat([paired, last])
        else:
            matrices = matrices[1::2] @ matrices[0::2]
    return matrices[0]


def mesh_transfer_matrix(
    layout: MeshLayout,
    theta: Tensor,
    phi: Tensor,
    phi_in: Tensor,
    *,
    bs_error: Tensor | None = None,
    amplitude: Tensor | None = None,
    differential: bool = False,
) -> Tensor:
    """The ``N x N`` transfer matrix of a rectangular mesh.

    Args:
        theta, phi: ``(L, N // 2)`` internal and external phases (rad).
        phi_in: ``(N,)`` input phase layer (rad).
        bs_error: optional ``(L, N // 2, 2)`` split errors of the two beamsplitters per MZI.
        amplitude: optional ``(L, N // 2)`` amplitude transmission of each MZI (loss).
        differential: internal phases driven push-pull (see the module docstring).
    """
    if theta.shape != layout.shape or phi.shape != layout.shape:
        raise ValueError(
            f"theta and phi must have shape {layout.shape}, got {tuple(theta.shape)} "
            f"and {tuple(phi.shape)}"
        )
    if phi_in.shape != (layout.ports,):
        raise ValueError(f"phi_in must have shape ({layout.ports},), got {tuple(phi_in.shape)}")
    bs1 = bs2 = None
    if bs_error is not None:
        bs1, bs2 = bs_error[..., 0], bs_error[..., 1]
    t00, t01, t10, t11 = mzi_elements(theta, phi, bs1, bs2, amplitude, differential)
    blocks = torch.stack((torch.stack((t00, t01), -1), torch.stack((t10, t11), -1)), -2)
    mesh = chain_product(group_products(blocks, layout.ports))
    return mesh * torch.polar(torch.ones_like(phi_in), phi_in)[None, :]


def apply_transfer(matrix: Tensor, fields: Tensor) -> Tensor:
    """Propagate a batch of port fields ``(B, N)`` through a transfer matrix ``(N, N)``."""
    return fields @ matrix.transpose(-1, -2)
