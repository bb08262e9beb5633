"""Frames that can be trusted: input ids, interleaved sentinels and the checks on a reply.

Every input row of a request gets a 63-bit id derived from the request id, the row's position
and its bytes; the device side returns with every frame the id of the input it measured, so a
dropped, duplicated or stale frame shows as ids that differ from those sent.

A device that returns every frame one position late (the classic trigger / frame-grabber
off-by-one) still returns the right ids, because its driver does not know. Sentinels catch
it: the same sentinel input is placed at ``count`` random positions of each request, never next
to each other. Measured twice with the same parameters, a sentinel gives the same frame (up
to detector noise), while the inputs next to it give other frames. If the frames at the
positions shifted by ``s`` agree better than at the sentinel positions themselves, the reply
is lagged by ``s``; if the sentinel frames disagree by more than ``tolerance`` (relative) and
by more than half as much as a sentinel frame differs from its neighbours, they do not come
from one input. Either way the reply is not trusted. (The comparison with the neighbours
lets a noisy detector pass: its repeated frames differ by the noise, distinct inputs by more.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "FramePlan",
    "check_frames",
    "input_ids",
    "plan_sentinels",
    "sentinel_image",
]

_ID_MASK = (1 << 63) - 1


def input_ids(request_id: str, rows: Tensor) -> Tensor:
    """One int64 id per row of ``rows``, tied to the request, the position and the bytes."""
    flat = rows.detach().cpu().contiguous()
    if flat.is_complex():
        flat = torch.view_as_real(flat)
    data = flat.numpy().reshape(flat.shape[0], -1)
    ids = []
    for i, row in enumerate(data):
        h = hashlib.blake2b(digest_size=8)
        h.update(f"{request_id}/{i}/".encode())
        h.update(row.tobytes())
        ids.append(int.from_bytes(h.digest(), "little") & _ID_MASK)
    return torch.tensor(ids, dtype=torch.int64)


def sentinel_image(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
    """A fixed input pattern in [0, 1] (a diagonal ramp with a bright corner square); complex
    dtypes give a field of that modulus with a phase ramp."""
    grids = torch.meshgrid(*[torch.linspace(0, 1, n) for n in shape], indexing="ij")
    ramp = sum(grids) / max(1, len(shape))
    corner = torch.ones(shape)
    for axis, n in enumerate(shape):
        idx = torch.arange(n).reshape([-1 if a == axis else 1 for a in range(len(shape))])
        corner = corner * (idx < max(1, n // 3))
    pattern = (0.25 + 0.5 * ramp + 0.25 * corner).clamp(0, 1)
    if dtype.is_complex:
        return torch.polar(pattern, 3.0 * ramp).to(dtype)
    return pattern.to(dtype)


@dataclass(frozen=True)
class FramePlan:
    """Where the sentinels sit among ``total`` rows of a request."""

    total: int
    sentinels: tuple[int, ...]

    @property
    def items(self) -> Tensor:
        """Positions of the caller's own inputs, in order."""
        keep = torch.ones(self.total, dtype=torch.bool)
        keep[list(self.sentinels)] = False
        return keep.nonzero().flatten()

    def interleave(self, rows: Tensor, sentinel: Tensor) -> Tensor:
        """The request's rows: ``rows`` in order with ``sentinel`` at the sentinel positions."""
        out = sentinel.to(rows.dtype).expand(self.total, *rows.shape[1:]).clone()
        out[self.items] = rows
        return out


def plan_sentinels(items: int, count: int, generator: torch.Generator) -> FramePlan:
    """Put ``count`` sentinels among ``items`` inputs, in distinct gaps (never adjacent)."""
    if count == 0:
        return FramePlan(items, ())
    if count < 2:
        raise ValueError("sentinel checks need at least 2 sentinels per request (or 0: off)")
    gaps = items + 1
    if count > gaps:
        count = gaps
    chosen = torch.randperm(gaps, generator=generator)[:count].sort().values.tolist()
    positions = tuple(gap + j for j, gap in enumerate(chosen))  # gap g sits before item g
    return FramePlan(items + count, positions)


