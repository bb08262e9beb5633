"""Dual adaptive training (Zheng et al., Nat. Mach. Intell. 2023).

Every block with an SEPN is modelled as ``y = f(x) + w * s(f(x))``. Each step measures the
physical system once and uses that measurement twice:

1. similarity step (SEPN parameters only): the distance between the twin's and the measured
   state (:func:`state_similarity`: L2-normalised intensities of an optical field, relative
   MSE of a real state) at the output, plus at every internal state in ``unitary`` mode;
   in ``separable`` mode each block's SEPN is fitted on that block alone, driven through the
   system's block-level access (extra, counted queries);
2. task step (optical parameters only): the twin is run with SEPN weight ``w`` and, with
   internal states, *state fusion* after every tapped block (a field takes the measured
   amplitude and keeps the twin's phase; a real state takes the measured value);
   at the output the measured class scores replace the twin's (as in PAT), so the loss value
   is the physical system's while its gradient flows through the SEPN-corrected twin.

Separable mode needs block-level access to the device: a system must be able to drive one
block with a chosen input field and measure its output alone. Systems that cannot refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonic_dat.calibration.fit import CalibrationSettings
from photonic_dat.exceptions import CapabilityError, ConfigError
from photonic_dat.methods.base import Method, OptimSettings, correct
from photonic_dat.methods.fusion import fuse_state, measured_forward
from photonic_dat.models.blocks import observe
from photonic_dat.models.pnn import PNN
from photonic_dat.models.readout import l2_normalise
from photonic_dat.systems.base import Measurement, PhysicalSystem

INTERNAL_STATES = ("none", "unitary", "separable")
SEPN_GRADIENTS = ("through", "stop")


@dataclass(frozen=True)
class DATSettings:
    """``internal_states``: none | unitary | separable. ``sepn_weight`` is ``w`` in the task
    forward from epoch ``sepn_start_epoch`` on (0 before: SEPNs learn by similarity only)."""

    internal_states: str = "none"
    sepn_weight: float = 1.0
    sepn_start_epoch: int = 20
    #: task-step gradient through the SEPNs ("through", the paper's) or around them ("stop":
    #: the forward keeps the corrected states, the backward uses the ideal block Jacobian)
    sepn_gradient: str = "through"
    #: output similarity on every measured output pixel / port ("plane") or on the readout's
    #: normalised class signals ("readout": the reference code compares the 10 readout ports
    #: of the intensities normalised over all 64)
    output_similarity: str = "plane"
    #: when the reference pattern shows drift, ``refit_steps`` extra similarity updates of the
    #: SEPNs on the next measured batch (0: none)
    refit_steps: int = 0

    def __post_init__(self) -> None:
        if self.sepn_gradient not in SEPN_GRADIENTS:
            raise ConfigError(
                f"sepn_gradient must be one of {SEPN_GRADIENTS}, got {self.sepn_gradient!r}"
            )
        if self.output_similarity not in ("plane", "readout"):
            raise ConfigError(
                f"output_similarity must be 'plane' or 'readout', got {self.output_similarity!r}"
            )
        if self.internal_states not in INTERNAL_STATES:
            raise ConfigError(
                f"internal_states must be one of {INTERNAL_STATES}, got {self.internal_states!r}"
            )
        if self.refit_steps < 0:
            raise ValueError(f"refit_steps must be >= 0, got {self.refit_steps}")
        if self.refit_steps and self.internal_states == "separable":
            raise ValueError(
                "dat.refit_steps works with internal_states none or unitary (a separable "
                "refit would measure every block again)"
            )


def similarity_loss(twin_intensity: Tensor, measured: Tensor) -> Tensor:
    """MSE of L2-normalised intensities (insensitive to an unknown detector gain)."""
    return F.mse_loss(l2_normalise(twin_intensity), l2_normalise(measured))


def relative_mse(twin: Tensor, measured: Tensor) -> Tensor:
    """MSE of a real state relative to the measured state's mean square (scale-aware: a
    crossbar's ADC output has a known scale that the next layer depends on)."""
    scale = measured.detach().square().mean().clamp_min(1e-12)
    return F.mse_loss(twin, measured) / scale


def state_similarity(state: Tensor, measured: Tensor) -> Tensor:
    """Similarity loss of one state against its measurement: :func:`similarity_loss` of the
    intensity for a complex optical field, :func:`relative_mse` for a real state."""
    if state.is_complex():
        return similarity_loss(observe(state), measured)
    return relative_mse(state, measured)


