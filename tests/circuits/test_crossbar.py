"""Crossbar physics against direct computations of the same circuit."""

import pytest
import torch

from photonic_dat.circuits.crossbar import (
    crossbar_matvec,
    ir_drop_conductances,
    program_cells,
    quantise_signed,
    weight_to_conductances,
)


def test_differential_pair_represents_the_weights():
    w = torch.randn(5, 7)
    g_pos, g_neg, w_max = weight_to_conductances(w)
    assert g_pos.shape == (7, 5) and float(torch.maximum(g_pos, g_neg).max()) == 1.0
    assert bool(((g_pos == 0) | (g_neg == 0)).all())
    torch.testing.assert_close((g_pos - g_neg) * w_max, w.t())


def test_ideal_periphery_computes_the_matrix_product():
    x, w = torch.rand(4, 7), torch.randn(5, 7)
    g_pos, g_neg, w_max = weight_to_conductances(w)
    out = w_max * crossbar_matvec(
        x, g_pos, g_neg, dac_bits=None, adc_bits=None, adc_bound=1e9, read_noise=0.0,
        tile_rows=3, generator=None,
    )  # fmt: skip
    torch.testing.assert_close(out, x @ w.t())


def test_stuck_cells_ignore_what_is_programmed():
    target = torch.full((3, 2), 0.5)
    on = torch.zeros(3, 2, dtype=torch.bool)
    off = torch.zeros(3, 2, dtype=torch.bool)
    on[0, 0], off[1, 1] = True, True
    g = program_cells(target, torch.full((3, 2), 0.1), torch.zeros(3, 2), on, off)
    assert float(g[0, 0]) == 1.0 and float(g[1, 1]) == 0.0
    assert float(g[2, 0]) == pytest.approx(0.55)


def _column_current_first_order(v, g, wire):
    """Direct first-order IR drop of one sample: node voltages from the ideal currents."""
    rows, cols = g.shape
    total = torch.zeros(cols, dtype=torch.float64)
    for j in range(cols):
        for k in range(rows):
            # column wire: currents of rows <= s flow through segment s (sensed at the end)
            col_drop = sum(sum(float(g[i, j] * v[i]) for i in range(s + 1)) for s in range(k, rows))
            # row wire: currents of the cells beyond column t flow through segment t
            row_drop = float(v[k]) * sum(
                sum(float(g[k, l]) for l in range(t + 1, cols)) for t in range(j)
            )
            total[j] += float(g[k, j]) * (float(v[k]) - wire * (col_drop + row_drop))
    return total


def test_first_order_ir_drop_matches_the_circuit_sums():
    torch.manual_seed(0)
    g = torch.rand(6, 4, dtype=torch.float64)
    v = torch.rand(6, dtype=torch.float64)
    wire = 1e-3
    effective = ir_drop_conductances(g, wire)
    torch.testing.assert_close(v @ effective, _column_current_first_order(v, g, wire))
    assert bool((effective <= g).all())  # IR drop only ever lowers the currents


def test_adc_clips_and_quantises():
    x = torch.tensor([-20.0, -0.04, 0.26, 20.0])
    q = quantise_signed(x, 3, 1.0)  # 3 levels per side: steps of 1/3
    torch.testing.assert_close(q, torch.tensor([-1.0, 0.0, 1 / 3, 1.0]))
    assert quantise_signed(x, None, 2.0).abs().max() == 2.0


def test_read_noise_is_fresh_per_read_and_seeded():
    x, w = torch.rand(3, 8), torch.randn(4, 8)
    g_pos, g_neg, _ = weight_to_conductances(w)
    kwargs = dict(dac_bits=8, adc_bits=9, adc_bound=12.0, read_noise=0.05, tile_rows=4)
    gen = torch.Generator().manual_seed(1)
    a = crossbar_matvec(x, g_pos, g_neg, generator=gen, **kwargs)
    b = crossbar_matvec(x, g_pos, g_neg, generator=gen, **kwargs)
    again = crossbar_matvec(x, g_pos, g_neg, generator=torch.Generator().manual_seed(1), **kwargs)
    assert not torch.equal(a, b)
    torch.testing.assert_close(a, again)
