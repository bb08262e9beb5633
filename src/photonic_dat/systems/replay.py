"""A physical system that serves a measurement log back (``system.kind: replay``).

Each request (block, displayed parameters, input fields, planes) is answered with the logged
measurement of exactly that request: the parameters and the inputs are matched by their
SHA-256, so that a run that repeats a logged one (same configuration and seed) receives the
same frames and ends with the same figures, bit for bit, without the device. A request made
several times (the same setting measured again) is answered by its logged occurrences in
order. A request the log does not hold fails loudly, naming what differs.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from photonic_dat.exceptions import DeviceError
from photonic_dat.io import atomic_write_text
from photonic_dat.systems.base import (
    OUTPUT_PLANE,
    Capabilities,
    Measurement,
    PhysicalSystem,
    block_plane,
    tap_plane,
)
from photonic_dat.systems.measurement_log import (
    LogReader,
    as_tensor,
    params_digest,
    tensor_digest,
)


class ReplaySystem(PhysicalSystem):
    """Serves the live calls of the measurement log in ``directory``.

    Args:
        directory: a run directory with ``measurements/`` or the log folder itself.
    """

    def __init__(self, directory: str | Path) -> None:
        self.log = LogReader(directory)
        info = self.log.info
        taps = tuple(int(k) for k in info.get("internal_taps", ()))
        super().__init__(Capabilities(taps, bool(info.get("block_access", False))))
        self._queues: dict[tuple, deque[int]] = defaultdict(deque)
        self._settings: set[bytes] = set()
        for i in range(len(self.log)):
            key = self.log.key(i)
            self._queues[key].append(i)
            self._settings.add(key[1])
        self._served = torch.zeros(len(self.log), dtype=torch.bool)

    def save_device(self, directory) -> None:
        """Name the log this run replays (``system/replay.json``)."""
        body = {"replay_of": str(self.log.directory.resolve()), "calls": len(self.log)}
        Path(directory).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(directory) / "replay.json", json.dumps(body, indent=2))

    def _serve(
        self, block: int | None, params: Mapping[str, Tensor], fields: Tensor, planes: list[str]
    ) -> dict[str, Tensor]:
        setting = params_digest(params)
        key = (block, setting, tensor_digest(fields), tuple(sorted(planes)))
        queue = self._queues.get(key)
        while queue and self._served[queue[0]]:
            queue.popleft()  # served before a checkpoint this run resumed from
        if not queue:
            what = (
                "these input fields with this setting"
                if setting in self._settings
                else "this parameter setting"
            )
            where = "the whole system" if block is None else f"block {block} alone"
            raise DeviceError(
                f"replay of {self.log.directory}: the log holds no further measurement of "
                f"{what} on {where} (planes {', '.join(planes)}); the run has left the "
                "logged one (another configuration, seed or code version?)"
            )
        i = queue.popleft()
        self._served[i] = True
        logged = self.log.call(i)
        for plane, frames in logged.charged.items():  # the device's own frames, counted again
            self.queries.add_frames(plane, frames)
        return {name: as_tensor(values) for name, values in logged.planes.items()}

    def _measure(
        self, params: Mapping[str, Tensor], fields: Tensor, taps: tuple[int, ...]
    ) -> Measurement:
        planes = [OUTPUT_PLANE, *(tap_plane(k) for k in taps)]
        served = self._serve(None, params, fields, planes)
        return Measurement(served[OUTPUT_PLANE], {k: served[tap_plane(k)] for k in taps})

    def _measure_block(self, index: int, params: Mapping[str, Tensor], fields: Tensor) -> Tensor:
        return self._serve(index, params, fields, [block_plane(index)])[block_plane(index)]

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors, meta = super().checkpoint_state()
        return {**tensors, "replay/served": self._served.clone()}, meta

    def restore_checkpoint_state(self, tensors: Mapping[str, Tensor], meta: Mapping) -> None:
        super().restore_checkpoint_state(tensors, meta)
        self._served = tensors["replay/served"].clone()
