"""Physics-aware training (Wright et al. 2022): forward on the physical system, backward
through the ideal twin (:func:`photonic_dat.methods.fusion.measured_forward`).

The measurement enters at the class scores: the loss and its gradient with respect to the
scores are those of the physical system, and the readout's Jacobian (the per-sample intensity
normalisation) is the twin's. Replacing the raw intensity instead, so that the normalisation's
Jacobian is evaluated at the measured intensities but applied to the twin's, was measured to
make PAT diverge on MNIST under bs = ps = 0.06 errors (validation accuracy 27 % -> 12 % in
8 epochs, against 25 % -> 70 % with the scores; see ``benchmarks/README.md``).
"""

from __future__ import annotations

from torch import Tensor

from photonic_dat.methods.base import Method, correct
from photonic_dat.methods.fusion import measured_forward
from photonic_dat.models.blocks import observe


class PAT(Method):
    """Physics-aware training: measured class scores forward, the twin's gradient backward."""

    name = "pat"

    def step(self, fields: Tensor, labels: Tensor) -> dict[str, float]:
        measured = self.system.measure(self.display_params(), fields).output
        twin_scores = self.twin.readout(observe(self.twin.run(fields).output))
        scores = measured_forward(twin_scores, self.twin.readout(measured))
        loss = self.task_update(scores, labels)
        return {
            "task_loss": loss * len(labels),
            "correct_phys": correct(scores, labels),
            "correct_twin": correct(twin_scores.detach(), labels),
        }
