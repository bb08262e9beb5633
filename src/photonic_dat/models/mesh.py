"""A rectangular MZI mesh block: trainable phases, ideal or perturbed physics."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from photonic_dat.errors.specs import MeshErrorSpec
from photonic_dat.models.blocks import Block, BlockErrors
from photonic_dat.optics.haar import haar_theta
from photonic_dat.optics.mzi import MeshLayout, apply_transfer, mesh_transfer_matrix
from photonic_dat.optics.phase import TWO_PI, wrap_phase

INITS = ("haar", "uniform", "identity-cross")
#: how the internal phase is driven: a heater on one arm, or push-pull (+-theta / 2)
INTERNAL_PHASES = ("single", "differential")


class MeshBlock(Block):
    """``N``-port rectangular mesh with ``L`` layers of MZIs and an input phase layer.

    Trainable parameters: ``theta``, ``phi`` of shape ``(L, N // 2)`` and ``phi_in`` ``(N,)``
    (rad). Empty slots of odd layers carry parameters that have no effect.
    """

    measurable = True

    def __init__(
        self,
        ports: int,
        layers: int | None = None,
        *,
        init: str = "haar",
        generator: torch.Generator | None = None,
        internal_phase: str = "single",
    ) -> None:
        super().__init__()
        self.layout = MeshLayout(ports, layers if layers is not None else ports)
        if init not in INITS:
            raise ValueError(f"unknown mesh init {init!r}; choose one of {INITS}")
        if internal_phase not in INTERNAL_PHASES:
            raise ValueError(
                f"unknown internal phase drive {internal_phase!r}; choose one of {INTERNAL_PHASES}"
            )
        self.differential = internal_phase == "differential"
        shape = self.layout.shape
        two_pi = 2 * math.pi
        if init == "haar":
            theta = haar_theta(ports, self.layout.layers, generator)
            phi = torch.rand(shape, generator=generator) * two_pi
        elif init == "uniform":
            theta = torch.rand(shape, generator=generator) * two_pi
            phi = torch.rand(shape, generator=generator) * two_pi
        else:  # all MZIs in the cross state: a permutation
            theta = torch.zeros(shape)
            phi = torch.zeros(shape)
        self.theta = nn.Parameter(theta)
        self.phi = nn.Parameter(phi)
        self.phi_in = nn.Parameter(torch.rand(ports, generator=generator) * two_pi)
        #: the transfer matrix kept by :meth:`cache_physics`: (key, matrix)
        self._kept: tuple[tuple, Tensor] | None = None
        self._caching = False

    def cache_physics(self, enabled: bool) -> None:
        self._caching, self._kept = enabled, None

    @property
    def ports(self) -> int:
        return self.layout.ports

    @property
    def field_shape(self) -> tuple[int, ...]:
        return (self.layout.ports,)

    def transfer_matrix(self, errors: BlockErrors | None = None) -> Tensor:
        """The mesh's ``N x N`` transfer matrix, ideal or with ``errors``.

        While :meth:`cache_physics` is on, the matrix is kept and reused as long as the
        parameters and the error tensors are unchanged (their version counters: an optimiser
        step changes them in place) and the same error mapping is given.
        """
        if not self._caching:
            return self._transfer(errors)
        tensors = (self.theta, self.phi, self.phi_in, *(errors or {}).values())
        key = (id(errors) if errors else None, *(t._version for t in tensors))
        needs_graph = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
        if (
            self._kept is None
            or self._kept[0] != key
            or (needs_graph and not self._kept[1].requires_grad)
        ):
            self._kept = (key, self._transfer(errors))
        matrix = self._kept[1]
        return matrix if torch.is_grad_enabled() else matrix.detach()

    def _transfer(self, errors: BlockErrors | None) -> Tensor:
        if not errors:
            return mesh_transfer_matrix(
                self.layout, self.theta, self.phi, self.phi_in, differential=self.differential
            )
        # push-pull arms each wrap at 2 pi, so theta (their difference) wraps at 4 pi
        theta = wrap_phase(self.theta, 2 * TWO_PI if self.differential else TWO_PI)
        phi, phi_in = wrap_phase(self.phi), wrap_phase(self.phi_in)
        kappa = errors.get("crosstalk")
        if kappa is not None:
            theta = theta + kappa * self.layout.neighbour_sum(theta)
            phi = phi + kappa * self.layout.neighbour_sum(phi)
        theta = theta + errors.get("theta_offset", 0.0)
        phi = phi + errors.get("phi_offset", 0.0)
        phi_in = phi_in + errors.get("phi_in_offset", 0.0)
        return mesh_transfer_matrix(
            self.layout,
            theta,
            phi,
            phi_in,
            bs_error=errors.get("bs_error"),
            amplitude=errors.get("amplitude"),
            differential=self.differential,
        )

    def forward(self, field: Tensor, errors: BlockErrors | None = None) -> Tensor:
        return apply_transfer(self.transfer_matrix(errors), field)

    def probe_parameters(self, generator: torch.Generator) -> dict[str, Tensor]:
        """Phases uniform in [0, 2pi) for every shifter."""
        two_pi = 2 * math.pi
        return {
            name: torch.rand(p.shape, generator=generator) * two_pi
            for name, p in self.named_parameters()
        }

    def draw_errors(self, spec: object, generator: torch.Generator) -> dict[str, Tensor]:
        if not isinstance(spec, MeshErrorSpec):
            return {}
        shape = self.layout.shape
        out: dict[str, Tensor] = {}
        if spec.bs_std > 0:
            bs = torch.randn(*shape, 2, generator=generator) * spec.bs_std
            out["bs_error"] = bs.clamp(-0.99, 0.99)
        if spec.ps_std > 0:
            out["theta_offset"] = torch.randn(shape, generator=generator) * spec.ps_std
            out["phi_offset"] = torch.randn(shape, generator=generator) * spec.ps_std
            out["phi_in_offset"] = torch.randn(self.ports, generator=generator) * spec.ps_std
        if spec.crosstalk > 0:
            out["crosstalk"] = torch.tensor(float(spec.crosstalk))
        if spec.loss_db_mean > 0 or spec.loss_db_std > 0:
            db = spec.loss_db_mean + torch.randn(shape, generator=generator) * spec.loss_db_std
            out["amplitude"] = 10 ** (-db.clamp(min=0) / 20)
        return out
