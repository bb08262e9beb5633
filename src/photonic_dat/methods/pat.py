"""Physics-aware training (Wright et al. 2022): forward on the physical system, backward
through the ideal twin (:func:`photonic_dat.methods.fusion.measured_forward`)."""

from __future__ import annotations

from torch import Tensor

from photonic_dat.methods.base import Method, correct
from photonic_dat.methods.fusion import measured_forward
from photonic_dat.optics.detectors import intensity


class PAT(Method):
    name = "pat"

    def step(self, fields: Tensor, labels: Tensor) -> dict[str, float]:
        measured = self.system.measure(self.display_params(), fields).output
        twin_intensity = intensity(self.twin.run(fields).output)
        scores = self.twin.readout(measured_forward(twin_intensity, measured))
        loss = self.task_update(scores, labels)
        return {
            "task_loss": loss * len(labels),
            "correct_phys": correct(scores, labels),
            "correct_twin": correct(self.twin.readout(twin_intensity.detach()), labels),
        }
