"""An analog in-memory crossbar computing ``y = W x``: conductances, IR drop, DAC and ADC.

Units and conventions: a weight matrix ``W`` (out, in) is stored transposed in the array,
one row per input and one column per output (``(in, out)``). Each weight is a differential
pair of conductances ``g+ - g-`` in units of ``g_max``, after scaling by ``w_max = max|W|``
(digital, so ``y = w_max * s_x * (v @ (g+ - g-))``). Inputs are voltages in units of the DAC
full scale, after per-sample abs-max scaling ``s_x = max|x|``. A column current of 1 is one
cell at ``g_max`` driven at full scale. The sense amplifier (ADC) sits at the last row; the
row drivers at column 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "crossbar_matvec",
    "ir_drop_conductances",
    "program_cells",
    "quantise_signed",
    "weight_to_conductances",
]


def weight_to_conductances(weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Differential conductances ``(g+, g-)`` of shape (in, out) in [0, 1] and ``w_max``."""
    w_max = weight.detach().abs().max().clamp_min(1e-12)
    w = weight.detach().t() / w_max
    return w.clamp_min(0), (-w).clamp_min(0), w_max


def program_cells(
    target: Tensor, gain: Tensor, offset: Tensor, stuck_on: Tensor, stuck_off: Tensor
) -> Tensor:
    """Conductances a device realises for ``target`` (units of g_max): a fixed relative error
    ``gain`` and additive ``offset`` per cell, then stuck cells forced to 1 (on) or 0 (off)."""
    g = (target * (1 + gain) + offset).clamp_min(0)
    g = torch.where(stuck_on, torch.ones_like(g), g)
    return torch.where(stuck_off, torch.zeros_like(g), g)


def ir_drop_conductances(g: Tensor, wire: float) -> Tensor:
    """Effective conductances (in, out) under first-order IR drop on row and column wires.

    With wire resistance ``wire`` per cell (times g_max), the cell at row ``k`` of column
    ``j`` sees its column node raised by ``wire * sum_{s >= k} sum_{i <= s} g_ij v_i``
    (currents of the rows above flowing to the sense amplifier at the last row) and its row
    node lowered by ``wire * v_k * sum_{t < j} sum_{l > t} g_kl`` (current to the cells
    further along the row). To first order in ``wire`` the column current is then
    ``sum_k v_k g_kj (1 - wire (H_kj + R_kj))``: a fixed, weight-dependent matrix.
    """
    if wire == 0:
        return g
    g_cum = g.cumsum(dim=0)  # sum_{i <= s} g_ij
    col = g_cum.flip(0).cumsum(dim=0).flip(0)  # H_kj = sum_{s >= k} g_cum[s, j]
    beyond = g.sum(dim=1, keepdim=True) - g.cumsum(dim=1)  # sum_{l > t} g_kl
    row = torch.nn.functional.pad(beyond.cumsum(dim=1)[:, :-1], (1, 0))  # sum_{t < j}
    return (g * (1 - wire * (col + row))).clamp_min(0)


def quantise_signed(x: Tensor, bits: int | None, bound: float) -> Tensor:
    """Clip to ``[-bound, bound]`` and round to ``2**(bits-1) - 1`` steps per side
    (``bits=None``: clip only)."""
    x = x.clamp(-bound, bound)
    if bits is None:
        return x
    step = bound / (2 ** (bits - 1) - 1)
    return torch.round(x / step) * step


def crossbar_matvec(
    x: Tensor,
    g_pos: Tensor,
    g_neg: Tensor,
    *,
    dac_bits: int | None,
    adc_bits: int | None,
    adc_bound: float,
    read_noise: float,
    tile_rows: int,
    generator: torch.Generator | None,
) -> Tensor:
    """Column outputs ``(B, out)`` of inputs ``x`` (B, in) on conductances (in, out), in units
    of the unscaled product ``x @ (g+ - g-)``.

    Each sample is scaled by its abs-max and quantised by the DAC; each tile of
    ``tile_rows`` rows produces a column current with additive read noise (std
    ``read_noise``), clipped and quantised by its ADC; tiles' partial sums are added
    digitally and the input scale is restored.
    """
    scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    v = quantise_signed(x / scale, dac_bits, 1.0)
    out = torch.zeros(x.shape[0], g_pos.shape[1], dtype=x.dtype)
    for start in range(0, g_pos.shape[0], tile_rows):
        rows = slice(start, start + tile_rows)
        current = v[:, rows] @ (g_pos[rows] - g_neg[rows])
        if read_noise > 0:
            current = current + read_noise * torch.randn(
                current.shape, generator=generator, dtype=current.dtype
            )
        out = out + quantise_signed(current, adc_bits, adc_bound)
    return out * scale
