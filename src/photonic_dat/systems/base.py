"""The measurement interface: the only way a trainer reaches a physical system.

A physical system takes the optical parameters to display and a batch of input fields, and
returns detected intensities only: the output plane and, if asked and supported, the states
after internal blocks. Every input sample sent counts as one query, and every plane read for
it as one frame (on hardware, one camera exposure or photodiode reading per plane: the output
and each internal plane); every new set of parameters counts as one parameter upload (an SLM
/ DAC refresh).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from photonic_dat.exceptions import CapabilityError


@dataclass(frozen=True)
class Capabilities:
    """What a system can measure.

    Attributes:
        internal_taps: block indices whose output intensity can be measured.
        block_access: whether a single block can be driven with a chosen input field and its
            output measured (needed by DAT's separable mode).
    """

    internal_taps: tuple[int, ...] = ()
    block_access: bool = False


@dataclass
class Measurement:
    """Detected intensities of one batch: the output plane and requested internal taps."""

    output: Tensor
    taps: dict[int, Tensor] = field(default_factory=dict)


OUTPUT_PLANE = "output"


def tap_plane(index: int) -> str:
    """Name of the internal plane after block ``index`` (a camera / photodiode array)."""
    return f"tap:{index}"


def block_plane(index: int) -> str:
    """Name of the plane measured when block ``index`` is driven alone."""
    return f"block:{index}"


@dataclass
class QueryCounter:
    """Counts what a session with a physical system costs.

    ``samples`` are input samples sent through the whole system and ``block_samples`` those
    sent through a single block; ``frames`` counts detector frames per measured plane: a
    sample measured at the output and at two internal planes costs three frames (one camera
    exposure or photodiode reading per plane), so DAT with internal states pays for what it
    reads. ``parameter_uploads`` counts new parameter sets written to the device.
    """

    samples: int = 0
    block_samples: int = 0
    parameter_uploads: int = 0
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All input samples sent (whole-system and block-level)."""
        return self.samples + self.block_samples

    @property
    def total_frames(self) -> int:
        """Every detector frame read, over all planes."""
        return sum(self.frames.values())

    def add_frames(self, plane: str, count: int) -> None:
        self.frames[plane] = self.frames.get(plane, 0) + int(count)

    def as_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "block_samples": self.block_samples,
            "parameter_uploads": self.parameter_uploads,
            "total": self.total,
            "frames": dict(sorted(self.frames.items())),
            "total_frames": self.total_frames,
        }


class PhysicalSystem(ABC):
    """Base class of physical systems (simulated or hardware adapters)."""

    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self.queries = QueryCounter()
        self._displayed: dict[str, Tensor] = {}

    def _count(self, params: Mapping[str, Tensor], samples: int, block: bool = False) -> None:
        changed = params.keys() != self._displayed.keys() or any(
            not torch.equal(value, self._displayed[name]) for name, value in params.items()
        )
        if changed:  # new settings must be written to the device (SLM frame, DAC update)
            self.queries.parameter_uploads += 1
            self._displayed = {name: value.detach().clone() for name, value in params.items()}
        if block:
            self.queries.block_samples += samples
        else:
            self.queries.samples += samples

    def save_device(self, directory) -> None:  # noqa: B027 (optional hook)
        """Record what identifies this device in a run directory (nothing by default)."""

    def check_taps(self, taps: Sequence[int]) -> None:
        missing = sorted(set(taps) - set(self.capabilities.internal_taps))
        if missing:
            raise CapabilityError(
                f"this system cannot measure internal states after blocks {missing}; "
                f"it offers taps {list(self.capabilities.internal_taps)}"
            )

    def measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: Sequence[int] = ()
    ) -> Measurement:
        """Display ``params``, send ``fields`` (B, ...), return the detected intensities."""
        self.check_taps(taps)
        batch = fields.shape[0]
        self._count(params, batch)
        self.queries.add_frames(OUTPUT_PLANE, batch)
        for k in taps:
            self.queries.add_frames(tap_plane(k), batch)
        return self._measure(params, fields, tuple(taps))

    def measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        """Drive block ``index`` alone with input ``fields``; return its output intensity."""
        if not self.capabilities.block_access:
            raise CapabilityError(
                "this system has no block-level access, which DAT's separable mode needs "
                "(each block driven with a chosen input and measured alone); use "
                "dat.internal_states=unitary or none"
            )
        self._count(params, fields.shape[0], block=True)
        self.queries.add_frames(block_plane(index), fields.shape[0])
        return self._measure_block(index, params, fields)

    @abstractmethod
    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement: ...

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        raise CapabilityError("block-level measurement is not implemented by this system")
