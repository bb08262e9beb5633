"""Faults a simulated measurement server injects, so that tests can show none gets through.

A fault plan names, for the n-th measurement request the server receives (counting from 1,
retries and re-measurements included, across restarts), what goes wrong with it::

    delay@2=0.5,drop-reply@3,restart@5,duplicate-frame@7,frame-lag@9

Server faults: ``delay`` (seconds slept before replying), ``drop-reply`` (measured, reply
lost), ``restart`` (measured, then the server loses every session, cache and the device's
state, and binds again). Frame faults, as a faulty camera or frame grabber would make them:
``drop-frame``, ``duplicate-frame``, ``stale-frame`` (a frame of the previous request in
place of one of this one), ``frame-lag`` (every frame one position late, ids unchanged: the
driver does not know), ``saturate-frame`` (a frame at the detector's full scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from photonic_dat.exceptions import ConfigError

__all__ = ["FRAME_FAULTS", "SERVER_FAULTS", "FaultPlan", "apply_frame_fault"]

SERVER_FAULTS = ("delay", "drop-reply", "restart")
FRAME_FAULTS = (
    "drop-frame",
    "duplicate-frame",
    "stale-frame",
    "frame-lag",
    "saturate-frame",
)


@dataclass
class FaultPlan:
    """Faults by request ordinal: ``{3: {"drop-reply": None}, 2: {"delay": 0.5}}``."""

    events: dict[int, dict[str, float | None]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> FaultPlan:
        """``"kind@n[=value],..."`` (see the module docstring)."""
        events: dict[int, dict[str, float | None]] = {}
        for item in (text or "").replace(";", ",").split(","):
            item = item.strip()
            if not item:
                continue
            kind, _, rest = item.partition("@")
            where, _, value = rest.partition("=")
            if kind not in SERVER_FAULTS + FRAME_FAULTS:
                raise ConfigError(
                    f"fault {kind!r} unknown; known: {', '.join(SERVER_FAULTS + FRAME_FAULTS)}"
                )
            try:
                ordinal = int(where)
                amount = float(value) if value else None
            except ValueError:
                raise ConfigError(f"fault {item!r}: expected KIND@N or delay@N=SECONDS") from None
            if ordinal < 1:
                raise ConfigError(f"fault {item!r}: requests are counted from 1")
            if kind == "delay" and (amount is None or not 0 <= amount <= 3600):
                raise ConfigError(f"fault {item!r}: delay needs seconds, e.g. delay@{ordinal}=0.5")
            events.setdefault(ordinal, {})[kind] = amount
        return cls(events)

    def at(self, ordinal: int) -> dict[str, float | None]:
        return self.events.get(ordinal, {})

    def __bool__(self) -> bool:
        return bool(self.events)


def apply_frame_fault(
    kind: str,
    frames: dict[str, Tensor],
    ids: Tensor,
    previous: tuple[dict[str, Tensor], Tensor] | None,
    full_scale: float,
) -> tuple[dict[str, Tensor], Tensor]:
    """``frames`` (plane -> ``(T, ...)``) and their ``ids`` after a frame fault ``kind``."""
    total = ids.shape[0]
    j = total // 2
    if kind == "drop-frame":
        keep = torch.arange(total) != j
        return {p: f[keep] for p, f in frames.items()}, ids[keep]
    if kind == "duplicate-frame":
        order = torch.cat([torch.arange(j + 1), torch.arange(j, total)])
        return {p: f[order] for p, f in frames.items()}, ids[order]
    if kind in ("stale-frame", "frame-lag"):
        old_frames, old_ids = previous if previous is not None else (frames, ids)

        def leftover(plane: str) -> Tensor:  # the last frame the camera took before this one
            old = old_frames.get(plane)
            f = frames[plane]
            return old[-1] if old is not None and old.shape[1:] == f.shape[1:] else f[-1]

        if kind == "stale-frame":  # frame j replaced by the previous request's last frame
            out = {p: f.clone() for p, f in frames.items()}
            for p in out:
                out[p][j] = leftover(p)
            new_ids = ids.clone()
            new_ids[j] = old_ids[-1] if previous is not None else ids[-1]
            return out, new_ids
        # one frame late: frame r holds input r-1's measurement, frame 0 a leftover one
        out = {p: torch.cat([leftover(p)[None].to(f.dtype), f[:-1]]) for p, f in frames.items()}
        return out, ids
    if kind == "saturate-frame":
        out = {p: f.clone() for p, f in frames.items()}
        for f in out.values():
            f[j] = full_scale
        return out, ids
    raise ValueError(f"unknown frame fault {kind!r}")