class DAT(Method):
    """Dual adaptive training (see the module docstring): ``sepns`` maps block indices to
    SEPNs (:func:`~photonic_dat.models.state_sepn.default_sepns`), ``settings`` chooses the
    internal states and the SEPN schedule, ``sepn_optim`` the SEPNs' optimiser (default:
    ``optim``)."""

    name = "dat"

    def __init__(
        self,
        twin: PNN,
        system: PhysicalSystem,
        optim: OptimSettings,
        sepns: dict[int, nn.Module],
        settings: DATSettings,
        sepn_optim: OptimSettings | None = None,
        calibration: CalibrationSettings | None = None,
    ) -> None:
        super().__init__(twin, system, optim, calibration)
        self.settings = settings
        self.sepns = nn.ModuleDict({str(k): m for k, m in sepns.items()})
        unknown = sorted(set(sepns) - set(range(len(twin.blocks))))
        if unknown:
            raise ConfigError(f"SEPNs given for blocks {unknown} that the PNN does not have")
        self.sepn_params = list(self.sepns.parameters())
        self.sepn_optimiser, self.sepn_scheduler = (sepn_optim or optim).build(self.sepn_params)
        self.taps: tuple[int, ...] = ()
        self.refits = 0
        self._refit_pending = 0
        if settings.internal_states != "none":
            self.taps = twin.internal_taps
            system.check_taps(self.taps)
        if settings.internal_states == "separable" and not system.capabilities.block_access:
            raise CapabilityError(
                "DAT separable mode needs block-level access to the physical system (drive one "
                "block with a chosen input and measure it alone); this system has none. Use "
                "dat.internal_states=unitary (needs internal taps) or none."
            )

    # -- forward models ---------------------------------------------------------------------
    def _hook(self, weight: float, fused: Measurement | None, through_sepn: bool = True):
        def hook(k: int, field: Tensor) -> Tensor:
            key = str(k)
            if weight != 0 and key in self.sepns:
                residual = self.sepns[key](field)
                field = field + weight * (residual if through_sepn else residual.detach())
            if fused is not None and k in fused.taps:
                field = fuse_state(field, fused.taps[k])
            return field

        return hook

    def corrected_run(
        self,
        fields: Tensor,
        weight: float = 1.0,
        fused: Measurement | None = None,
        through_sepn: bool = True,
    ):
        return self.twin.run(fields, hook=self._hook(weight, fused, through_sepn))

    @property
    def current_weight(self) -> float:
        return self.settings.sepn_weight if self.epoch >= self.settings.sepn_start_epoch else 0.0

    # -- the two steps ----------------------------------------------------------------------
    def _output_similarity(self, twin_field: Tensor, measured: Tensor) -> Tensor:
        if not twin_field.is_complex():  # a real state is read as it is
            return relative_mse(twin_field, measured)
        twin = self.twin.measured_output(observe(twin_field))
        if self.settings.output_similarity == "readout":
            readout = self.twin.readout
            return F.mse_loss(readout(twin), readout(measured)) / readout.temperature**2
        return similarity_loss(twin, measured)

    def _similarity_update(self, fields: Tensor, measured: Measurement, trace=None) -> float:
        if self.settings.internal_states == "separable":
            return self._separable_update(fields)
        trace = trace if trace is not None else self.corrected_run(fields)
        loss = self._output_similarity(trace.output, measured.output)
        for k in self.taps:
            loss = loss + state_similarity(trace.states[k], measured.taps[k])
        self._sepn_update(loss)
        return float(loss.detach())

    def _block_inputs(self, fields: Tensor) -> list[Tensor]:
        """The corrected twin's field entering each block (the best estimate of the device's)."""
        inputs = [fields]
        corrected = self._hook(1.0, None)

        def record(k: int, field: Tensor) -> Tensor:
            field = corrected(k, field)
            inputs.append(field)
            return field

        with torch.no_grad():
            self.twin.run(fields, hook=record)
        return inputs

    def _separable_update(self, fields: Tensor) -> float:
        """Fit each SEPN on its block alone: drive the block with the twin's estimate of its
        input field through block-level access and match the measured output."""
        params = self.display_params()
        inputs = self._block_inputs(fields)
        total = 0.0
        for key, sepn in self.sepns.items():
            k = int(key)
            measured = self.system.measure_block(k, params, inputs[k])
            with torch.no_grad():
                ideal = self.twin.run_block(k, inputs[k])
            loss = state_similarity(ideal + sepn(ideal), measured)
            self._sepn_update(loss)
            total += float(loss.detach())
        return total

    def _sepn_update(self, loss: Tensor) -> None:
        self.sepn_optimiser.zero_grad(set_to_none=True)
        loss.backward(inputs=self.sepn_params)
        self.sepn_optimiser.step()

    def on_drift(self, record: dict) -> bool:
        """The reference pattern shows drift: refit the SEPNs on the next measured batch."""
        if not self.settings.refit_steps:
            return False
        self._refit_pending = self.settings.refit_steps
        self.refits += 1
        return True

    def step(self, fields: Tensor, labels: Tensor) -> dict[str, float]:
        # the optical parameters stay fixed until the task update: both twin passes share
        # each block's physics (a mesh's transfer matrix is built once per step)
        with self.twin.caching_physics():
            pending = self.system.submit(self.display_params(), fields, self.taps)
            # the similarity forward needs no measurement: it runs while the device measures
            separable = self.settings.internal_states == "separable"
            trace = None if separable else self.corrected_run(fields)
            measured = pending.result()
            sim = self._similarity_update(fields, measured, trace)
            for _ in range(self._refit_pending):  # catch up with a drifted device: no new frames
                self._similarity_update(fields, measured)
            self._refit_pending = 0
            through = self.settings.sepn_gradient == "through"
            trace = self.corrected_run(fields, self.current_weight, measured, through)
            twin_scores = self.twin.readout(observe(trace.output))
            scores = measured_forward(twin_scores, self.twin.readout(measured.output))
            loss = self.task_update(scores, labels)
        n = len(labels)
        return {
            "task_loss": loss * n,
            "similarity_loss": sim * n,
            "correct_phys": correct(scores, labels),
            "correct_twin": correct(twin_scores.detach(), labels),
        }

    def end_epoch(self) -> None:
        super().end_epoch()
        self.sepn_scheduler.step()

    def modules(self) -> dict[str, nn.Module]:
        return {"pnn": self.twin, "sepns": self.sepns}

    def optimisers(self) -> dict[str, tuple[torch.optim.Optimizer, Any]]:
        return {**super().optimisers(), "sepn": (self.sepn_optimiser, self.sepn_scheduler)}
