"""The measurement interface: the only way a trainer reaches a physical system.

A physical system takes the optical parameters to display and a batch of input fields, and
returns detected intensities only: the output plane and, if asked and supported, the states
after internal blocks. Every input sample sent counts as one query, and every plane read for
it as one frame (on hardware, one camera exposure or photodiode reading per plane: the output
and each internal plane); every new set of parameters counts as one parameter upload (an SLM
/ DAC refresh).
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from photonic_dat.exceptions import CapabilityError
from photonic_dat.systems.timing import DeviceTimings


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


class PendingMeasurement:
    """A measurement under way (:meth:`PhysicalSystem.submit`); :meth:`result` waits for it."""

    def __init__(self, result: Callable[[], Measurement]) -> None:
        self._result = result

    def result(self) -> Measurement:
        return self._result()


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
    reads. ``parameter_uploads`` counts new parameter sets written to the device, and
    ``device_seconds`` what frames and uploads cost at the device's declared timings.
    """

    samples: int = 0
    block_samples: int = 0
    parameter_uploads: int = 0
    frames: dict[str, int] = field(default_factory=dict)
    device_seconds: float = 0.0

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
            "device_seconds": self.device_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueryCounter:
        return cls(
            int(data["samples"]),
            int(data["block_samples"]),
            int(data["parameter_uploads"]),
            {str(k): int(v) for k, v in data["frames"].items()},
            float(data.get("device_seconds", 0.0)),
        )


class MeasurementRecorder(Protocol):
    """Receives every measurement a system makes (the crash-safe log of
    :mod:`photonic_dat.systems.measurement_log`)."""

    def record(
        self,
        *,
        params: Mapping[str, Tensor],
        fields: Tensor,
        planes: Mapping[str, Tensor],
        block: int | None,
        inputs: tuple[str, Tensor] | None,
        start: float,
        latency: float,
        exposure: Mapping[str, float | None],
        charged: Mapping[str, int],
    ) -> None: ...


