"""The live view of a run: a per-batch progress bar and, optionally, TensorBoard scalars.

The bar counts batches over the whole run (so its time left covers every remaining epoch)
and shows the epoch, the detector frames read so far, the frame rate since the bar started,
the last batch's task loss and the last validation accuracy. TensorBoard (``train.tensorboard:
true``, the ``tensorboard`` extra) receives per-batch losses and accuracies, the frame count
and rate, and every per-epoch metric, at the run's global batch step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from photonic_dat.exceptions import ConfigError
from photonic_dat.systems.base import PhysicalSystem


class ProgressBar:
    """A tqdm bar over all batches of a run, resumed at ``done``."""

    def __init__(
        self, system: PhysicalSystem, total: int, done: int, desc: str, enabled: bool
    ) -> None:
        self.system = system
        self.enabled = enabled
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=desc,
            unit="batch",
            disable=not enabled,
            leave=False,
            dynamic_ncols=True,
        )
        self._start = time.perf_counter()
        self._frames0 = system.queries.total_frames
        self._val = "-"

    def frame_rate(self) -> float:
        """Detector frames per second since the bar started."""
        elapsed = time.perf_counter() - self._start
        return (self.system.queries.total_frames - self._frames0) / max(elapsed, 1e-9)

    def batch(self, epoch: int, loss: float | None) -> None:
        if not self.enabled:
            return
        self.bar.update(1)
        self.bar.set_postfix(
            epoch=epoch + 1,
            frames=f"{self.system.queries.total_frames:,}",
            fps=f"{self.frame_rate():.0f}",
            loss="-" if loss is None else f"{loss:.3f}",
            val=self._val,
            refresh=False,
        )

    def epoch(self, val_score: float) -> None:
        self._val = f"{val_score:.3f}"

    def close(self) -> None:
        self.bar.close()


def _summary_writer(directory: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "train.tensorboard: needs the tensorboard package "
            "(pip install 'photonic-dat[tensorboard]')"
        ) from None
    return SummaryWriter(log_dir=str(directory), purge_step=purge_step)


class TensorBoardLog:
    """Scalars of a run in ``directory`` (TensorBoard event files).

    Args:
        directory: the event-file folder (``RUN_DIR/tensorboard``).
        resume_step: the global step (batches done) the run continues from: events an
            interrupted attempt wrote after it are purged, so that the curves show one
            continuous run.
    """

    def __init__(self, directory: Path, resume_step: int = 0) -> None:
        self.writer = _summary_writer(directory, resume_step + 1)
        self._start = time.perf_counter()
        self._frames0: int | None = None

    def batch(self, step: int, metrics: dict[str, float], size: int, frames: int) -> None:
        """Per-batch scalars: ``metrics`` summed over a batch of ``size``; ``frames`` read so
        far (the rate counts from the first batch this writer saw)."""
        if self._frames0 is None:
            self._frames0, self._start = frames, time.perf_counter()
        fps = (frames - self._frames0) / max(time.perf_counter() - self._start, 1e-9)
        names = {
            "task_loss": "batch/task_loss",
            "similarity_loss": "batch/similarity_loss",
            "correct_phys": "batch/accuracy_physical",
            "correct_twin": "batch/accuracy_twin",
        }
        for key, tag in names.items():
            if key in metrics:
                self.writer.add_scalar(tag, metrics[key] / size, step)
        self.writer.add_scalar("device/frames", frames, step)
        self.writer.add_scalar("device/frames_per_second", fps, step)

    def epoch(self, step: int, record: dict[str, Any]) -> None:
        for key, value in record.items():
            if key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(f"epoch/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
