"""What every training method shares: the optical optimiser, evaluation and bookkeeping.

A method trains on one batch per :meth:`Method.step` and returns a metrics dict, so that the
training loop, the CLI and the reports never branch on the method's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonic_dat.calibration.fit import CalibrationSettings, calibrate
from photonic_dat.models.blocks import observe
from photonic_dat.models.pnn import PNN
from photonic_dat.systems.base import PhysicalSystem

_FUSED_ADAM = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


@dataclass(frozen=True)
class OptimSettings:
    """Adam with step decay, as in the reference schedule."""

    lr: float = 1e-3
    lr_step: int = 10
    lr_gamma: float = 0.5

    def build(self, params) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
        params = list(params)
        # one fused kernel for all tensors: the per-tensor loop costs more than the update
        # itself for the many small SEPN tensors (torch >= 2.4 has it on the CPU)
        fused = _FUSED_ADAM and all(p.device.type in ("cpu", "cuda") for p in params)
        opt = torch.optim.Adam(params, lr=self.lr, fused=fused or None)
        return opt, torch.optim.lr_scheduler.StepLR(
            opt, step_size=self.lr_step, gamma=self.lr_gamma
        )


def correct(scores: Tensor, labels: Tensor) -> int:
    return int((scores.argmax(dim=1) == labels).sum())


class Method(ABC):
    """A training method: a twin, a physical system and optimisers."""

    name: str = ""
    #: whether the method queries the physical system while training
    uses_system: bool = True

    def __init__(
        self,
        twin: PNN,
        system: PhysicalSystem,
        optim: OptimSettings,
        calibration: CalibrationSettings | None = None,
    ) -> None:
        self.twin = twin
        self.system = system
        self.optical_params = list(twin.blocks.parameters())
        self.optimiser, self.scheduler = optim.build(self.optical_params)
        self.calibration = calibration
        self.epoch = 0

    # -- before training ----------------------------------------------------------------------
    def prepare(self, images: Tensor, generator: torch.Generator) -> dict[str, object]:
        """Before the first epoch: with calibration settings, fit the twin's error parameters
        to probes of the system driven with training ``images`` (the twin then carries them
        as ``known_errors``). Returns a record for the run's result."""
        if self.calibration is None:
            return {}
        fitted, record = calibrate(
            self.twin, self.system, images, self.encode, self.calibration, generator
        )
        self.twin.known_errors = fitted
        return {"calibration": record}

    # -- schedule ---------------------------------------------------------------------------
    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def end_epoch(self) -> None:
        self.scheduler.step()

    # -- training ---------------------------------------------------------------------------
    @abstractmethod
    def step(self, fields: Tensor, labels: Tensor) -> dict[str, float]:
        """One training step on an encoded batch; returns summed metrics of the batch."""

    def on_drift(self, record: dict) -> bool:
        """Told of every reference-pattern measurement (``record``: ``power``, ``change`` since
        the last refit, ...); returns whether the method refits to the drifted device."""
        return False

    def task_update(self, scores: Tensor, labels: Tensor) -> float:
        """Cross-entropy on ``scores``; update the optical parameters only."""
        loss = F.cross_entropy(scores, labels)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward(inputs=self.optical_params)
        self.optimiser.step()
        return float(loss.detach())

    @property
    def device(self) -> torch.device:
        """Where the twin computes (``train.device``)."""
        return next(iter(self.twin.parameters())).device

    @torch.no_grad()
    def encode(self, images: Tensor) -> Tensor:
        """Digital input encoding of raw images (moved to the twin's device) into the PNN's
        input field (the system is told which images the fields encode: a remote device
        encodes them on its own side)."""
        fields = self.twin.encoder(images.to(self.device, non_blocking=True))
        self.system.register_inputs(fields, images)
        return fields

    # -- evaluation -------------------------------------------------------------------------
    def display_params(self) -> dict[str, Tensor]:
        return {k: v.detach() for k, v in self.twin.optical_parameters().items()}

    @torch.no_grad()
    def physical_scores(self, fields: Tensor) -> Tensor:
        """Class scores measured on the physical system (deployment)."""
        return self.twin.readout(self.system.measure(self.display_params(), fields).output)

    @torch.no_grad()
    def twin_scores(self, fields: Tensor) -> Tensor:
        """Class scores of the ideal numerical model."""
        return self.twin.readout(observe(self.twin.run(fields).output))

    @torch.no_grad()
    def selection_scores(self, fields: Tensor) -> Tensor:
        """Scores used for model selection on the validation split."""
        return self.physical_scores(fields) if self.uses_system else self.twin_scores(fields)

    # -- checkpoints ------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        """Modules whose parameters make up a checkpoint."""
        return {"pnn": self.twin}

    def optimisers(self) -> dict[str, tuple[torch.optim.Optimizer, Any]]:
        """Optimisers with their learning-rate schedules, by name (saved in training
        checkpoints so that a resumed run continues the same schedule)."""
        return {"optical": (self.optimiser, self.scheduler)}