class PhysicalSystem(ABC):
    """Base class of physical systems (simulated or hardware adapters).

    Attributes:
        timings: the device's declared timings (upload/settle, frame, readout), used to
            account device time (``queries.device_seconds``) and to plan runs.
        full_scale: the detector's full-scale reading, if known: a frame that reaches it is
            saturated and is not trusted.
    """

    full_scale: float | None = None

    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self.queries = QueryCounter()
        self.timings = DeviceTimings()
        self._displayed: dict[str, Tensor] = {}
        self._recorder: MeasurementRecorder | None = None
        self._inputs: tuple[str, Tensor] | None = None

    #: unit of :meth:`exposure` (recorded with the measurement log)
    exposure_unit = "s"

    def exposure(self, plane: str) -> float | None:
        """The detector exposure of ``plane`` for the frames just measured (in
        :attr:`exposure_unit`), where the system declares one."""
        return None

    # -- record and resume ------------------------------------------------------------------
    def attach_recorder(self, recorder: MeasurementRecorder | None) -> None:
        """Send every later measurement to ``recorder`` (``None`` stops recording)."""
        self._recorder = recorder

    @contextlib.contextmanager
    def input_ids(self, split: str, ids: Tensor) -> Iterator[None]:
        """Name the inputs of the measurements made inside: samples ``ids`` of ``split``
        ("train", "val", "test"). For the record only; measurements are unchanged."""
        previous, self._inputs = self._inputs, (split, ids)
        try:
            yield
        finally:
            self._inputs = previous

    def _generators(self) -> dict[str, torch.Generator]:
        """Random generators the system draws from (a simulation's detector noise, drift);
        checkpoints save their states so that a resumed run draws the same numbers."""
        return {}

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """What a resumed run needs of the system: counters, the displayed parameters (an
        unchanged setting is not uploaded again) and random states; tensors plus JSON."""
        tensors = {f"displayed/{k}": v.detach().cpu() for k, v in self._displayed.items()}
        for name, generator in self._generators().items():
            tensors[f"generator/{name}"] = generator.get_state()
        return tensors, {"queries": self.queries.as_dict()}

    def restore_checkpoint_state(self, tensors: Mapping[str, Tensor], meta: Mapping) -> None:
        self.queries = QueryCounter.from_dict(meta["queries"])
        self._displayed = {
            k.removeprefix("displayed/"): v.clone()
            for k, v in tensors.items()
            if k.startswith("displayed/")
        }
        for name, generator in self._generators().items():
            generator.set_state(tensors[f"generator/{name}"])

    def _record(self, params, fields, planes, block, start, began, frames_before) -> None:
        latency = time.perf_counter() - began
        charged = {  # frames the system spent on itself (dark frames, re-exposures)
            plane: count - frames_before.get(plane, 0)
            for plane, count in self.queries.frames.items()
            if count != frames_before.get(plane, 0)
        }
        self._recorder.record(
            params=params,
            fields=fields,
            planes=planes,
            block=block,
            inputs=self._inputs,
            start=start,
            latency=latency,
            exposure={plane: self.exposure(plane) for plane in planes},
            charged=charged,
        )

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
        self.queries.device_seconds += self.timings.seconds(0, int(changed))

    def _count_frames(self, plane: str, count: int) -> None:
        self.queries.add_frames(plane, count)
        self.queries.device_seconds += self.timings.seconds(count)

    #: whether :meth:`to` moves the system's computation to another torch device (a simulated
    #: device); systems that compute elsewhere (hardware, a server) take CPU tensors
    movable: bool = False

    def to(self, device: torch.device | str) -> PhysicalSystem:
        """Compute on ``device`` where the system is simulated (hardware: nothing to move).
        Measurements come back on the device of the fields sent."""
        return self

    def save_device(self, directory) -> None:  # noqa: B027 (optional hook)
        """Record what identifies this device in a run directory (nothing by default)."""

    def register_inputs(self, fields: Tensor, images: Tensor) -> None:  # noqa: B027
        """Note that ``fields`` is the twin's digital encoding of the raw ``images``.

        A system that encodes inputs on its own side (a remote device) then sends the images
        instead of the much larger fields; other systems ignore this.
        """

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the device (a remote device's lease); nothing by default."""

    def report(self) -> dict[str, object]:
        """What the session with the device cost beyond ``queries`` (e.g. re-measured frames,
        retries); empty by default."""
        return {}

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
        self._count_frames(OUTPUT_PLANE, batch)
        for k in taps:
            self._count_frames(tap_plane(k), batch)
        before, start, began = dict(self.queries.frames), time.time(), time.perf_counter()
        result = self._measure(params, fields, tuple(taps))
        if self._recorder is not None:
            planes = {OUTPUT_PLANE: result.output}
            planes.update({tap_plane(k): result.taps[k] for k in taps})
            self._record(params, fields, planes, None, start, began, before)
        return result

    def submit(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: Sequence[int] = ()
    ) -> PendingMeasurement:
        """Start :meth:`measure` and return at once, so that the trainer can compute what does
        not need the measurement while the device measures. An in-process system measures
        right away; a remote one measures in the background."""
        done = self.measure(params, fields, taps)
        return PendingMeasurement(lambda: done)

    def measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        """Drive block ``index`` alone with input ``fields``; return its output intensity."""
        if not self.capabilities.block_access:
            raise CapabilityError(
                "this system has no block-level access, which DAT's separable mode needs "
                "(each block driven with a chosen input and measured alone); use "
                "dat.internal_states=unitary or none"
            )
        self._count(params, fields.shape[0], block=True)
        self._count_frames(block_plane(index), fields.shape[0])
        before, start, began = dict(self.queries.frames), time.time(), time.perf_counter()
        result = self._measure_block(index, params, fields)
        if self._recorder is not None:
            planes = {block_plane(index): result}
            self._record(params, fields, planes, index, start, began, before)
        return result

    @abstractmethod
    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement: ...

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        raise CapabilityError("block-level measurement is not implemented by this system")


class LayerwiseSystem(PhysicalSystem):
    """A system measured layer by layer: subclasses provide ``_model`` (a PNN whose blocks
    are the layers), ``_program(params)`` (write the parameters to the hardware) and
    ``_layer(k, x)`` (one analog layer as the hardware computes it). The crossbars are."""

    _model: Any

    def _program(self, params: Mapping[str, Tensor]) -> None:
        raise NotImplementedError

    def _layer(self, k: int, x: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        self._program(params)
        x = fields
        states = {}
        for k in range(len(self._model.blocks)):
            x = self._layer(k, x)
            if k in taps:
                states[k] = x
        return Measurement(output=x, taps=states)

    @torch.no_grad()
    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        self._program(params)
        return self._layer(index, fields)
