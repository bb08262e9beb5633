"""In-silico training: the ideal numerical model only; deployed directly afterwards."""

from __future__ import annotations

from torch import Tensor

from photonic_dat.methods.base import Method, correct
from photonic_dat.models.blocks import observe


class InSilico(Method):
    """Train the twin alone (no query); deployed directly on the physical system."""

    name = "insilico"
    uses_system = False

    def step(self, fields: Tensor, labels: Tensor) -> dict[str, float]:
        scores = self.twin.readout(observe(self.twin.run(fields).output))
        loss = self.task_update(scores, labels)
        return {"task_loss": loss * len(labels), "correct_twin": correct(scores, labels)}


class Calibrated(InSilico):
    """Calibration, then in-silico training on the calibrated twin: what a lab does before
    any hardware-in-the-loop training, and the baseline DAT must beat. The probes are spent
    in :meth:`~photonic_dat.methods.base.Method.prepare`; the epoch is selected on the
    physical validation split like PAT's and DAT's."""

    name = "calibration"
    uses_system = True