def _relative_distance(a: Tensor, b: Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    scale = a.norm() + b.norm()
    return float((a - b).norm() / scale) if scale > 0 else 0.0


def _neighbour_distance(frames: Tensor, positions: tuple[int, ...]) -> float:
    """Mean relative distance between each sentinel frame and the frames next to it."""
    pairs = [(p, q) for p in positions for q in (p - 1, p + 1) if 0 <= q < frames.shape[0]]
    if not pairs:
        return float("inf")
    return sum(_relative_distance(frames[p], frames[q]) for p, q in pairs) / len(pairs)


def _sentinel_mismatch(frames: Tensor, positions: tuple[int, ...], shift: int) -> float:
    """Mean relative distance between the frames at sentinel positions moved by ``shift``."""
    moved = [p + shift for p in positions if 0 <= p + shift < frames.shape[0]]
    pairs = [(i, j) for n, i in enumerate(moved) for j in moved[n + 1 :]]
    if not pairs:
        return float("inf")
    return sum(_relative_distance(frames[i], frames[j]) for i, j in pairs) / len(pairs)


def check_frames(
    frames: dict[str, Tensor],
    ids: Tensor,
    sent_ids: Tensor,
    plan: FramePlan,
    *,
    tolerance: float,
    full_scale: float | None = None,
    max_shift: int = 2,
) -> str | None:
    """Why the frames of a reply cannot be trusted, or ``None`` if they pass every check.

    Args:
        frames: plane name -> ``(total, ...)`` measured frames.
        ids: the input id the device reports for every frame, ``(total,)``.
        sent_ids: the ids of the rows sent, ``(total,)``.
        plan: the sentinel positions of the request.
        tolerance: relative difference between two frames of the same sentinel accepted in
            any case (above it, only if much smaller than between distinct inputs).
        full_scale: the detector's full-scale reading (saturation), if known.
        max_shift: the largest frame lag looked for, in rows.
    """
    if ids.shape != sent_ids.shape or not torch.equal(ids, sent_ids):
        missing = len(set(sent_ids.tolist()) - set(ids.tolist()))
        extra = ids.shape[0] - sent_ids.shape[0] + missing
        return (
            f"frame ids do not match the inputs ({ids.shape[0]} frames for {sent_ids.shape[0]} "
            f"inputs, {missing} inputs without a frame, {extra} unexpected frames): dropped, "
            "duplicated or stale frames"
        )
    for plane, f in frames.items():
        if f.shape[0] != plan.total:
            return f"plane {plane}: {f.shape[0]} frames for {plan.total} inputs"
        if not torch.isfinite(f).all():
            return f"plane {plane}: frames with NaN or infinite values"
        if full_scale is not None:
            hit = (f.reshape(f.shape[0], -1) >= full_scale).any(dim=1)
            if hit.any():
                return (
                    f"plane {plane}: {int(hit.sum())} saturated frames (at the detector's full "
                    f"scale {full_scale:g})"
                )
        if len(plan.sentinels) >= 2:
            same = _sentinel_mismatch(f, plan.sentinels, 0)
            shifted = {
                s: _sentinel_mismatch(f, plan.sentinels, s)
                for s in range(-max_shift, max_shift + 1)
                if s != 0
            }
            best = min(shifted, key=shifted.get)
            apart = same > tolerance and same > 0.5 * _neighbour_distance(f, plan.sentinels)
            if shifted[best] < same or apart:
                lag = f" (best match {best:+d} frames off)" if shifted[best] < same else ""
                return (
                    f"plane {plane}: sentinel frames differ by {same:.3g} (tolerance "
                    f"{tolerance:g}){lag}: frames do not line up with their inputs"
                )
    return None
